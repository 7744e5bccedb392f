import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RlcoreError } from '../../src/errors.js';
import { Mlp } from '../../src/nn/mlp.js';
import { Adam, Sgd } from '../../src/nn/optim.js';
import {
  loadCheckpoint, loadNetworkTensors, loadSafetensors, networkTensors, parseSafetensors, saveCheckpoint, saveSafetensors, serializeSafetensors,
} from '../../src/nn/safetensors.js';
import { randomF32, rng } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'rlcore-nn-'));

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RlcoreError) return e.code;
    return `not RlcoreError: ${String(e)}`;
  }
  return 'no error';
}

describe('safetensors', () => {
  it('writes the documented layout: u64 LE header length, JSON header, raw LE data', () => {
    const bytes = serializeSafetensors(
      { b: { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) }, a: { dtype: 'I32', shape: [1, 1], data: new Int32Array([7]) } },
      { note: 'hi' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    expect(header.__metadata__).toEqual({ note: 'hi' });
    expect(header.a).toEqual({ dtype: 'I32', shape: [1, 1], data_offsets: [0, 4] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [2], data_offsets: [4, 12] });
    const data = new DataView(bytes.buffer, 8 + n);
    expect(data.getInt32(0, true)).toBe(7);
    expect(data.getFloat32(4, true)).toBe(1.5);
    expect(data.getFloat32(8, true)).toBe(-2);
    const back = parseSafetensors(bytes);
    expect(Array.from(back.tensors.b.data)).toEqual([1.5, -2]);
    expect(back.tensors.a.shape).toEqual([1, 1]);
    expect(back.metadata).toEqual({ note: 'hi' });
  });

  it('a loaded network gives bit-identical outputs, and optimiser state round-trips', () => {
    const net = new Mlp({ inputSize: 7, hiddenSizes: [64, 64], outputSize: 3, seed: 1, layerNorm: true });
    const opt = new Adam(net, { lr: 1e-3 });
    const r = rng(2);
    const x = randomF32(32 * 7, r);
    net.forwardTrain(x);
    net.backward(randomF32(32 * 3, r));
    opt.step();
    opt.step();
    const path = join(dir, 'ckpt.safetensors');
    saveCheckpoint(path, { network: net, optimizer: opt, metadata: { algo: 'ppo' } });
    const net2 = new Mlp({ inputSize: 7, hiddenSizes: [64, 64], outputSize: 3, seed: 5, layerNorm: true });
    const opt2 = new Adam(net2);
    const meta = loadCheckpoint(path, { network: net2, optimizer: opt2 });
    expect(meta.algo).toBe('ppo');
    expect(Array.from(net2.forward(x))).toEqual(Array.from(net.forward(x)));
    expect(Array.from(opt2.m)).toEqual(Array.from(opt.m));
    expect(Array.from(opt2.v)).toEqual(Array.from(opt.v));
    expect(opt2.stepCount).toBe(2);
    // The names are PyTorch's, readable without rlcore.
    const raw = loadSafetensors(path);
    expect(Object.keys(raw.tensors)).toContain('0.weight');
    expect(Object.keys(raw.tensors)).toContain('optimizer.exp_avg_sq.6.bias');
    expect(raw.tensors['0.weight'].shape).toEqual([64, 7]);
  });

  it('Sgd momentum state round-trips', () => {
    const net = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 1 });
    const opt = new Sgd(net, { momentum: 0.9 });
    net.grads.fill(0.5);
    opt.step();
    const path = join(dir, 'sgd.safetensors');
    saveCheckpoint(path, { network: net, optimizer: opt });
    const net2 = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 1 });
    const opt2 = new Sgd(net2, { momentum: 0.9 });
    loadCheckpoint(path, { network: net2, optimizer: opt2 });
    expect(Array.from(opt2.momentumBuffer)).toEqual(Array.from(opt.momentumBuffer));
    expect(opt2.stepCount).toBe(1);
  });

  it('a mismatched file throws and leaves the network and optimiser untouched', () => {
    const small = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 1, seed: 1 });
    const path = join(dir, 'small.safetensors');
    saveCheckpoint(path, { network: small });
    const big = new Mlp({ inputSize: 3, hiddenSizes: [5], outputSize: 1, seed: 2 });
    const before = big.params.slice();
    expect(code(() => loadCheckpoint(path, { network: big }))).toBe('ERR_SHAPE');
    expect(Array.from(big.params)).toEqual(Array.from(before));
    // Network matches but the optimiser state is missing: the network is restored too.
    const same = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 1, seed: 3 });
    const sameBefore = same.params.slice();
    const opt = new Adam(same);
    expect(code(() => loadCheckpoint(path, { network: same, optimizer: opt }))).toBe('ERR_ARG');
    expect(Array.from(same.params)).toEqual(Array.from(sameBefore));
    // Extra or missing tensors.
    const t = networkTensors(small);
    expect(code(() => loadNetworkTensors(same, { ...t, extra: t['0.bias'] }))).toBe('ERR_ARG');
    const { ['2.bias']: _, ...missing } = t;
    expect(code(() => loadNetworkTensors(same, missing))).toBe('ERR_ARG');
    expect(Array.from(same.params)).toEqual(Array.from(sameBefore));
  });

  it('rejects malformed files with ERR_IO', () => {
    const good = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const bad = (mutate: (b: Uint8Array) => Uint8Array) => code(() => parseSafetensors(mutate(good.slice())));
    expect(bad((b) => b.subarray(0, 5))).toBe('ERR_IO'); // no header
    expect(bad((b) => b.subarray(0, b.length - 1))).toBe('ERR_IO'); // truncated data
    expect(bad((b) => (new DataView(b.buffer).setBigUint64(0, 1n << 40n, true), b))).toBe('ERR_IO');
    expect(bad((b) => ((b[8] = 0x5b), b))).toBe('ERR_IO'); // not JSON / not an object
    const header = (h: unknown, data = 0) => {
      const json = Buffer.from(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + data);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return code(() => parseSafetensors(out));
    };
    expect(header({ w: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, 2)).toBe('ERR_IO');
    expect(header({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 8)).toBe('ERR_IO');
    expect(header({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4)).toBe('ERR_IO');
    expect(header({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, v: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, 8)).toBe('ERR_IO');
    expect(header({ __metadata__: { a: 1 } })).toBe('ERR_IO');
    expect(code(() => loadSafetensors(join(dir, 'missing.safetensors')))).toBe('ERR_IO');
    expect(code(() => saveSafetensors(join(dir, 'no/such/dir/x.safetensors'), {}))).toBe('ERR_IO');
    expect(code(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }))).toBe('ERR_SHAPE');
    expect(code(() => serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }))).toBe('ERR_DTYPE');
  });

  it('reads a file written by another tool (hand-built bytes)', () => {
    const json = Buffer.from('{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}');
    const out = new Uint8Array(8 + json.length + 16);
    const dv = new DataView(out.buffer);
    dv.setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    dv.setFloat64(8 + json.length, Math.PI, true);
    dv.setFloat64(16 + json.length, -1, true);
    const path = join(dir, 'foreign.safetensors');
    writeFileSync(path, out);
    const { tensors } = loadSafetensors(path);
    expect(Array.from(tensors.x.data)).toEqual([Math.PI, -1]);
    expect(readFileSync(path).length).toBe(out.length);
  });
});
