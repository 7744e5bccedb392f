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

export function gaeRef(o: GaeRef): { advantages: number[]; returns: number[] } {
  const { T, N } = o;
  const advantages = new Array<number>(T * N).fill(0);
  const returns = new Array<number>(T * N).fill(0);
  for (let n = 0; n < N; n++) {
    let next = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + n;
      const term = o.terminated?.[i] ? 1 : 0;
      const done = term || o.truncated?.[i] ? 1 : 0;
      const g = stepParam(o.gamma, t, n, T, N);
      const l = stepParam(o.lambda, t, n, T, N);
      const delta = o.rewards[i] + g * (1 - term) * nextValue(o, t, n) - o.values[i];
      next = delta + g * l * (1 - done) * next;
      advantages[i] = next;
      returns[i] = next + o.values[i];
    }
  }
  return { advantages, returns };
}
