import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkNoAlias, checkNumber, checkShape, checkStepParam, outArray, requireArray, shapeText } from '../validate.js';

/** Inputs of {@link nstepReturns}. All arrays are time-major `[T, N]` (index `t * N + n`) unless noted. */
export interface NstepReturnsOptions {
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
  /** Steps per window: an integer >= 1 (n >= T: every window runs to its episode end or the batch end). */
  n: number;
  /** Caller-provided output; when given, nothing is allocated. */
  out?: Partial<NstepReturnsResult>;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Outputs of {@link nstepReturns}. */
export interface NstepReturnsResult {
  /** `[T, N]` n-step returns G^(n)_t. */
  returns: Float32Array;
}

function prepare(o: NstepReturnsOptions): { args: unknown[]; result: NstepReturnsResult } {
  const k = 'nstepReturns';
  const [T, N] = checkShape(k, 'shape', o?.shape, ['T', 'N']);
  const tn = shapeText(['T', 'N'], [T, N]);
  const rewards = requireArray(k, 'rewards', o.rewards, Float32Array, T * N, tn);
  const values = requireArray(k, 'values', o.values, Float32Array, T * N, tn);
  const terminated = checkArray(k, 'terminated', o.terminated, Uint8Array, T * N, tn, true);
  const truncated = checkArray(k, 'truncated', o.truncated, Uint8Array, T * N, tn, true);
  const nextValues = checkArray(k, 'nextValues', o.nextValues, Float32Array, T * N, tn, true);
  const lastValues = checkArray(k, 'lastValues', o.lastValues, Float32Array, N, shapeText(['N'], [N]), true);
  const finalValues = checkArray(k, 'finalValues', o.finalValues, Float32Array, T * N, tn, true);
  if (truncated && !nextValues && !finalValues) {
    throw new RlcoreError('ERR_ARG', `${k}: truncated steps need finalValues ([T, N], V of the final observation) or nextValues`);
  }
  const gamma = checkStepParam(k, 'gamma', o.gamma, T, N, 0, 1, 0.99);
  const n = checkNumber(k, 'n', o.n, 1, 2 ** 40);
  if (!Number.isInteger(n)) throw new RlcoreError('ERR_RANGE', `${k}: n must be an integer >= 1; received ${n}`);
  const returns = outArray(k, 'out.returns', o.out?.returns, Float32Array, T * N, tn);
  checkNoAlias(k, 'out.returns', returns, { rewards, values, terminated, truncated, nextValues, lastValues, finalValues });
  const useCuda = resolveDevice(o.device) === 'cuda';
  return {
    args: [T, N, rewards, values, terminated, truncated, nextValues, lastValues, finalValues, gamma, n, returns, useCuda],
    result: { returns },
  };
}

/**
 * n-step bootstrapped returns (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement
 * Learning", arXiv:1602.01783; rlax `n_step_bootstrapped_returns`) over time-major `[T, N]`
 * batches, with Gymnasium's termination/truncation split:
 *
 * ```text
 * G_t = Σ_{k<m} Γ_{t,k} r_{t+k} + Γ_{t,m} (1 - term_{t+m-1}) v'_{t+m-1},   Γ_{t,k} = γ_t γ_{t+1} ... γ_{t+k-1}
 * m   = min(n, steps up to and including the first episode end at or after t, T - t)
 * ```
 *
 * v' is the next value as in {@link gae}: `values[t + 1]`, `lastValues` after the last step,
 * `finalValues` at a truncated step, or `nextValues` when given. n = 1 gives one-step TD targets;
 * n >= T gives the λ = 1 returns. Cost O(T·N·n); rows run in parallel. Accumulates in float64.
 *
 * @example
 * ```ts
 * const { returns } = nstepReturns({ shape: [T, N], rewards, values, terminated, lastValues, gamma: 0.99, n: 5 });
 * ```
 */
export function nstepReturns(options: NstepReturnsOptions): NstepReturnsResult {
  const { args, result } = prepare(options);
  native().nstepReturns(...args, false);
  return result;
}

/** {@link nstepReturns} on a libuv worker thread: the event loop stays free. Do not touch the arrays until it settles. */
export async function nstepReturnsAsync(options: NstepReturnsOptions): Promise<NstepReturnsResult> {
  const { args, result } = prepare(options);
  await native().nstepReturns(...args, true);
  return result;
}
