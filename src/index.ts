/**
 * rlcore: reinforcement-learning kernels for Node.js, in C++ and CUDA behind a thin TypeScript layer.
 * @packageDocumentation
 */
export { RlcoreError, type RlcoreErrorCode } from './errors.js';
export { backends, resolveDevice, setNumThreads, type Backends, type CudaDeviceInfo, type Device } from './device.js';
export type { AddonSource } from './native.js';
export { gae, gaeAsync, type GaeOptions, type GaeResult } from './kernels/gae.js';
export { tokenGae, tokenGaeAsync, type TokenGaeOptions, type TokenGaeResult } from './kernels/token_gae.js';
export { whiten, whitenAsync, type WhitenOptions, type WhitenResult } from './kernels/normalize.js';
export {
  groupNormalize,
  groupNormalizeAsync,
  type GroupNormalizeMode,
  type GroupNormalizeOptions,
  type GroupNormalizeResult,
} from './kernels/group_normalize.js';
export { lambdaReturns, lambdaReturnsAsync, type LambdaReturnsOptions, type LambdaReturnsResult } from './kernels/lambda_returns.js';
export { discountedReturns, discountedReturnsAsync, type DiscountedReturnsOptions, type DiscountedReturnsResult } from './kernels/discounted_returns.js';
export { nstepReturns, nstepReturnsAsync, type NstepReturnsOptions, type NstepReturnsResult } from './kernels/nstep_returns.js';
export { vtrace, vtraceAsync, type VtraceOptions, type VtraceResult } from './kernels/vtrace.js';
export {
  categoricalBackward, categoricalBackwardAsync, categoricalLogProb, categoricalLogProbAsync, categoricalSample, categoricalSampleAsync,
  type CategoricalBackwardOptions, type CategoricalBackwardResult, type CategoricalBase, type CategoricalLogProbOptions,
  type CategoricalLogProbResult, type CategoricalSampleOptions, type CategoricalSampleResult,
} from './dist/categorical.js';
export {
  gaussianBackward, gaussianBackwardAsync, gaussianLogProb, gaussianLogProbAsync, gaussianSample, gaussianSampleAsync,
  type GaussianBackwardOptions, type GaussianBackwardResult, type GaussianBase, type GaussianLogProbOptions,
  type GaussianLogProbResult, type GaussianSampleOptions, type GaussianSampleResult,
} from './dist/gaussian.js';
export {
  squashedGaussianBackward, squashedGaussianBackwardAsync, squashedGaussianSample, squashedGaussianSampleAsync,
  type SquashedGaussianBackwardOptions, type SquashedGaussianBackwardResult, type SquashedGaussianBase,
  type SquashedGaussianSampleOptions, type SquashedGaussianSampleResult,
} from './dist/squashed_gaussian.js';
export { ppoLoss, ppoLossAsync, type PpoLossOptions, type PpoLossResult } from './losses/ppo.js';
export { valueLoss, valueLossAsync, type ValueLossOptions, type ValueLossResult } from './losses/value.js';
export { tdLoss, tdLossAsync, type TdLossOptions, type TdLossResult } from './losses/td.js';
