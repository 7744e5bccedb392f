// Plain-loop GAE: the hand calculation the native kernels are checked against.
export interface GaeRef {
  T: number;
  N: number;
  rewards: ArrayLike<number>;
  values: ArrayLike<number>;
  terminated?: ArrayLike<number>;
  truncated?: ArrayLike<number>;
  nextValues?: ArrayLike<number>;
  lastValues?: ArrayLike<number>;
  finalValues?: ArrayLike<number>;
  gamma: number | ArrayLike<number>;
  lambda: number | ArrayLike<number>;
}

/** Reads a scalar / [T] / [T, N] step parameter. */
export function stepParam(p: number | ArrayLike<number>, t: number, n: number, T: number, N: number): number {
  if (typeof p === 'number') return p;
  return p.length === T * N ? p[t * N + n] : p[t];
}

/** Value of the next state as the kernels define it. */
export function nextValue(o: GaeRef, t: number, n: number): number {
  const i = t * o.N + n;
  if (o.nextValues) return o.nextValues[i];
  if (o.truncated?.[i]) return o.finalValues![i];
  if (t + 1 < o.T) return o.values[i + o.N];
  return o.lastValues ? o.lastValues[n] : 0;
}

/**
 * One step of the reverse scan y_t = a_t + c_t y_{t+1}: where c_t = 0 (an episode end) y_t = a_t,
 * without reading y_{t+1}, so NaN or Inf of a later episode stays there (0 * NaN would be NaN).
 */
export function scanStep(a: number, c: number, next: number): number {
  return c === 0 ? a : a + c * next;
}

/** δ_t = r_t + γ_t (1 - term_t) v'_t - V(s_t) (v'_t not read at terminations), A_t = δ_t + γ_t λ_t (1 - done_t) A_{t+1}. */
export function gaeRef(o: GaeRef): { advantages: number[]; returns: number[] } {
  const { T, N } = o;
  const advantages = new Array<number>(T * N).fill(0);
  const returns = new Array<number>(T * N).fill(0);
  for (let n = 0; n < N; n++) {
    let next = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + n;
      const term = !!o.terminated?.[i];
      const done = term || !!o.truncated?.[i];
      const g = stepParam(o.gamma, t, n, T, N);
      const l = stepParam(o.lambda, t, n, T, N);
      const delta = o.rewards[i] + g * (term ? 0 : nextValue(o, t, n)) - o.values[i];
      next = scanStep(delta, done ? 0 : g * l, next);
      advantages[i] = next;
      returns[i] = next + o.values[i];
    }
  }
  return { advantages, returns };
}
