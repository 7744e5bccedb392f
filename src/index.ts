/**
 * rlcore: reinforcement-learning kernels for Node.js, in C++ and CUDA behind a thin TypeScript layer.
 * @packageDocumentation
 */
export { RlcoreError, type RlcoreErrorCode } from './errors.js';
export { backends, resolveDevice, setNumThreads, type Backends, type CudaDeviceInfo, type Device } from './device.js';
export type { AddonSource } from './native.js';
export { gae, gaeAsync, type GaeOptions, type GaeResult } from './kernels/gae.js';
export type { BootstrapOptions } from './kernels/bootstrap.js';
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
export type { Action, ActionSpace, Env, ResetOptions, ResetResult, StepResult, VectorBuffers, VectorEnv } from './envs/env.js';
export { Box, Discrete, MultiDiscrete, type BoxDtype, type Space } from './envs/spaces.js';
export { RandomStream, philox4x32 } from './envs/random.js';
export { SyncVectorEnv } from './envs/sync_vector_env.js';
export { NativeVectorEnv, type NativeVectorEnvOptions } from './envs/native_vector_env.js';
export { CartPoleEnv, CARTPOLE_THETA_THRESHOLD, CARTPOLE_X_THRESHOLD, type CartPoleOptions } from './envs/cartpole.js';
export { CLASSIC_CONTROL, type NativeEnvSpec } from './envs/classic_control.js';
export { make, makeEnv, register, registeredEnvs, type EnvRegistration, type MakeOptions } from './envs/registry.js';
export { RunningMeanStd, type RunningMeanStdState } from './envs/running_stats.js';
export {
  ClipAction, ClipObservation, ClipReward, NormalizeObservation, NormalizeReward, RecordEpisodeStatistics, RescaleAction, TimeLimit, VectorWrapper,
  type EpisodeRecord, type NormalizeObservationOptions, type NormalizeRewardOptions,
} from './envs/wrappers.js';
export {
  animate, renderEpisode, renderRgb, renderSvg, writeEpisode,
  type AnimateOptions, type RenderedEpisode, type RenderEpisodeOptions, type RenderOptions, type RgbFrame,
} from './envs/render.js';
export { Sequential, Mlp, type LayerSpec, type SequentialOptions, type MlpOptions, type ParamInfo, type ParamView } from './nn/mlp.js';
export { orthogonal, initLinear, defaultGain, randomUniform, randomNormal, type InitScheme, type LinearInit } from './nn/init.js';
export { Adam, AdamW, Sgd, clipGradNorm, gradNorm, polyakUpdate, type AdamOptions, type SgdOptions, type Optimizer, type Parametrized, type ClipGradNormOptions, type PolyakOptions } from './nn/optim.js';
export { serializeSafetensors, parseSafetensors, saveSafetensors, loadSafetensors, networkTensors, loadNetworkTensors, saveCheckpoint, loadCheckpoint, type Tensor, type CheckpointOptions, type SafetensorsContents } from './nn/safetensors.js';
export {
  ReplayBuffer, type ReplayArray, type ReplayBatch, type ReplayBufferOptions, type ReplayDtype, type ReplayEpisodes, type ReplayField, type ReplayInsert,
  type ReplaySampleOptions, type ReplaySequences, type ReplayStats,
} from './replay/replay.js';
export { permutation, gatherRows, type PermutationOptions, type GatherRowsOptions } from './kernels/permutation.js';
export { ppo, ppoDefaults, checkPpoConfig, PpoRun, type PpoConfig } from './algos/ppo.js';
export { a2c, a2cDefaults } from './algos/a2c.js';
export { ALGORITHMS } from './algos/registry.js';
export type { AlgorithmRun, AlgorithmSpec, CommonConfig, FinishedEpisodes, Metrics, RunState } from './algos/base.js';
export { tokenLogProbs, tokenLogProbsAsync, tokenLogProbsBackward, tokenLogProbsBackwardAsync, type TokenLogProbsBase, type TokenLogProbsOptions, type TokenLogProbsResult, type TokenLogProbsBackwardOptions, type TokenLogProbsBackwardResult } from './llm/token_logprobs.js';
export { policyLoss, policyLossAsync, type PolicyLossKind, type LossAggregation, type KlEstimatorKind, type PolicyLossOptions, type PolicyLossResult } from './llm/policy_loss.js';
export { tokenKl, type TokenKlOptions, type TokenKlResult } from './llm/kl.js';
export { preferenceLoss, cplLoss, type PreferenceLossKind, type PreferenceLossOptions, type PreferenceLossResult, type CplLossOptions, type CplLossResult } from './llm/preference.js';
export { DigitSumTask, DigitSumEnv, registerDigitSum, type DigitSumOptions } from './llm/digit_sum.js';
export { grpo, DIGIT_SUM_ENV, type GrpoConfig } from './algos/grpo.js';
