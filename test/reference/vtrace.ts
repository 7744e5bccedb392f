// Plain-loop V-trace: the hand calculation the native kernel is checked against.
import { nextValue, stepParam, type GaeRef } from './gae.js';

/** The GAE inputs plus the log importance ratios and the three clip thresholds. */
export type VtraceRef = GaeRef & {
  logRhos: ArrayLike<number>;
  clipRho: number;
  clipC: number;
  clipPgRho: number;
};

/** vs and pgAdvantages as in Espeholt et al. 2018, eq. (1) and the policy-gradient term of section 4.2. */
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
      const ratio = Math.exp(o.logRhos[i]);
      const rho = Math.min(o.clipRho, ratio);
      const c = l * Math.min(o.clipC, ratio);
      const delta = rho * (o.rewards[i] + g * (1 - term) * nextValue(o, t, n) - o.values[i]);
      diff = delta + g * (1 - done) * c * diff;
      vs[i] = diff + o.values[i];
    }
    for (let t = 0; t < T; t++) {
      const i = t * N + n;
      const term = o.terminated?.[i] ? 1 : 0;
      const done = term || o.truncated?.[i] ? 1 : 0;
      const g = stepParam(o.gamma, t, n, T, N);
      const vNext = !done && t + 1 < T ? vs[i + N] : nextValue(o, t, n);
      const rhoPg = Math.min(o.clipPgRho, Math.exp(o.logRhos[i]));
      pgAdvantages[i] = rhoPg * (o.rewards[i] + g * (1 - term) * vNext - o.values[i]);
    }
  }
  return { vs, pgAdvantages };
}
