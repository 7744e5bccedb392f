// The inputs shared by the bootstrapped return estimators over time-major [T, N] batches
// (gae, lambdaReturns, nstepReturns, vtrace), and their validation.
import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { checkArray, checkShape, checkStepParam, requireArray, shapeText } from '../validate.js';

/** Inputs shared by the return estimators. All arrays are time-major `[T, N]` (index `t * N + n`) unless noted. */
export interface BootstrapOptions {
  /** `[T, N]`: T steps of N parallel environments. */
  shape: [T: number, N: number];
  /** `[T, N]` rewards r_t. */
  rewards: Float32Array;
  /** `[T, N]` value estimates V(s_t). */
  values: Float32Array;
  /** `[T, N]` 1 where the episode terminated at step t (no bootstrap). Omitted: none. */
  terminated?: Uint8Array;
  /** `[T, N]` 1 where the episode was truncated at step t (bootstraps from `finalValues`). Omitted: none. */
  truncated?: Uint8Array;
  /**
   * `[T, N]` V(s_{t+1}) for every step, given in full (at truncated steps: V of the final
   * observation). When omitted, it is `values[t + 1]`, `lastValues` at t = T-1, and
   * `finalValues` at truncated steps.
   */
  nextValues?: Float32Array;
  /** `[N]` V(s_T), the value of the state after the last step. Omitted: 0. */
  lastValues?: Float32Array;
  /** `[T, N]` V(final observation), read only where `truncated` is set. Required with `truncated` unless `nextValues` is given. */
  finalValues?: Float32Array;
  /** Discount γ in [0, 1]: a number, or a Float32Array of shape `[T]` or `[T, N]`. Default 0.99. */
  gamma?: number | Float32Array;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Checked {@link BootstrapOptions}, ready for the native call. */
export interface BootstrapArgs {
  /** Steps. */
  T: number;
  /** Columns (environments). */
  N: number;
  /** The `[T, N]` shape for messages. */
  tn: () => string;
  /** The leading native arguments: T, N, rewards, values, terminated, truncated, nextValues, lastValues, finalValues. */
  leading: unknown[];
  /** Checked γ. */
  gamma: number | Float32Array;
  /** Whether the kernel runs on CUDA. */
  useCuda: boolean;
}

/** Validates the shared inputs (outputs aliasing inputs are rejected natively). */
export function checkBootstrap(k: string, o: BootstrapOptions): BootstrapArgs {
  const [T, N] = checkShape(k, 'shape', o?.shape, ['T', 'N']);
  const tn = () => shapeText(['T', 'N'], [T, N]);
  const rewards = requireArray(k, 'rewards', o.rewards, Float32Array, T * N, tn);
  const values = requireArray(k, 'values', o.values, Float32Array, T * N, tn);
  const terminated = checkArray(k, 'terminated', o.terminated, Uint8Array, T * N, tn, true);
  const truncated = checkArray(k, 'truncated', o.truncated, Uint8Array, T * N, tn, true);
  const nextValues = checkArray(k, 'nextValues', o.nextValues, Float32Array, T * N, tn, true);
  const lastValues = checkArray(k, 'lastValues', o.lastValues, Float32Array, N, () => shapeText(['N'], [N]), true);
  const finalValues = checkArray(k, 'finalValues', o.finalValues, Float32Array, T * N, tn, true);
  if (truncated && !nextValues && !finalValues) {
    throw new RlcoreError('ERR_ARG', `${k}: truncated steps need finalValues ([T, N], V of the final observation) or nextValues`);
  }
  return {
    T,
    N,
    tn,
    leading: [T, N, rewards, values, terminated, truncated, nextValues, lastValues, finalValues],
    gamma: checkStepParam(k, 'gamma', o.gamma, T, N, 0, 1, 0.99),
    useCuda: resolveDevice(o.device) === 'cuda',
  };
}
