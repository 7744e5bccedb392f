// Plain-loop V-trace: the hand calculation the native kernel is checked against.
import { nextValue, stepParam, type GaeRef } from './gae.js';

/** The GAE inputs plus the log importance ratios and the three clip thresholds. */
export type VtraceRef = GaeRef & {
  logRhos: ArrayLike<number>;
  clipRho: number;
  clipC: number;
  clipPgRho: number;
};

/** e^{logρ} as the kernels define it: 0 below -87.33654 (under FLT_MIN; e^{-Inf} included). */
export function ratioOf(logRho: number): number {
  return logRho < Math.fround(-87.33654) ? 0 : Math.exp(logRho);
}

/**
 * vs and pgAdvantages as in Espeholt et al. 2018, eq. (1) and the policy-gradient term of section 4.2,
 * with episode isolation: outputs of an episode never depend on data of a later one.
 */
export function vtraceRef(o: VtraceRef): { vs: number[]; pgAdvantages: number[] } {
  const { T, N } = o;
  const vs = new Array<number>(T * N).fill(0);
  const pgAdvantages = new Array<number>(T * N).fill(0);
  for (let n = 0; n < N; n++) {
    let diff = 0; // v_{t+1} - V(s_{t+1})
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + n;
      const term = o.terminated?.[i] ? 1 : 0;
      const done = term || o.truncated?.[i] ? 1 : 0;
      const g = stepParam(o.gamma, t, n, T, N);
      const l = stepParam(o.lambda, t, n, T, N);
      const ratio = ratioOf(o.logRhos[i]);
      const rho = Math.min(o.clipRho, ratio);
      // Episode isolation: selects, never a product with 0 (0 * NaN = NaN). At a termination v'
      // is not read; at an episode end (c = 0) the trace restarts from δ.
      const delta = rho * (o.rewards[i] + (term ? 0 : g * nextValue(o, t, n)) - o.values[i]);
      const c = done ? 0 : g * l * Math.min(o.clipC, ratio);
      diff = c === 0 ? delta : delta + c * diff;
      vs[i] = diff + o.values[i];
    }
    for (let t = 0; t < T; t++) {
      const i = t * N + n;
      const term = o.terminated?.[i] ? 1 : 0;
      const done = term || o.truncated?.[i] ? 1 : 0;
      const g = stepParam(o.gamma, t, n, T, N);
      const vNext = !done && t + 1 < T ? vs[i + N] : nextValue(o, t, n);
      const rhoPg = Math.min(o.clipPgRho, ratioOf(o.logRhos[i]));
      pgAdvantages[i] = rhoPg * (o.rewards[i] + (term ? 0 : g * vNext) - o.values[i]);
    }
  }
  return { vs, pgAdvantages };
}
