// Gymnasium's spaces: Box, Discrete and MultiDiscrete, with seeded sampling.
import { RlcoreError } from '../errors.js';
import { isSeed, RandomStream } from './random.js';

/** A set of valid observations or actions. */
export interface Space<T> {
  /** Which kind of space. */
  readonly kind: 'box' | 'discrete' | 'multi-discrete';
  /** Shape of one element (`[]` for a Discrete space). */
  readonly shape: readonly number[];
  /** Draws a uniformly random element (seed the space with {@link Space.seed} first for reproducibility). */
  sample(): T;
  /** Whether `x` is an element of the space. */
  contains(x: unknown): boolean;
  /** Re-seeds the sampler (default seed 0). */
  seed(seed: number): void;
}

function checkSeed(seed: unknown): number {
  if (!isSeed(seed)) throw new RlcoreError('ERR_RANGE', `seed must be an integer in [0, 2^53); received ${String(seed)}`);
  return seed;
}

/** Element type of a Box. */
export type BoxDtype = 'float32' | 'float64';

/**
 * A box in R^n: every element lies in [low[i], high[i]] (bounds may be ±Infinity). Elements
 * are Float32Array (or Float64Array for dtype 'float64') of the given shape, row-major.
 * Sampling as Gymnasium: uniform on a bounded dimension, exponential (shifted) on a half-bounded
 * one, normal on an unbounded one.
 */
export class Box implements Space<Float32Array | Float64Array> {
  /** Always 'box'. */
  readonly kind = 'box' as const;
  /** Lower bounds, one per element. */
  readonly low: Float64Array;
  /** Upper bounds, one per element. */
  readonly high: Float64Array;
  /** Element type. */
  readonly dtype: BoxDtype;
  /** Shape of an element. */
  readonly shape: readonly number[];
  /** Number of scalars in an element (product of the shape). */
  readonly size: number;
  private rng = new RandomStream(0);

  /**
   * @param low - lower bound: one number for all elements, or one per element
   * @param high - upper bound: one number for all elements, or one per element
   * @param shape - element shape (default: the length of `low` or `high`)
   * @param dtype - element type (default 'float32')
   */
  constructor(low: number | ArrayLike<number>, high: number | ArrayLike<number>, shape?: readonly number[], dtype: BoxDtype = 'float32') {
    const given = typeof low === 'number' ? (typeof high === 'number' ? undefined : high.length) : low.length;
    const sh = shape ?? (given === undefined ? [1] : [given]);
    if (!Array.isArray(sh) || sh.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new RlcoreError('ERR_SHAPE', `Box: shape must be positive integers; received ${JSON.stringify(sh)}`);
    }
    this.shape = [...sh];
    this.size = sh.reduce((a, b) => a * b, 1);
    this.dtype = dtype;
    const fill = (v: number | ArrayLike<number>, name: string): Float64Array => {
      if (typeof v === 'number') return new Float64Array(this.size).fill(v);
      if (v.length !== this.size) throw new RlcoreError('ERR_SHAPE', `Box: ${name} must have ${this.size} elements; received ${v.length}`);
      return Float64Array.from(v);
    };
    this.low = fill(low, 'low');
    this.high = fill(high, 'high');
    for (let i = 0; i < this.size; i++) {
      if (Number.isNaN(this.low[i]) || Number.isNaN(this.high[i]) || this.low[i] > this.high[i]) {
        throw new RlcoreError('ERR_RANGE', `Box: need low[${i}] <= high[${i}]; received ${this.low[i]} and ${this.high[i]}`);
      }
    }
  }

  /** Re-seeds the sampler. */
  seed(seed: number): void {
    this.rng = new RandomStream(checkSeed(seed));
  }

  /** A random element. */
  sample(): Float32Array | Float64Array {
    const out = this.dtype === 'float32' ? new Float32Array(this.size) : new Float64Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const lo = this.low[i], hi = this.high[i];
      const bl = Number.isFinite(lo), bh = Number.isFinite(hi);
      let v: number;
      if (bl && bh) v = this.rng.uniform(lo, hi);
      else if (bl) v = lo - Math.log(1 - this.rng.uniform());
      else if (bh) v = hi + Math.log(1 - this.rng.uniform());
      else v = Math.sqrt(-2 * Math.log(1 - this.rng.uniform())) * Math.cos(2 * Math.PI * this.rng.uniform());
      out[i] = v;
      if (out[i] > hi) out[i] = hi; // float32 rounding may step past a bound
      if (out[i] < lo) out[i] = lo;
    }
    return out;
  }

  /** Whether `x` is an array of `size` numbers within the bounds. */
  contains(x: unknown): boolean {
    if (!(x instanceof Float32Array || x instanceof Float64Array || Array.isArray(x))) return false;
    if (x.length !== this.size) return false;
    for (let i = 0; i < this.size; i++) {
      const v = x[i];
      if (typeof v !== 'number' || !(v >= this.low[i] && v <= this.high[i])) return false;
    }
    return true;
  }
}

/** The integers {start, ..., start + n - 1}; elements are numbers. */
export class Discrete implements Space<number> {
  /** Always 'discrete'. */
  readonly kind = 'discrete' as const;
  /** Scalar: shape []. */
  readonly shape: readonly number[] = [];
  /** Number of elements. */
  readonly n: number;
  /** Smallest element. */
  readonly start: number;
  private rng = new RandomStream(0);

  /**
   * @param n - number of elements (>= 1)
   * @param start - smallest element (default 0)
   */
  constructor(n: number, start = 0) {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RlcoreError('ERR_RANGE', `Discrete: n must be an integer in [1, 2^32]; received ${n}`);
    if (!Number.isSafeInteger(start)) throw new RlcoreError('ERR_RANGE', `Discrete: start must be an integer; received ${start}`);
    this.n = n;
    this.start = start;
  }

  /** Re-seeds the sampler. */
  seed(seed: number): void {
    this.rng = new RandomStream(checkSeed(seed));
  }

  /** A random element. */
  sample(): number {
    return this.start + this.rng.below(this.n);
  }

  /** Whether `x` is an integer in [start, start + n). */
  contains(x: unknown): boolean {
    return typeof x === 'number' && Number.isInteger(x) && x >= this.start && x < this.start + this.n;
  }
}

/** A vector of independent discrete choices: element i is in {0, ..., nvec[i] - 1}; elements are Int32Array. */
export class MultiDiscrete implements Space<Int32Array> {
  /** Always 'multi-discrete'. */
  readonly kind = 'multi-discrete' as const;
  /** Number of choices per position. */
  readonly nvec: Int32Array;
  /** `[nvec.length]`. */
  readonly shape: readonly number[];
  private rng = new RandomStream(0);

  /** @param nvec - number of choices per position (each >= 1) */
  constructor(nvec: ArrayLike<number>) {
    if (nvec.length < 1) throw new RlcoreError('ERR_SHAPE', 'MultiDiscrete: nvec must not be empty');
    for (let i = 0; i < nvec.length; i++) {
      if (!Number.isInteger(nvec[i]) || nvec[i] < 1 || nvec[i] > 2 ** 31 - 1) {
        throw new RlcoreError('ERR_RANGE', `MultiDiscrete: nvec[${i}] must be an integer in [1, 2^31); received ${nvec[i]}`);
      }
    }
    this.nvec = Int32Array.from(nvec);
    this.shape = [nvec.length];
  }

  /** Re-seeds the sampler. */
  seed(seed: number): void {
    this.rng = new RandomStream(checkSeed(seed));
  }

  /** A random element. */
  sample(): Int32Array {
    const out = new Int32Array(this.nvec.length);
    for (let i = 0; i < out.length; i++) out[i] = this.rng.below(this.nvec[i]);
    return out;
  }

  /** Whether `x` has one valid choice per position. */
  contains(x: unknown): boolean {
    if (!(x instanceof Int32Array || Array.isArray(x)) || x.length !== this.nvec.length) return false;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= this.nvec[i]) return false;
    }
    return true;
  }
}
