import { resolveDevice, type Device } from '../device.js';
import { native } from '../native.js';
import { checkArray, checkShape, checkStepParam, outArray, requireArray, shapeText } from '../validate.js';

/** Inputs of {@link discountedReturns}. All arrays are time-major `[T, N]` (index `t * N + n`) unless noted. */
export interface DiscountedReturnsOptions {
  /** `[T, N]`: T steps of N parallel environments. */
  shape: [T: number, N: number];
  /** `[T, N]` rewards r_t. */
  rewards: Float32Array;
  /** `[T, N]` 1 where the episode terminated at step t (the sum stops there). Omitted: none. */
  terminated?: Uint8Array;
  /**
   * `[T, N]` 1 where the episode was truncated at step t: the sum stops there and, when
   * `finalValues` is given, adds γ_t V(final observation). Omitted: none.
   */
  truncated?: Uint8Array;
  /** `[N]` bootstrap G_T for the steps after the batch (e.g. V(s_T)). Omitted: 0 (no bootstrap). */
  lastValues?: Float32Array;
  /**
   * `[T, N]` V(final observation), read only where `truncated` is set. Omitted: a truncated step
   * ends its episode's sum with no bootstrap, exactly like a terminated one.
   */
  finalValues?: Float32Array;
  /** Discount γ in [0, 1]: a number, or a Float32Array of shape `[T]` or `[T, N]`. Default 0.99. */
  gamma?: number | Float32Array;
  /** Caller-provided output; when given, nothing is allocated. */
  out?: Partial<DiscountedReturnsResult>;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Outputs of {@link discountedReturns}. */
export interface DiscountedReturnsResult {
  /** `[T, N]` discounted returns (reward-to-go) G_t. */
  returns: Float32Array;
}

function prepare(o: DiscountedReturnsOptions): { args: unknown[]; result: DiscountedReturnsResult } {
  const k = 'discountedReturns';
  const [T, N] = checkShape(k, 'shape', o?.shape, ['T', 'N']);
  const tn = () => shapeText(['T', 'N'], [T, N]); // built only for an error message
  const rewards = requireArray(k, 'rewards', o.rewards, Float32Array, T * N, tn);
  const terminated = checkArray(k, 'terminated', o.terminated, Uint8Array, T * N, tn, true);
  const truncated = checkArray(k, 'truncated', o.truncated, Uint8Array, T * N, tn, true);
  const lastValues = checkArray(k, 'lastValues', o.lastValues, Float32Array, N, () => shapeText(['N'], [N]), true);
  const finalValues = checkArray(k, 'finalValues', o.finalValues, Float32Array, T * N, tn, true);
  const gamma = checkStepParam(k, 'gamma', o.gamma, T, N, 0, 1, 0.99);
  const returns = outArray(k, 'out.returns', o.out?.returns, Float32Array, T * N, tn);
  // An output sharing memory with an input is rejected natively.
  const useCuda = resolveDevice(o.device) === 'cuda';
  return {
    args: [T, N, rewards, terminated, truncated, lastValues, finalValues, gamma, returns, useCuda],
    result: { returns },
  };
}

/**
 * Discounted returns, "reward-to-go" (Sutton & Barto 2018, ch. 3; the Monte-Carlo target of
 * REINFORCE, Williams 1992), over time-major `[T, N]` batches:
 *
 * ```text
 * G_t = r_t + γ_t (1 - done_t) G_{t+1} + trunc_t γ_t V(final obs_t),   done_t = term_t or trunc_t
 * G_T = lastValues (default 0)
 * ```
 *
 * Every episode end stops the sum. A truncated step adds the discounted value of its final
 * observation when `finalValues` is given; without it, it bootstraps nothing (as a terminated
 * step). Accumulates in float64; for one column with a scalar γ where AVX-512 is compiled in,
 * sums within blocks of 16 steps are float32 and the value carried from block to block float64.
 *
 * @example
 * ```ts
 * const { returns } = discountedReturns({ shape: [T, N], rewards, terminated, gamma: 0.99 });
 * ```
 */
export function discountedReturns(options: DiscountedReturnsOptions): DiscountedReturnsResult {
  const { args, result } = prepare(options);
  native().discountedReturns(...args, false);
  return result;
}

/** {@link discountedReturns} on a libuv worker thread: the event loop stays free. Do not touch the arrays until it settles. */
export async function discountedReturnsAsync(options: DiscountedReturnsOptions): Promise<DiscountedReturnsResult> {
  const { args, result } = prepare(options);
  await native().discountedReturns(...args, true);
  return result;
}
