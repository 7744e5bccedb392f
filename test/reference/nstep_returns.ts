// Plain-loop n-step returns: the hand calculation the native kernel is checked against.
import { nextValue, stepParam, type GaeRef } from './gae.js';

/** The GAE inputs (λ unused) plus the window length n. */
export type NstepReturnsRef = Omit<GaeRef, 'lambda'> & { n: number };

/**
 * G_t = Σ_{k<m} Γ_{t,k} r_{t+k} + Γ_{t,m} (1 - term_{t+m-1}) v'_{t+m-1}, with m = min(n, steps to
 * and including the first episode end at or after t, T - t): each window summed directly. A window
 * never reads past its episode's end, so NaN/Inf in a later episode leave it unchanged.
 */
export function nstepReturnsRef(o: NstepReturnsRef): number[] {
  const { T, N, n: steps } = o;
  const ref: GaeRef = { ...o, lambda: 0 };
  const returns = new Array<number>(T * N).fill(0);
  for (let n = 0; n < N; n++) {
    for (let t = 0; t < T; t++) {
      let m = Math.min(steps, T - t);
      for (let k = 0; k < m; k++) {
        const i = (t + k) * N + n;
        if (o.terminated?.[i] || o.truncated?.[i]) {
          m = k + 1;
          break;
        }
      }
      let G = 0, disc = 1;
      for (let k = 0; k < m; k++) {
        G += disc * o.rewards[(t + k) * N + n];
        disc *= stepParam(o.gamma, t + k, n, T, N);
      }
      // v' is not read at a termination (a select, not 0 * v': v' is the next episode's value).
      const last = t + m - 1;
      if (!o.terminated?.[last * N + n]) G += disc * nextValue(ref, last, n);
      returns[t * N + n] = G;
    }
  }
  return returns;
}
