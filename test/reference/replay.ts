// Plain TypeScript references for the replay buffer: a sum tree (also the bench baseline),
// importance weights, and n-step returns / windows found by scanning the insertion history for
// the same environment's next step (no links), the way one would compute them by hand.

/** A binary sum tree over `capacity` leaves (power-of-two layout), float64. */
export class TsSumTree {
  readonly leaves: number;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  constructor(capacity: number) {
    let n = 1;
    while (n < capacity) n *= 2;
    this.leaves = n;
    this.sum = new Float64Array(2 * n);
    this.min = new Float64Array(2 * n).fill(Infinity);
  }
  set(i: number, p: number): void {
    let k = i + this.leaves;
    this.sum[k] = p;
    this.min[k] = p;
    for (k >>= 1; k >= 1; k >>= 1) {
      this.sum[k] = this.sum[2 * k] + this.sum[2 * k + 1];
      this.min[k] = Math.min(this.min[2 * k], this.min[2 * k + 1]);
    }
  }
  get total(): number {
    return this.sum[1];
  }
  find(mass: number): number {
    let k = 1;
    while (k < this.leaves) {
      const left = this.sum[2 * k];
      if (mass < left) k = 2 * k;
      else {
        mass -= left;
        k = 2 * k + 1;
      }
    }
    return k - this.leaves;
  }
}

/** w_i = (N P(i))^-β / max_j (N P(j))^-β over the stored leaves `p` (already ^α). */
export function importanceWeights(p: ArrayLike<number>, rows: ArrayLike<number>, beta: number): number[] {
  const N = p.length;
  let total = 0, min = Infinity;
  for (let i = 0; i < N; i++) {
    total += p[i];
    min = Math.min(min, p[i]);
  }
  const maxW = Math.pow((N * min) / total, -beta);
  return Array.from(rows, (r) => Math.pow((N * p[r]) / total, -beta) / maxW);
}

/** One inserted transition, as the reference history keeps it. */
export interface RefTransition {
  env: number;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  /** The next observation (first element only: enough to identify the bootstrap row). */
  next: number;
}

/** Position (absolute) of env's next step after absolute position p, or -1 (not yet stored / overwritten / episode ended). */
export function refNextOf(history: RefTransition[], p: number, capacity: number): number {
  const t = history[p];
  if (t.terminated || t.truncated) return -1;
  for (let q = p + 1; q < history.length; q++) {
    if (history[q].env === t.env) return q;
  }
  return -1;
}

/** n-step return from absolute position p: { G, discount γ^m, last absolute position }. */
export function refNstep(history: RefTransition[], p: number, n: number, gamma: number, capacity: number): { G: number; discount: number; last: number } {
  let G = 0, d = 1, cur = p;
  for (let k = 0; ; ) {
    G += d * history[cur].reward;
    d *= gamma;
    k++;
    if (k >= n) break;
    const nx = refNextOf(history, cur, capacity);
    if (nx < 0) break;
    cur = nx;
  }
  return { G, discount: d, last: cur };
}
