import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkSize, outArray, requireArray, shapeText } from '../validate.js';
import { checkSeed } from '../dist/common.js';

/** Inputs of {@link permutation}. */
export interface PermutationOptions {
  /** Length n of the permutation (n ≤ 2^31 − 1). */
  n: number;
  /** Integer seed in [0, 2^53] (the Philox key). */
  seed: number;
  /** Integer stream id in [0, 2^53]: one per shuffle (e.g. iteration · epochs + epoch). Default 0. */
  stream?: number;
  /** Caller-provided `[n]` output; when given, nothing is allocated. */
  out?: Int32Array;
}

/**
 * A uniformly random permutation of 0 … n−1, by Fisher–Yates (Knuth, TAOCP vol. 2, Algorithm
 * P) on Philox stream (seed, stream):
 *
 * ```text
 * out = [0, 1, …, n−1];   for i = n−1 … 1: j = ⌊u_i · (i + 1)⌋, swap(out[i], out[j])
 * ```
 *
 * with u_i from 32 random bits (bias < 2^−32). Same (seed, stream), same permutation on every
 * machine: PPO's minibatch shuffle resumes exactly from a checkpoint.
 *
 * @example
 * ```ts
 * const order = permutation({ n: 512, seed: 1, stream: iteration * epochs + epoch, out: order });
 * ```
 */
export function permutation(options: PermutationOptions): Int32Array {
  const k = 'permutation';
  const n = checkSize(k, 'n', options?.n);
  if (n > 2 ** 31 - 1) throw new RlcoreError('ERR_RANGE', `${k}: n must be at most 2^31 - 1; received ${n}`);
  const seed = checkSeed(k, options.seed);
  const stream = options.stream === undefined ? 0 : checkSeed(`${k} (stream)`, options.stream);
  const out = outArray(k, 'out', options.out, Int32Array, n, `[n] = [${n}]`);
  native().permutation(n, seed, stream, out);
  return out;
}

/** Inputs of {@link gatherRows}. */
export interface GatherRowsOptions<T extends Float32Array | Int32Array> {
  /** `[R, W]`: R rows of W values. */
  shape: [R: number, W: number];
  /** `[R, W]` rows to gather from (Float32Array or Int32Array). */
  x: T;
  /** `[k]` row indices, each in [0, R). */
  indices: Int32Array;
  /** Caller-provided `[k, W]` output of the same type as `x`; when given, nothing is allocated. */
  out?: T;
}

/**
 * Gathers rows: `out[j, :] = x[indices[j], :]` for j in [0, k) (a minibatch out of a rollout
 * stored as `[T · N, W]`). Out-of-range indices throw ERR_RANGE before anything is written.
 *
 * @example
 * ```ts
 * gatherRows({ shape: [T * N, obsDim], x: observations, indices: minibatch, out: mbObs });
 * ```
 */
export function gatherRows<T extends Float32Array | Int32Array>(options: GatherRowsOptions<T>): T {
  const k = 'gatherRows';
  if (!Array.isArray(options?.shape) || options.shape.length !== 2) throw new RlcoreError('ERR_SHAPE', `${k}: shape must be [R, W]; received ${String(options?.shape)}`);
  const R = checkSize(k, 'shape[0] (R)', options.shape[0]);
  const W = checkSize(k, 'shape[1] (W)', options.shape[1]);
  const ctor = options.x instanceof Int32Array ? Int32Array : Float32Array;
  const x = requireArray(k, 'x', options.x, ctor, R * W, () => shapeText(['R', 'W'], [R, W]));
  const indices = requireArray(k, 'indices', options.indices, Int32Array, options.indices?.length ?? 0, '[k]');
  if (indices.length === 0) throw new RlcoreError('ERR_SHAPE', `${k}: indices must not be empty`);
  const out = outArray(k, 'out', options.out, ctor, indices.length * W, () => shapeText(['k', 'W'], [indices.length, W]));
  native().gatherRows(R, W, x, indices, out);
  return out as T;
}
