// The safetensors format (https://github.com/huggingface/safetensors), written by hand: it is a
// spec, not a library. Layout: an 8-byte little-endian header length N, N bytes of JSON
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { string: string } },
// then the raw little-endian tensor bytes (offsets relative to the end of the header).
import { readFileSync, writeFileSync } from 'node:fs';
import { RlcoreError } from '../errors.js';
import type { Sequential } from './mlp.js';
import type { Optimizer } from './optim.js';

/** A tensor as stored in a safetensors file. */
export interface Tensor {
  /** Element type. */
  dtype: 'F32' | 'F64' | 'I32';
  /** Dimensions (row-major). */
  shape: number[];
  /** The values. */
  data: Float32Array | Float64Array | Int32Array;
}

const CTOR = { F32: Float32Array, F64: Float64Array, I32: Int32Array } as const;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function ioError(message: string): RlcoreError {
  return new RlcoreError('ERR_IO', message);
}

/** The contents of a safetensors file. */
export interface SafetensorsContents {
  /** Tensors by name. */
  tensors: Record<string, Tensor>;
  /** String metadata (`__metadata__`). */
  metadata: Record<string, string>;
}

/** Encodes tensors (and string metadata) as safetensors bytes. Names are written in sorted order. */
export function serializeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const k = 'serializeSafetensors';
  if (!LITTLE_ENDIAN) throw new RlcoreError('ERR_ARG', `${k}: big-endian hosts are not supported`);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new RlcoreError('ERR_ARG', `${k}: metadata ${JSON.stringify(key)} must be a string; received ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const names = Object.keys(tensors).sort();
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new RlcoreError('ERR_ARG', `${k}: "__metadata__" is not a valid tensor name`);
    const t = tensors[name];
    const ctor = CTOR[t?.dtype as keyof typeof CTOR];
    if (!ctor || !(t.data instanceof ctor)) {
      throw new RlcoreError('ERR_DTYPE', `${k}: tensor ${JSON.stringify(name)} must have dtype F32, F64 or I32 and matching data`);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0) || count !== t.data.length) {
      throw new RlcoreError('ERR_SHAPE', `${k}: tensor ${JSON.stringify(name)} has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/** Decodes safetensors bytes (F32, F64 and I32 tensors); throws ERR_IO on a malformed file. */
export function parseSafetensors(bytes: Uint8Array): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) throw new RlcoreError('ERR_DTYPE', 'parseSafetensors: bytes must be a Uint8Array');
  if (bytes.length < 8) throw ioError(`safetensors: file of ${bytes.length} bytes has no header`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw ioError(`safetensors: header length ${n} exceeds the file (${bytes.length} bytes)`);
  const start = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, Number(n)).toString('utf8'));
  } catch (e) {
    throw ioError(`safetensors: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw ioError('safetensors: header must be a JSON object');
  const dataLength = bytes.length - start;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number]> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Object.values(entry).some((v) => typeof v !== 'string')) {
        throw ioError('safetensors: __metadata__ must map strings to strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (name === '__proto__') throw ioError('safetensors: "__proto__" is not a valid tensor name');
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const ctor = CTOR[e?.dtype as keyof typeof CTOR];
    if (!ctor) throw ioError(`safetensors: tensor ${JSON.stringify(name)} has unsupported dtype ${JSON.stringify(e?.dtype)} (F32, F64, I32)`);
    const shape = e.shape, offs = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw ioError(`safetensors: tensor ${JSON.stringify(name)} has an invalid shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
      throw ioError(`safetensors: tensor ${JSON.stringify(name)} has invalid data_offsets`);
    }
    const [b, end] = offs as [number, number];
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    if (end < b || end > dataLength || end - b !== count * ctor.BYTES_PER_ELEMENT) {
      throw ioError(`safetensors: tensor ${JSON.stringify(name)} spans bytes [${b}, ${end}) which do not fit its shape [${(shape as number[]).join(', ')}] x ${e.dtype} or the file`);
    }
    spans.push([b, end]);
    const data = new ctor(count);
    new Uint8Array(data.buffer).set(bytes.subarray(start + b, start + end));
    tensors[name] = { dtype: e.dtype as Tensor['dtype'], shape: shape as number[], data };
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw ioError('safetensors: tensors overlap');
  }
  return { tensors, metadata };
}

/** Writes tensors to a `.safetensors` file (ERR_IO when it cannot be written). */
export function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata);
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw ioError(`saveSafetensors: cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Reads a `.safetensors` file (ERR_IO when it cannot be read or is malformed). */
export function loadSafetensors(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw ioError(`loadSafetensors: cannot read ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(bytes);
}

/** The network's parameters as named tensors (views, PyTorch names such as `0.weight`). */
export function networkTensors(net: Sequential): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const p of net.parameters()) out[p.name] = { dtype: 'F32', shape: p.shape, data: p.data };
  return out;
}

/**
 * Copies named tensors into the network's parameters. Every parameter must be present with
 * its exact shape and dtype F32, and (unless `strict` is false) no other tensor may be present;
 * everything is checked before anything is written.
 */
export function loadNetworkTensors(net: Sequential, tensors: Record<string, Tensor>, strict = true): void {
  const k = 'loadNetworkTensors';
  const writes: Array<() => void> = [];
  for (const p of net.parameters()) {
    const t = tensors[p.name];
    if (!t) throw new RlcoreError('ERR_ARG', `${k}: missing tensor ${JSON.stringify(p.name)} (expected F32 [${p.shape.join(', ')}])`);
    if (t.dtype !== 'F32' || t.shape.join() !== p.shape.join() || !(t.data instanceof Float32Array)) {
      throw new RlcoreError('ERR_SHAPE', `${k}: tensor ${JSON.stringify(p.name)} must be F32 [${p.shape.join(', ')}]; received ${t.dtype} [${t.shape.join(', ')}]`);
    }
    writes.push(() => p.data.set(t.data as Float32Array));
  }
  if (strict) {
    const known = new Set(net.paramInfo.map((p) => p.name));
    const extra = Object.keys(tensors).filter((n) => !known.has(n));
    if (extra.length > 0) throw new RlcoreError('ERR_ARG', `${k}: unexpected tensors ${extra.map((n) => JSON.stringify(n)).join(', ')}`);
  }
  for (const w of writes) w();
}

/** What {@link saveCheckpoint} and {@link loadCheckpoint} store. */
export interface CheckpointOptions {
  /** The network (tensors named as in PyTorch: `0.weight`, ...). */
  network: Sequential;
  /** Its optimiser (tensors prefixed `optimizer.`; step count in metadata `optimizer.step`). */
  optimizer?: Optimizer;
  /** Extra string metadata to store (save only). */
  metadata?: Record<string, string>;
}

/**
 * Saves a network's parameters (and an optimiser's state) to one safetensors file that the
 * Python ecosystem reads directly (`safetensors.torch.load_file`).
 */
export function saveCheckpoint(path: string, options: CheckpointOptions): void {
  const tensors = networkTensors(options.network);
  const metadata: Record<string, string> = { ...options.metadata, format: 'rlcore' };
  if (options.optimizer) {
    const s = options.optimizer.stateDict();
    for (const [n, t] of Object.entries(s.tensors)) tensors[`optimizer.${n}`] = t;
    for (const [n, v] of Object.entries(s.metadata)) metadata[`optimizer.${n}`] = v;
  }
  saveSafetensors(path, tensors, metadata);
}

/**
 * Loads a file written by {@link saveCheckpoint} into the network (and optimiser). A file whose
 * tensors do not match throws RlcoreError and leaves both untouched. Returns the metadata.
 */
export function loadCheckpoint(path: string, options: CheckpointOptions): Record<string, string> {
  const { tensors, metadata } = loadSafetensors(path);
  const net: Record<string, Tensor> = {}, opt: Record<string, Tensor> = {};
  for (const [n, t] of Object.entries(tensors)) (n.startsWith('optimizer.') ? opt : net)[n.startsWith('optimizer.') ? n.slice(10) : n] = t;
  const optMeta: Record<string, string> = {};
  for (const [n, v] of Object.entries(metadata)) if (n.startsWith('optimizer.')) optMeta[n.slice(10)] = v;
  // Validate both before writing either: load into scratch copies first.
  const params = options.network.params.slice();
  loadNetworkTensors(options.network, net);
  try {
    options.optimizer?.loadStateDict({ tensors: opt, metadata: optMeta });
  } catch (e) {
    options.network.params.set(params);
    throw e;
  }
  return metadata;
}
