import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c, TensorBoardWriter } from '../../src/cli/tensorboard.js';

// An independent reader: TFRecord framing, both masked CRCs, and the Event proto as TensorBoard
// defines it (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto).
const proto = protobuf.parse(`
  syntax = "proto3";
  message Event { double wall_time = 1; int64 step = 2; oneof what { string file_version = 3; Summary summary = 5; } }
  message Summary { message Value { string tag = 1; oneof value { float simple_value = 2; } } repeated Value value = 1; }
`).root.lookupType('Event');

type EventObject = { wallTime: number; step: number; fileVersion?: string; summary?: { value: Array<{ tag: string; simpleValue: number }> } };

function readRecords(bytes: Uint8Array): EventObject[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: EventObject[] = [];
  let o = 0;
  while (o < bytes.length) {
    const len = Number(view.getBigUint64(o, true));
    expect(view.getUint32(o + 8, true)).toBe(maskedCrc32c(bytes.subarray(o, o + 8)));
    const data = bytes.subarray(o + 12, o + 12 + len);
    expect(view.getUint32(o + 12 + len, true)).toBe(maskedCrc32c(data));
    out.push(proto.toObject(proto.decode(data), { longs: Number }) as never);
    o += 16 + len;
  }
  expect(o).toBe(bytes.length);
  return out;
}

describe('crc32c', () => {
  it('matches the published check values (RFC 3720 B.4 and the CRC catalogue)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('masks as TFRecord does', () => {
    const c = crc32c(new TextEncoder().encode('123456789'));
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });
});

describe('TensorBoardWriter', () => {
  it('writes an event file TensorBoard can read: version record, then scalar summaries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlcore-tb-'));
    try {
      const w = new TensorBoardWriter(dir);
      expect(w.path).toMatch(/events\.out\.tfevents\.\d+\./);
      w.scalars(128, { 'charts/episodic_return': 21.5, 'losses/value_loss': 0.25, skipped: NaN });
      w.scalars(2 ** 40, { x: -3 });
      w.close();
      const events = readRecords(new Uint8Array(readFileSync(w.path)));
      expect(events).toHaveLength(3);
      expect(events[0].fileVersion).toBe('brain.Event:2');
      expect(events[1].step).toBe(128);
      expect(events[1].summary!.value).toEqual([
        { tag: 'charts/episodic_return', simpleValue: 21.5 },
        { tag: 'losses/value_loss', simpleValue: 0.25 },
      ]);
      expect(events[2].step).toBe(2 ** 40);
      expect(events[2].summary!.value[0].simpleValue).toBe(-3);
      expect(Math.abs(events[2].wallTime - Date.now() / 1000)).toBeLessThan(60);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
