import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkBootstrap, type BootstrapOptions } from './bootstrap.js';
import { checkStepParam, outArray, requireArray } from '../validate.js';

/** Inputs of {@link vtrace}. See {@link BootstrapOptions} for the shared `[T, N]` inputs. */
export interface VtraceOptions extends BootstrapOptions {
  /** `[T, N]` log π(a_t|s_t) − log μ(a_t|s_t): target-policy minus behaviour-policy log-probabilities. */
  logRhos: Float32Array;
  /** Trace parameter λ in [0, 1] scaling the traces c_t: a number, or a Float32Array of shape `[T]` or `[T, N]`. Default 1. */
  lambda?: number | Float32Array;
  /** ρ̄, the clip on the importance weights of the TD errors: finite, > 0. Default 1. */
  clipRhoThreshold?: number;
  /** c̄, the clip on the trace coefficients: finite, > 0. Default 1. */
  clipCThreshold?: number;
  /** ρ̄_pg, the clip on the importance weights of the policy-gradient advantages: finite, > 0. Default 1. */
  clipPgRhoThreshold?: number;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<VtraceResult>;
}

/** Outputs of {@link vtrace}. */
export interface VtraceResult {
  /** `[T, N]` V-trace value targets v_t. */
  vs: Float32Array;
  /** `[T, N]` policy-gradient advantages min(ρ̄_pg, ρ_t) (r_t + γ_t ṽ_{t+1} − V(s_t)). */
  pgAdvantages: Float32Array;
}

const FLOAT32_MAX = 3.4028234663852886e38;

function checkThreshold(k: string, name: string, v: unknown): number {
  if (v === undefined) return 1;
  if (typeof v !== 'number') throw new RlcoreError('ERR_ARG', `${k}: ${name} must be a number; received ${typeof v}`);
  if (!(v > 0 && v <= FLOAT32_MAX)) {
    throw new RlcoreError('ERR_RANGE', `${k}: ${name} must be finite and > 0 (at most 3.4e38, float32); received ${v}`);
  }
  return v;
}

function prepare(o: VtraceOptions): { args: unknown[]; result: VtraceResult } {
  const k = 'vtrace';
  const b = checkBootstrap(k, o);
  const { T, N, tn } = b; // outputs aliasing inputs are rejected natively
  const logRhos = requireArray(k, 'logRhos', o.logRhos, Float32Array, T * N, tn);
  const lambda = checkStepParam(k, 'lambda', o.lambda, T, N, 0, 1, 1);
  const clipRho = checkThreshold(k, 'clipRhoThreshold', o.clipRhoThreshold);
  const clipC = checkThreshold(k, 'clipCThreshold', o.clipCThreshold);
  const clipPgRho = checkThreshold(k, 'clipPgRhoThreshold', o.clipPgRhoThreshold);
  const vs = outArray(k, 'out.vs', o.out?.vs, Float32Array, T * N, tn);
  const pgAdvantages = outArray(k, 'out.pgAdvantages', o.out?.pgAdvantages, Float32Array, T * N, tn);
  return {
    args: [
      ...b.leading, logRhos,
      b.gamma, lambda, clipRho, clipC, clipPgRho, vs, pgAdvantages, b.useCuda,
    ],
    result: { vs, pgAdvantages },
  };
}

/**
 * V-trace off-policy targets and policy-gradient advantages (Espeholt et al. 2018, "IMPALA",
 * arXiv:1802.01561; rlax `vtrace_td_error_and_advantage`) over time-major `[T, N]` batches, with
 * Gymnasium's termination/truncation split:
 *
 * ```text
 * ρ_t  = min(ρ̄, e^{logRhos_t}),   c_t = λ_t min(c̄, e^{logRhos_t})
 * δ_t  = ρ_t (r_t + γ_t (1 - term_t) v'_t - V(s_t))          (v' as in gae)
 * v_t - V(s_t) = δ_t + γ_t (1 - done_t) c_t (v_{t+1} - V(s_{t+1})),   zero after step T-1
 * pg_t = min(ρ̄_pg, e^{logRhos_t}) (r_t + γ_t (1 - term_t) ṽ_{t+1} - V(s_t))
 * ```
 *
 * where ṽ_{t+1} = v_{t+1} inside an episode, and v'_t (`lastValues` at t = T-1, V(final
 * observation) at a truncated step) at an episode end or the last step. On-policy (logRhos = 0,
 * thresholds >= 1, λ = 1), `vs` equals {@link lambdaReturns} with λ = 1 and `pgAdvantages`
 * equals the λ = 1 GAE advantages. Accumulates in float64; a NaN log-ratio is not clipped away.
 *
 * @example
 * ```ts
 * const { vs, pgAdvantages } = vtrace({ shape: [T, N], rewards, values, logRhos, terminated, lastValues, gamma: 0.99 });
 * ```
 */
export function vtrace(options: VtraceOptions): VtraceResult {
  const { args, result } = prepare(options);
  native().vtrace(...args, false);
  return result;
}

/** {@link vtrace} on a libuv worker thread: the event loop stays free. Do not touch the arrays until it settles. */
export async function vtraceAsync(options: VtraceOptions): Promise<VtraceResult> {
  const { args, result } = prepare(options);
  await native().vtrace(...args, true);
  return result;
}
