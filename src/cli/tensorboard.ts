// TensorBoard event files: TFRecord framing of serialized `Event` protos, written by hand
// (TensorBoard cannot be a dependency of a Node package). The format, from TensorFlow's
// tensorflow/core/lib/io/record_writer.cc and tensorflow/core/util/event.proto:
//
//   record  = uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
//   masked  = ((crc >>> 15) | (crc << 17)) + 0xa282ead8   (mod 2^32)
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
//
// The first record is an Event with file_version "brain.Event:2".
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { RlcoreError } from '../errors.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78) of `bytes`. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC-32C: `((crc >>> 15) | (crc << 17)) + 0xa282ead8`. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

const root = protobuf.Root.fromJSON({
  nested: {
    Event: { fields: { wallTime: { type: 'double', id: 1 }, step: { type: 'int64', id: 2 }, fileVersion: { type: 'string', id: 3 }, summary: { type: 'Summary', id: 5 } } },
    Summary: { fields: { value: { rule: 'repeated', type: 'Value', id: 1 } } },
    Value: { fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } } },
  },
});

/** The protobuf `Event` type (with `Summary` and `Value`) used by {@link TensorBoardWriter}. */
export const EventProto = root.lookupType('Event');

/** Frames one record: length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * Writes scalar summaries to `<dir>/events.out.tfevents.<seconds>.<host>`, a file TensorBoard
 * reads (`tensorboard --logdir <dir>`). Records are buffered and appended on {@link flush}.
 */
export class TensorBoardWriter {
  /** Path of the event file. */
  readonly path: string;
  private fd: number;
  private pending: Uint8Array[] = [];

  /** Creates the event file in `dir` (which must exist) and writes the version record. */
  constructor(dir: string) {
    const now = Date.now() / 1000;
    this.path = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}`);
    try {
      this.fd = openSync(this.path, 'a');
    } catch (e) {
      throw new RlcoreError('ERR_IO', `cannot create ${this.path}: ${(e as Error).message}`);
    }
    this.pending.push(tfRecord(EventProto.encode(EventProto.create({ wallTime: now, step: 0, fileVersion: 'brain.Event:2' })).finish()));
    this.flush();
  }

  /** Adds scalars `tag → value` at `step` (one Event). Non-finite values are skipped. */
  scalars(step: number, values: Record<string, number>): void {
    const value = Object.entries(values).filter(([, v]) => Number.isFinite(v)).map(([tag, simpleValue]) => ({ tag, simpleValue }));
    if (value.length === 0) return;
    const event = EventProto.create({ wallTime: Date.now() / 1000, step, summary: { value } });
    this.pending.push(tfRecord(EventProto.encode(event).finish()));
  }

  /** Appends the buffered records to the file. */
  flush(): void {
    if (this.pending.length === 0) return;
    const total = this.pending.reduce((n, r) => n + r.length, 0);
    const buf = new Uint8Array(total);
    let o = 0;
    for (const r of this.pending) buf.set(r, o), (o += r.length);
    this.pending = [];
    writeSync(this.fd, buf);
  }

  /** Flushes, syncs and closes the file. */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }
}
