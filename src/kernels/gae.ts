import { native } from '../native.js';
import { checkBootstrap, type BootstrapOptions } from './bootstrap.js';
import { checkStepParam, outArray } from '../validate.js';

/** Inputs of {@link gae}. See {@link BootstrapOptions} for the shared `[T, N]` inputs. */
export interface GaeOptions extends BootstrapOptions {
  /** GAE λ in [0, 1]: a number, or a Float32Array of shape `[T]` or `[T, N]`. Default 0.95. */
  lambda?: number | Float32Array;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<GaeResult>;
}

/** Outputs of {@link gae}. */
export interface GaeResult {
  /** `[T, N]` advantages A_t. */
  advantages: Float32Array;
  /** `[T, N]` value targets A_t + V(s_t). */
  returns: Float32Array;
}

function prepare(o: GaeOptions): { args: unknown[]; result: GaeResult } {
  const k = 'gae';
  const b = checkBootstrap(k, o);
  const { T, N, tn } = b; // outputs aliasing inputs are rejected natively
  const lambda = checkStepParam(k, 'lambda', o.lambda, T, N, 0, 1, 0.95);
  const advantages = outArray(k, 'out.advantages', o.out?.advantages, Float32Array, T * N, tn);
  const returns = outArray(k, 'out.returns', o.out?.returns, Float32Array, T * N, tn);
  return {
    args: [...b.leading, b.gamma, lambda, advantages, returns, b.useCuda],
    result: { advantages, returns },
  };
}

/**
 * Generalized Advantage Estimation (Schulman et al. 2016, arXiv:1506.02438) over time-major
 * `[T, N]` batches, with Gymnasium's termination/truncation split:
 *
 * ```text
 * v'_t = V(s_{t+1})   (at a truncated step: V of the final observation)
 * δ_t  = r_t + γ_t (1 - term_t) v'_t - V(s_t)
 * A_t  = δ_t + γ_t λ_t (1 - done_t) A_{t+1},   done_t = term_t or trunc_t
 * G_t  = A_t + V(s_t)
 * ```
 *
 * A terminated step does not bootstrap; a truncated step bootstraps from `finalValues`; either
 * one cuts the λ-trace. Accumulates in float64; NaN or Inf in the data propagate to the outputs
 * of the affected column (they are not checked).
 *
 * @example
 * ```ts
 * const { advantages, returns } = gae({ shape: [T, N], rewards, values, terminated, lastValues, gamma: 0.99, lambda: 0.95 });
 * ```
 */
export function gae(options: GaeOptions): GaeResult {
  const { args, result } = prepare(options);
  native().gae(...args, false);
  return result;
}

/** {@link gae} on a libuv worker thread: the event loop stays free. Do not touch the arrays until it settles. */
export async function gaeAsync(options: GaeOptions): Promise<GaeResult> {
  const { args, result } = prepare(options);
  await native().gae(...args, true);
  return result;
}
