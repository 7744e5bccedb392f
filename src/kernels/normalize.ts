import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, outArray } from '../validate.js';

/** Inputs of {@link whiten}. */
export interface WhitenOptions {
  /** `[n]` values to normalise (typically advantages). */
  x: Float32Array;
  /** `[n]` statistics over the elements where mask is nonzero; masked-out outputs are 0. */
  mask?: Uint8Array;
  /**
   * `[k]` a minibatch: statistics over `x[indices[j]]`, and `out[j]` is the normalised
   * `x[indices[j]]` (a gather and normalise; `out` has k elements). Each index in [0, n).
   */
  indices?: Int32Array;
  /** Added to the standard deviation; a finite number > 0. Default 1e-8. */
  eps?: number;
  /** Bessel's correction (divide by count - 1), like `torch.std`. Default true. */
  unbiased?: boolean;
  /** Subtract the mean (true, default); false adds it back, as TRL's `masked_whiten(shift_mean=False)`. */
  shiftMean?: boolean;
  /** Caller-provided output (`[n]`, or `[k]` with indices); when given, nothing is allocated. */
  out?: Float32Array;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Outputs of {@link whiten}. */
export interface WhitenResult {
  /** Normalised values: `[n]`, or `[k]` with indices. */
  out: Float32Array;
  /** Mean μ of the selected elements (0 when none). */
  mean: number;
  /** Standard deviation σ of the selected elements (0 when fewer than 2 with `unbiased`, or none). */
  std: number;
  /** Number of selected elements. */
  count: number;
}

/** Checks an optional boolean option (the fallback when undefined). */
export function checkFlag(kernel: string, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new RlcoreError('ERR_ARG', `${kernel}: ${name} must be a boolean; received ${typeof v}`);
  return v;
}

/** Checks eps: a finite number > 0 (the fallback when undefined). */
export function checkEps(kernel: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw new RlcoreError('ERR_ARG', `${kernel}: eps must be a number; received ${typeof v}`);
  if (!(v > 0 && Number.isFinite(v))) throw new RlcoreError('ERR_RANGE', `${kernel}: eps must be a finite number > 0; received ${v}`);
  return v;
}

// The synchronous call reads its statistics back at once, so it can reuse one buffer.
const syncStats = new Float64Array(3);

function prepare(o: WhitenOptions, stats: Float64Array): { args: unknown[]; stats: Float64Array; out: Float32Array } {
  const k = 'whiten';
  if (o === null || typeof o !== 'object') {
    throw new RlcoreError('ERR_ARG', `${k}: expected an options object; received ${o === null ? 'null' : typeof o}`);
  }
  if (!(o.x instanceof Float32Array)) {
    throw new RlcoreError(o.x === undefined ? 'ERR_ARG' : 'ERR_DTYPE', `${k}: x must be a Float32Array of shape [n]`);
  }
  const x = o.x, n = x.length, nshape = () => `[n] = [${n}]`;
  const mask = checkArray(k, 'mask', o.mask, Uint8Array, n, nshape, true);
  if (o.indices !== undefined && !(o.indices instanceof Int32Array)) {
    throw new RlcoreError('ERR_DTYPE', `${k}: indices must be an Int32Array of shape [k]`);
  }
  const indices = o.indices;
  if (mask && indices) throw new RlcoreError('ERR_ARG', `${k}: give mask or indices, not both`);
  const eps = checkEps(k, o.eps, 1e-8);
  const unbiased = checkFlag(k, 'unbiased', o.unbiased, true);
  const shiftMean = checkFlag(k, 'shiftMean', o.shiftMean, true);
  const outLen = indices ? indices.length : n;
  const out = outArray(k, 'out', o.out, Float32Array, outLen, indices ? () => `[k] = [${outLen}]` : nshape);
  // An output sharing memory with an input is rejected natively.
  const useCuda = resolveDevice(o.device) === 'cuda';
  return { args: [x, mask, indices, eps, unbiased, shiftMean, out, stats, useCuda], stats, out };
}

/**
 * Advantage normalisation ("whitening"), as PPO applies it per minibatch and TRL's
 * `masked_whiten` applies it to token advantages:
 *
 * ```text
 * μ = mean(x_S),  σ = std(x_S)   (Bessel-corrected unless unbiased = false)
 * out = (x - μ) / (σ + eps)        shiftMean = true
 * out = (x - μ) / (σ + eps) + μ    shiftMean = false
 * ```
 *
 * S is every element, the masked-in elements (`mask`; masked-out outputs are 0), or the
 * minibatch `x[indices]` (then `out[j]` belongs to `indices[j]`). Statistics accumulate in
 * float64 with a blocked two-pass algorithm (no cancellation), in parallel for large inputs,
 * and the result does not depend on the thread count. With fewer than two selected elements
 * (unbiased) σ is 0. Out-of-range indices throw ERR_RANGE before anything is written.
 *
 * @example
 * ```ts
 * const { out } = whiten({ x: advantages, indices: minibatch });
 * ```
 */
export function whiten(options: WhitenOptions): WhitenResult {
  const { args, stats, out } = prepare(options, syncStats);
  native().whiten(...args, false);
  return { out, mean: stats[0], std: stats[1], count: stats[2] };
}

/**
 * {@link whiten} on a libuv worker thread: the event loop stays free. Do not touch the arrays
 * until it settles; `indices` is copied when the call is made, so a change to it cannot take the
 * call out of bounds.
 */
export async function whitenAsync(options: WhitenOptions): Promise<WhitenResult> {
  const { args, stats, out } = prepare(options, new Float64Array(3));
  await native().whiten(...args, true);
  return { out, mean: stats[0], std: stats[1], count: stats[2] };
}
