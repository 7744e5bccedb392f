// Plain-loop discounted returns (reward-to-go): the hand calculation the native kernel is checked against.
import { scanStep } from './gae.js';

export interface DiscountedReturnsRef {
  T: number;
  N: number;
  rewards: ArrayLike<number>;
  terminated?: ArrayLike<number>;
  truncated?: ArrayLike<number>;
  lastValues?: ArrayLike<number>;
  finalValues?: ArrayLike<number>;
  gamma: number | ArrayLike<number>;
}

/**
 * G_t = r_t + γ_t (1 - done_t) G_{t+1} + trunc_t γ_t V(final obs_t) (when finalValues), G_T = lastValues or 0,
 * with G_{t+1} not read where γ_t (1 - done_t) = 0 (scanStep).
 */
export function discountedReturnsRef(o: DiscountedReturnsRef): number[] {
  const { T, N } = o;
  const returns = new Array<number>(T * N).fill(0);
  for (let n = 0; n < N; n++) {
    let G = o.lastValues ? o.lastValues[n] : 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + n;
      const g = typeof o.gamma === 'number' ? o.gamma : o.gamma.length === T * N ? o.gamma[i] : o.gamma[t];
      const trunc = !!o.truncated?.[i];
      const done = trunc || !!o.terminated?.[i];
      const a = o.rewards[i] + (trunc && o.finalValues ? g * o.finalValues[i] : 0);
      G = scanStep(a, done ? 0 : g, G);
      returns[i] = G;
    }
  }
  return returns;
}
