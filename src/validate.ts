// Argument checks shared by every kernel wrapper. Each throws RlcoreError saying what was
// expected and what was received. The C++ binding checks again; these give the better message.
import { RlcoreError } from './errors.js';

type TypedArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor | Uint8ArrayConstructor | Int32ArrayConstructor;
type Instance<C> = C extends { new (...a: any[]): infer R } ? R : never;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length: number }).length})`;
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (typeof v === 'number') return String(v);
  return typeof v;
}

/** Checks that `v` is a positive integer size. */
export function checkSize(kernel: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 40) {
    throw new RlcoreError('ERR_SHAPE', `${kernel}: ${name} must be a positive integer; received ${describe(v)}`);
  }
  return v;
}

/** Checks a [T, N]-style shape tuple and returns its sizes. */
export function checkShape(kernel: string, name: string, v: unknown, dims: string[]): number[] {
  if (!Array.isArray(v) || v.length !== dims.length) {
    throw new RlcoreError('ERR_SHAPE', `${kernel}: ${name} must be [${dims.join(', ')}]; received ${describe(v)}`);
  }
  for (let k = 0; k < v.length; k++) {
    const d = v[k];
    // The element's name is built only when it is wrong (this runs on every kernel call).
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 2 ** 40) checkSize(kernel, `${name}[${k}] (${dims[k]})`, d);
  }
  return v as number[];
}

/** "[T, N] = [128, 64]". */
export function shapeText(dims: string[], sizes: number[]): string {
  return `[${dims.join(', ')}] = [${sizes.join(', ')}]`;
}

/** A shape for messages: the text, or a function that makes it (called only when an error is thrown). */
export type ShapeDesc = string | (() => string);

function text(shape: ShapeDesc): string {
  return typeof shape === 'function' ? shape() : shape;
}

/**
 * Checks a typed array's type and length. Returns it, or undefined when optional and absent.
 */
export function checkArray<C extends TypedArrayCtor>(
  kernel: string,
  name: string,
  v: unknown,
  ctor: C,
  length: number,
  shape: ShapeDesc,
  optional = false,
): Instance<C> | undefined {
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new RlcoreError('ERR_ARG', `${kernel}: ${name} is required (a ${ctor.name} of shape ${text(shape)})`);
  }
  if (!(v instanceof ctor)) {
    throw new RlcoreError(
      'ERR_DTYPE',
      `${kernel}: ${name} must be a ${ctor.name} of shape ${text(shape)}; received ${describe(v)}`,
    );
  }
  if (v.length !== length) {
    throw new RlcoreError(
      'ERR_SHAPE',
      `${kernel}: ${name} must have ${length} elements (${text(shape)}); received ${v.length}`,
    );
  }
  return v as Instance<C>;
}

/** Required variant of {@link checkArray}. */
export function requireArray<C extends TypedArrayCtor>(
  kernel: string,
  name: string,
  v: unknown,
  ctor: C,
  length: number,
  shape: ShapeDesc,
): Instance<C> {
  return checkArray(kernel, name, v, ctor, length, shape, false)!;
}

/** Returns `out` after checking it, or a new zeroed array of the given type and length. */
export function outArray<C extends TypedArrayCtor>(
  kernel: string,
  name: string,
  v: unknown,
  ctor: C,
  length: number,
  shape: ShapeDesc,
): Instance<C> {
  return (checkArray(kernel, name, v, ctor, length, shape, true) ?? new ctor(length)) as Instance<C>;
}

/** Checks a finite number in [lo, hi] (default when undefined). */
export function checkNumber(kernel: string, name: string, v: unknown, lo: number, hi: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number') {
    throw new RlcoreError('ERR_ARG', `${kernel}: ${name} must be a number; received ${describe(v)}`);
  }
  if (!(v >= lo && v <= hi)) {
    throw new RlcoreError('ERR_RANGE', `${kernel}: ${name} must be finite and in [${lo}, ${hi}]; received ${v}`);
  }
  return v;
}

/**
 * A per-step parameter: a number in [lo, hi], or a Float32Array of T ([T]) or T*N ([T, N])
 * elements (their values are range-checked in native code, in the same pass that reads them).
 */
export function checkStepParam(
  kernel: string,
  name: string,
  v: unknown,
  T: number,
  N: number,
  lo: number,
  hi: number,
  fallback: number,
): number | Float32Array {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return checkNumber(kernel, name, v, lo, hi);
  if (!(v instanceof Float32Array)) {
    throw new RlcoreError(
      'ERR_DTYPE',
      `${kernel}: ${name} must be a number or a Float32Array of shape [T] or [T, N]; received ${describe(v)}`,
    );
  }
  if (v.length !== T && v.length !== T * N) {
    throw new RlcoreError(
      'ERR_SHAPE',
      `${kernel}: ${name} must have ${T} ([T]) or ${T * N} ([T, N]) elements; received ${v.length}`,
    );
  }
  return v;
}

/** Throws ERR_ARG when an output shares memory with an input. */
export function checkNoAlias(kernel: string, outName: string, out: ArrayBufferView, inputs: Record<string, ArrayBufferView | undefined>): void {
  for (const [name, input] of Object.entries(inputs)) {
    if (!input || input.buffer !== out.buffer) continue;
    const a0 = out.byteOffset, a1 = a0 + out.byteLength, b0 = input.byteOffset, b1 = b0 + input.byteLength;
    if (a0 < b1 && b0 < a1) throw new RlcoreError('ERR_ARG', `${kernel}: ${outName} must not share memory with ${name}`);
  }
}
