import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkBootstrap, type BootstrapOptions } from './bootstrap.js';
import { checkNumber, outArray } from '../validate.js';

/** Inputs of {@link nstepReturns}. See {@link BootstrapOptions} for the shared `[T, N]` inputs. */
export interface NstepReturnsOptions extends BootstrapOptions {
  /** Steps per window: an integer >= 1 (n >= T: every window runs to its episode end or the batch end). */
  n: number;
  /** Caller-provided output; when given, nothing is allocated. */
  out?: Partial<NstepReturnsResult>;
}

/** Outputs of {@link nstepReturns}. */
export interface NstepReturnsResult {
  /** `[T, N]` n-step returns G^(n)_t. */
  returns: Float32Array;
}

function prepare(o: NstepReturnsOptions): { args: unknown[]; result: NstepReturnsResult } {
  const k = 'nstepReturns';
  const b = checkBootstrap(k, o);
  const { T, N, tn } = b; // outputs aliasing inputs are rejected natively
  const n = checkNumber(k, 'n', o.n, 1, 2 ** 40);
  if (!Number.isInteger(n)) throw new RlcoreError('ERR_RANGE', `${k}: n must be an integer >= 1; received ${n}`);
  const returns = outArray(k, 'out.returns', o.out?.returns, Float32Array, T * N, tn);
  return {
    args: [...b.leading, b.gamma, n, returns, b.useCuda],
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
