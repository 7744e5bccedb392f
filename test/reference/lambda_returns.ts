// Plain-loop TD(λ) returns: the hand calculation the native kernel is checked against.
import { nextValue, scanStep, stepParam, type GaeRef } from './gae.js';

/**
 * G_t = r_t + γ_t (1 - term_t) [ (1 - λ'_t) v'_t + λ'_t G_{t+1} ], λ'_t = λ_t (1 - done_t), λ'_{T-1} = 0,
 * with v'_t not read at terminations and G_{t+1} not read where γ_t λ'_t = 0 (scanStep).
 */
export function lambdaReturnsRef(o: GaeRef): number[] {
  const { T, N } = o;
  const returns = new Array<number>(T * N).fill(0);
  for (let n = 0; n < N; n++) {
    let G = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + n;
      const term = !!o.terminated?.[i];
      const done = term || !!o.truncated?.[i];
      const g = stepParam(o.gamma, t, n, T, N);
      const lam = t === T - 1 || done ? 0 : stepParam(o.lambda, t, n, T, N);
      const a = o.rewards[i] + g * (1 - lam) * (term ? 0 : nextValue(o, t, n));
      G = scanStep(a, g * lam, G);
      returns[i] = G;
    }
  }
  return returns;
}
