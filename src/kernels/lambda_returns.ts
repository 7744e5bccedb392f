import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkNoAlias, checkShape, checkStepParam, outArray, requireArray, shapeText } from '../validate.js';

/** Inputs of {@link lambdaReturns}. All arrays are time-major `[T, N]` (index `t * N + n`) unless noted. */
export interface LambdaReturnsOptions {
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
  /** Trace parameter λ in [0, 1]: a number, or a Float32Array of shape `[T]` or `[T, N]`. Default 0.95. */
  lambda?: number | Float32Array;
  /** Caller-provided output; when given, nothing is allocated. */
  out?: Partial<LambdaReturnsResult>;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Outputs of {@link lambdaReturns}. */
export interface LambdaReturnsResult {
  /** `[T, N]` λ-returns G^λ_t. */
  returns: Float32Array;
}

function prepare(o: LambdaReturnsOptions): { args: unknown[]; result: LambdaReturnsResult } {
  const k = 'lambdaReturns';
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
  const lambda = checkStepParam(k, 'lambda', o.lambda, T, N, 0, 1, 0.95);
  const returns = outArray(k, 'out.returns', o.out?.returns, Float32Array, T * N, tn);
  checkNoAlias(k, 'out.returns', returns, { rewards, values, terminated, truncated, nextValues, lastValues, finalValues });
  const useCuda = resolveDevice(o.device) === 'cuda';
  return {
    args: [T, N, rewards, values, terminated, truncated, nextValues, lastValues, finalValues, gamma, lambda, returns, useCuda],
    result: { returns },
  };
}

/**
 * TD(λ) returns (Sutton & Barto 2018, "Reinforcement Learning: An Introduction", ch. 12; rlax
 * `lambda_returns`) over time-major `[T, N]` batches, with Gymnasium's termination/truncation split:
 *
 * ```text
 * v'_t = V(s_{t+1})   (at a truncated step: V of the final observation; lastValues after step T-1)
 * λ'_t = λ_t (1 - done_t),   done_t = term_t or trunc_t,   λ'_{T-1} = 0
 * G_t  = r_t + γ_t (1 - term_t) [ (1 - λ'_t) v'_t + λ'_t G_{t+1} ]
 * ```
 *
 * A terminated step does not bootstrap; a truncated step bootstraps fully from `finalValues`;
 * the last step bootstraps fully from v'_{T-1}. The result equals `gae(...).returns` (the GAE
 * advantages plus the values) for the same inputs. λ = 1 gives discounted Monte-Carlo returns
 * bootstrapped at the batch end, λ = 0 one-step TD targets. Accumulates in float64.
 *
 * @example
 * ```ts
 * const { returns } = lambdaReturns({ shape: [T, N], rewards, values, terminated, lastValues, gamma: 0.99, lambda: 0.95 });
 * ```
 */
export function lambdaReturns(options: LambdaReturnsOptions): LambdaReturnsResult {
  const { args, result } = prepare(options);
  native().lambdaReturns(...args, false);
  return result;
}

/** {@link lambdaReturns} on a libuv worker thread: the event loop stays free. Do not touch the arrays until it settles. */
export async function lambdaReturnsAsync(options: LambdaReturnsOptions): Promise<LambdaReturnsResult> {
  const { args, result } = prepare(options);
  await native().lambdaReturns(...args, true);
  return result;
}
