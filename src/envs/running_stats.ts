// Running mean and variance (native/envs/running_stats.cc) with checkpointable state.
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkNumber, checkSize, requireArray, shapeText } from '../validate.js';

/** Saved state of a {@link RunningMeanStd}: plain numbers, JSON-safe. */
export interface RunningMeanStdState {
  /** `[D]` running means. */
  mean: number[];
  /** `[D]` running (population) variances. */
  var: number[];
  /** Number of samples seen (starts at a small positive value, as Gymnasium's). */
  count: number;
}

/**
 * Per-dimension running mean and variance of a stream of `[B, D]` batches, merged batch by
 * batch in float64 with the parallel algorithm of Chan, Golub & LeVeque (1979):
 *
 * ```text
 * δ = mean_B - mean,  n' = n + B,  mean' = mean + δ B / n'
 * var' = (var n + var_B B + δ² n B / n') / n'
 * ```
 *
 * Starts at mean 0, var 1, count 1e-4 (Gymnasium's RunningMeanStd).
 */
export class RunningMeanStd {
  /** Number of dimensions D. */
  readonly dim: number;
  /** `[D]` means. */
  readonly mean: Float64Array;
  /** `[D]` variances. */
  readonly var: Float64Array;
  private readonly countBox = new Float64Array([1e-4]);

  /** @param dim - number of dimensions D */
  constructor(dim: number) {
    this.dim = checkSize('RunningMeanStd', 'dim', dim);
    this.mean = new Float64Array(dim);
    this.var = new Float64Array(dim).fill(1);
  }

  /** Samples seen so far. */
  get count(): number {
    return this.countBox[0];
  }

  /** Merges a `[B, D]` batch (row-major). */
  update(x: Float32Array, B: number): void {
    checkSize('RunningMeanStd.update', 'B', B);
    requireArray('RunningMeanStd.update', 'x', x, Float32Array, B * this.dim, shapeText(['B', 'D'], [B, this.dim]));
    native().runningStatsUpdate(B, this.dim, x, this.mean, this.var, this.countBox);
  }

  /** Writes clamp((x - mean) / sqrt(var + epsilon), -clip, clip) into `out` (may be `x`) for a `[B, D]` batch. */
  normalize(x: Float32Array, B: number, out: Float32Array = x, epsilon = 1e-8, clip = Infinity): Float32Array {
    const k = 'RunningMeanStd.normalize';
    checkSize(k, 'B', B);
    const shape = shapeText(['B', 'D'], [B, this.dim]);
    requireArray(k, 'x', x, Float32Array, B * this.dim, shape);
    requireArray(k, 'out', out, Float32Array, B * this.dim, shape);
    checkNumber(k, 'epsilon', epsilon, 0, 1e300);
    checkNumber(k, 'clip', clip, 0, Infinity);
    native().runningStatsNormalize(B, this.dim, x, this.mean, this.var, epsilon, clip, out);
    return out;
  }

  /** The state, for a checkpoint. */
  state(): RunningMeanStdState {
    return { mean: Array.from(this.mean), var: Array.from(this.var), count: this.count };
  }

  /** Restores a state saved by {@link RunningMeanStd.state}. */
  loadState(s: RunningMeanStdState): void {
    const bad = (what: string) => new RlcoreError('ERR_ARG', `RunningMeanStd.loadState: ${what}`);
    if (!s || !Array.isArray(s.mean) || !Array.isArray(s.var)) throw bad('expected { mean: number[], var: number[], count: number }');
    if (s.mean.length !== this.dim || s.var.length !== this.dim) {
      throw new RlcoreError('ERR_SHAPE', `RunningMeanStd.loadState: mean and var must have ${this.dim} elements; received ${s.mean.length} and ${s.var.length}`);
    }
    for (let d = 0; d < this.dim; d++) {
      if (!Number.isFinite(s.mean[d]) || !(s.var[d] >= 0 && Number.isFinite(s.var[d]))) {
        throw new RlcoreError('ERR_RANGE', `RunningMeanStd.loadState: mean[${d}] must be finite and var[${d}] finite and >= 0`);
      }
    }
    checkNumber('RunningMeanStd.loadState', 'count', s.count, 0, Number.MAX_VALUE);
    this.mean.set(s.mean);
    this.var.set(s.var);
    this.countBox[0] = s.count;
  }
}
