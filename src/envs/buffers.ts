// Allocation of a vector environment's arrays and checking of the actions given to `step`.
import { RlcoreError } from '../errors.js';
import { checkArray, shapeText } from '../validate.js';
import type { ActionSpace, VectorBuffers } from './env.js';

/** The arrays of a vector environment, actions included. */
export interface AllBuffers extends VectorBuffers {
  /** `[N, actDim]` actions. */
  actions: Int32Array | Float32Array;
}

/** Number of action scalars per copy. */
export function actionDim(space: ActionSpace): number {
  return space.kind === 'discrete' ? 1 : space.kind === 'box' ? space.size : space.nvec.length;
}

/**
 * The buffers of an N-copy environment: the caller's `out` arrays where given (checked),
 * the rest carved from one ArrayBuffer (so a native step resolves a single buffer).
 */
export function allocBuffers(id: string, N: number, D: number, space: ActionSpace, out?: Partial<VectorBuffers>): AllBuffers {
  const A = actionDim(space);
  const intActions = space.kind !== 'box';
  const bytes = 4 * N * A + 4 * N * D * 2 + 4 * N + 2 * N;
  const buf = new ArrayBuffer(bytes);
  let off = 0;
  const take = <T>(make: (b: ArrayBuffer, o: number, n: number) => T, n: number, size: number): T => {
    const v = make(buf, off, n);
    off += n * size;
    return v;
  };
  const f32 = (b: ArrayBuffer, o: number, n: number) => new Float32Array(b, o, n);
  const u8 = (b: ArrayBuffer, o: number, n: number) => new Uint8Array(b, o, n);
  const nd = shapeText(['N', 'obsDim'], [N, D]), n1 = shapeText(['N'], [N]);
  const actions = intActions ? take((b, o, n) => new Int32Array(b, o, n), N * A, 4) : take(f32, N * A, 4);
  const observations = checkArray(id, 'out.observations', out?.observations, Float32Array, N * D, nd, true) ?? take(f32, N * D, 4);
  const finalObservations = checkArray(id, 'out.finalObservations', out?.finalObservations, Float32Array, N * D, nd, true) ?? take(f32, N * D, 4);
  const rewards = checkArray(id, 'out.rewards', out?.rewards, Float32Array, N, n1, true) ?? take(f32, N, 4);
  const terminated = checkArray(id, 'out.terminated', out?.terminated, Uint8Array, N, n1, true) ?? take(u8, N, 1);
  const truncated = checkArray(id, 'out.truncated', out?.truncated, Uint8Array, N, n1, true) ?? take(u8, N, 1);
  const outs: Record<string, ArrayBufferView> = { observations, finalObservations, rewards, terminated, truncated };
  const names = Object.keys(outs);
  for (let a = 0; a < names.length; a++) {
    for (let b = 0; b < a; b++) {
      const x = outs[names[a]], y = outs[names[b]];
      if (x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength) {
        throw new RlcoreError('ERR_ARG', `${id}: out.${names[a]} must not share memory with out.${names[b]}`);
      }
    }
  }
  return { actions, observations, finalObservations, rewards, terminated, truncated };
}

/** Copies `src` into the action buffer `dst` after checking its type, length and (for integer actions) integrality. */
export function copyActions(id: string, src: ArrayLike<number>, dst: Int32Array | Float32Array): void {
  if (src === dst) return;
  const isInt = dst instanceof Int32Array;
  const okType = Array.isArray(src) || (isInt ? src instanceof Int32Array : src instanceof Float32Array || src instanceof Float64Array);
  if (!okType) {
    const want = isInt ? 'an Int32Array or an array of integers' : 'a Float32Array, Float64Array or array of numbers';
    const got = src === null ? 'null' : ArrayBuffer.isView(src) ? src.constructor.name : typeof src;
    throw new RlcoreError('ERR_DTYPE', `${id}: actions must be ${want}; received ${got}`);
  }
  if (src.length !== dst.length) {
    throw new RlcoreError('ERR_SHAPE', `${id}: actions must have ${dst.length} elements ([N, actDim]); received ${src.length}`);
  }
  if (Array.isArray(src)) {
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (typeof v !== 'number' || (isInt && !(Number.isInteger(v) && Math.abs(v) < 2 ** 31))) {
        throw new RlcoreError('ERR_RANGE', `${id}: actions[${i}] must be ${isInt ? 'an integer' : 'a number'}; received ${String(v)}`);
      }
    }
  }
  dst.set(src);
}
