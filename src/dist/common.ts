// Argument checks shared by the distribution and loss wrappers.
import { RlcoreError } from '../errors.js';
import { checkStepParam } from '../validate.js';

/** Checks a seed: an integer in [0, 2^53]. */
export function checkSeed(kernel: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 53) {
    throw new RlcoreError('ERR_RANGE', `${kernel}: seed must be an integer in [0, 2^53]; received ${String(v)}`);
  }
  return v;
}

/** An upstream per-row gradient: undefined, a finite number, or a Float32Array `[B]`. */
export function checkRowGrad(kernel: string, name: string, v: unknown, B: number): number | Float32Array | undefined {
  if (v === undefined) return undefined;
  return checkStepParam(kernel, name, v, B, 1, -Number.MAX_VALUE, Number.MAX_VALUE, 0);
}

/** Checks `[B, A]` or `[A]` Float32Array (state-dependent or free parameter); returns it. */
export function checkRowOrFree(kernel: string, name: string, v: unknown, B: number, A: number): Float32Array {
  if (!(v instanceof Float32Array)) {
    throw new RlcoreError('ERR_DTYPE', `${kernel}: ${name} must be a Float32Array of shape [B, A] = [${B}, ${A}] or [A] = [${A}]`);
  }
  if (v.length !== B * A && v.length !== A) {
    throw new RlcoreError('ERR_SHAPE', `${kernel}: ${name} must have ${B * A} ([B, A]) or ${A} ([A]) elements; received ${v.length}`);
  }
  return v;
}

type View = ArrayBufferView | undefined;

/**
 * Throws ERR_ARG when an output shares memory with an input or with another output. Each view's
 * `.buffer` is read once (the getter is not free), and no temporary objects are made: these
 * wrappers run on every training step.
 */
export function checkDisjoint(kernel: string, outs: Array<[string, View]>, ins: Array<[string, unknown]>): void {
  const views: ArrayBufferView[] = [], buffers: ArrayBufferLike[] = [], names: string[] = [];
  let firstIn = 0;
  for (const [name, v] of outs) {
    if (v) views.push(v), buffers.push(v.buffer), names.push(name);
  }
  const nOut = views.length;
  if (nOut === 0) return;
  firstIn = views.length;
  for (const [name, v] of ins) {
    if (ArrayBuffer.isView(v)) views.push(v), buffers.push(v.buffer), names.push(name);
  }
  for (let i = 0; i < nOut; i++) {
    const a = views[i], a0 = a.byteOffset, a1 = a0 + a.byteLength;
    for (let j = i + 1; j < views.length; j++) {
      if (buffers[i] !== buffers[j]) continue;
      const b = views[j], b0 = b.byteOffset, b1 = b0 + b.byteLength;
      if (a0 < b1 && b0 < a1) {
        throw new RlcoreError('ERR_ARG', `${kernel}: ${names[i]} must not share memory with ${names[j]}${j >= firstIn ? '' : ' (another output)'}`);
      }
    }
  }
}
