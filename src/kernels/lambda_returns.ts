import { native } from '../native.js';
import { checkBootstrap, type BootstrapOptions } from './bootstrap.js';
import { checkStepParam, outArray } from '../validate.js';

/** Inputs of {@link lambdaReturns}. See {@link BootstrapOptions} for the shared `[T, N]` inputs. */
export interface LambdaReturnsOptions extends BootstrapOptions {
  /** Trace parameter λ in [0, 1]: a number, or a Float32Array of shape `[T]` or `[T, N]`. Default 0.95. */
  lambda?: number | Float32Array;
  /** Caller-provided output; when given, nothing is allocated. */
  out?: Partial<LambdaReturnsResult>;
}

/** Outputs of {@link lambdaReturns}. */
export interface LambdaReturnsResult {
  /** `[T, N]` λ-returns G^λ_t. */
  returns: Float32Array;
}

function prepare(o: LambdaReturnsOptions): { args: unknown[]; result: LambdaReturnsResult } {
  const k = 'lambdaReturns';
  const b = checkBootstrap(k, o);
  const { T, N, tn } = b; // outputs aliasing inputs are rejected natively
  const lambda = checkStepParam(k, 'lambda', o.lambda, T, N, 0, 1, 0.95);
  const returns = outArray(k, 'out.returns', o.out?.returns, Float32Array, T * N, tn);
  return {
    args: [...b.leading, b.gamma, lambda, returns, b.useCuda],
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
