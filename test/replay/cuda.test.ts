// CUDA parity of the device replay buffer (cuda/replay.cu): a buffer on device 'cuda' and one on
// 'cpu' fed the same inserts give the same buffers (serialized byte for byte: rows, links,
// priority leaves, episodes, cursor), draw the same rows with the same weights (uniform and
// prioritized, same seed), gather the same batches, and agree after priority updates. Skipped,
// and reported as skipped, where no CUDA device is present; without a GPU the same code paths
// run on the host against the CPU buffer in scripts/cuda-host-check.sh.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplayBuffer, RlcoreError, type ReplayBatch, type ReplayBufferOptions, type ReplayInsert } from '../../src/index.js';
import { cudaPresent, randomF32, rng } from '../helpers.js';

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    expect((e as RlcoreError).code).toBe(code);
    return;
  }
  expect.fail(`expected RlcoreError ${code}`);
}

function insert(rb: ReplayBuffer, rows: number, rand: () => number, pDone: number, withIds: boolean): ReplayInsert {
  const D = rb.obsDim;
  const flags = () => Uint8Array.from({ length: rows }, () => (rand() < pDone ? 1 : 0));
  const extras: Record<string, Float32Array | Int32Array | Uint8Array> = {};
  for (const f of rb.extraFields) {
    extras[f.name] = f.dtype === 'f32' ? randomF32(rows * f.width, rand) : f.dtype === 'i32'
      ? Int32Array.from({ length: rows * f.width }, () => Math.floor(rand() * 1e6))
      : Uint8Array.from({ length: rows * f.width }, () => Math.floor(rand() * 256));
  }
  return {
    observations: randomF32(rows * D, rand), nextObservations: randomF32(rows * D, rand),
    actions: rb.actionDtype === 'i32' ? Int32Array.from({ length: rows * rb.actionDim }, () => Math.floor(rand() * 9)) : randomF32(rows * rb.actionDim, rand),
    rewards: randomF32(rows, rand), terminated: flags(), truncated: flags(),
    finalObservations: rand() < 0.5 ? randomF32(rows * D, rand) : undefined,
    envIds: withIds ? Int32Array.from({ length: rows }, () => Math.floor(rand() * rb.numEnvs)) : undefined,
    extras,
  };
}

function expectSameBatch(got: ReplayBatch, want: ReplayBatch, label: string): void {
  for (const key of ['indices', 'weights', 'observations', 'actions', 'rewards', 'nextObservations', 'terminated', 'truncated', 'discounts'] as const) {
    expect(Buffer.from(got[key].buffer).equals(Buffer.from(want[key].buffer)), `${label}: ${key}`).toBe(true);
  }
  for (const name of Object.keys(want.extras)) {
    expect(Buffer.from(got.extras[name].buffer).equals(Buffer.from(want.extras[name].buffer)), `${label}: extras.${name}`).toBe(true);
  }
}

function expectSameBuffer(dev: ReplayBuffer, cpu: ReplayBuffer, label: string): void {
  expect(dev.stats(), label).toEqual(cpu.stats());
  expect(Buffer.from(dev.serialize()).equals(Buffer.from(cpu.serialize())), `${label}: serialized`).toBe(true);
}

const CASES: Array<Omit<ReplayBufferOptions, 'device' | 'seed'>> = [
  { capacity: 1, obsDim: 1 },
  { capacity: 7, obsDim: 3, numEnvs: 3, prioritized: true },
  { capacity: 100, obsDim: 5, actionDim: 2, actionDtype: 'i32', numEnvs: 4, prioritized: true, extraFields: [{ name: 'logp', dtype: 'f32' }, { name: 'tag', dtype: 'u8', width: 3 }, { name: 'opt', dtype: 'i32', width: 2 }] },
  { capacity: 4099, obsDim: 17, actionDim: 6, numEnvs: 16, prioritized: true, alpha: 0.7 },
  { capacity: 5000, obsDim: 4, numEnvs: 8, extraFields: [{ name: 'mask', dtype: 'u8', width: 5 }] },
];

describe.skipIf(!cudaPresent())('ReplayBuffer on CUDA', () => {
  it('matches the CPU buffer: inserts, uniform and prioritized draws, gathers, updates, episodes', () => {
    let seed = 1;
    for (const o of CASES) {
      const cpu = new ReplayBuffer({ ...o, seed, device: 'cpu' }), dev = new ReplayBuffer({ ...o, seed, device: 'cuda' });
      expect(dev.device).toBe('cuda');
      const rand = rng(seed++);
      for (let step = 0; step < 15; step++) {
        const withIds = step % 3 !== 0;
        const rows = withIds ? 1 + Math.floor(rand() * (step === 7 ? 2.5 * o.capacity + 3 : 64)) : (o.numEnvs ?? 1);
        const batch = insert(cpu, rows, rand, 0.1, withIds);
        cpu.add(batch);
        dev.add(batch);
        expectSameBuffer(dev, cpu, `capacity ${o.capacity} insert ${step}`);
        const B = step % 5 === 0 ? 1 : 1 + Math.floor(rand() * 700);
        for (const uniform of [false, true]) {
          const opts = { beta: 0.3 + step * 0.05, uniform, gamma: 0.9 };
          expectSameBatch(dev.sample(B, opts), cpu.sample(B, opts), `capacity ${o.capacity} step ${step} uniform ${uniform}`);
        }
        if (o.prioritized) {
          const idx = Int32Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * cpu.size));
          const p = Float32Array.from(idx, () => rand() * 4);
          if (idx.length > 2) idx[idx.length - 1] = idx[0];
          p[0] = 0;
          cpu.updatePriorities(idx, p);
          dev.updatePriorities(idx, p);
          expectSameBuffer(dev, cpu, `capacity ${o.capacity} update ${step}`);
          expect(Array.from(dev.priorities(idx))).toEqual(Array.from(cpu.priorities(idx)));
        }
        if (cpu.stats().episodes > 0) expect(dev.sampleEpisodes(17, { temperature: 0.5 })).toEqual(cpu.sampleEpisodes(17, { temperature: 0.5 }));
      }
      const idx = Int32Array.from({ length: 50 }, (_, i) => (i % 7 === 3 ? -1 : Math.floor(rand() * cpu.size)));
      expectSameBatch(dev.gather(idx, { gamma: 0.5 }), cpu.gather(idx, { gamma: 0.5 }), `capacity ${o.capacity} gather with -1`);
      cpu.close();
      dev.close();
    }
  });

  it('is deterministic and refuses CPU-only calls without changing the sampling stream', () => {
    const o = { capacity: 3000, obsDim: 3, numEnvs: 4, prioritized: true, seed: 9 } as const;
    const a = new ReplayBuffer({ ...o, device: 'cuda' }), b = new ReplayBuffer({ ...o, device: 'cuda' }), cpu = new ReplayBuffer(o);
    const rand = rng(3);
    for (let i = 0; i < 20; i++) {
      const batch = insert(a, 200, rand, 0.05, true);
      a.add(batch);
      b.add(batch);
      cpu.add(batch);
    }
    expectCode(() => a.sample(32, { nStep: 3 }), 'ERR_DEVICE');
    expectCode(() => a.sampleSequences(4, 5), 'ERR_DEVICE');
    expectCode(() => a.follow(Int32Array.of(0), 5), 'ERR_DEVICE');
    const x = a.sample(4096, { beta: 0.5 }), y = b.sample(4096, { beta: 0.5 }), z = cpu.sample(4096, { beta: 0.5 });
    expectSameBatch(x, y, 'two device buffers');
    expectSameBatch(x, z, 'device and cpu after refused calls');
  });

  it('saves and loads across devices in one format', () => {
    const o = { capacity: 500, obsDim: 2, numEnvs: 2, prioritized: true, seed: 4 } as const;
    const dev = new ReplayBuffer({ ...o, device: 'cuda' }), cpu = new ReplayBuffer(o);
    const rand = rng(5);
    for (let i = 0; i < 30; i++) {
      const batch = insert(cpu, 40, rand, 0.1, true);
      cpu.add(batch);
      dev.add(batch);
    }
    dev.updatePriorities(Int32Array.of(1, 2, 3), Float32Array.of(5, 0.5, 2));
    cpu.updatePriorities(Int32Array.of(1, 2, 3), Float32Array.of(5, 0.5, 2));
    const path = join(mkdtempSync(join(tmpdir(), 'rlcore-replay-cuda-')), 'rb.bin');
    dev.save(path);
    const back = ReplayBuffer.load(path, { device: 'cuda' }), onCpu = ReplayBuffer.load(path);
    expect(back.device).toBe('cuda');
    expectSameBuffer(back, cpu, 'device → file → device');
    expectSameBuffer(onCpu, cpu, 'device → file → cpu');
    const fromCpu = ReplayBuffer.deserialize(cpu.serialize(), { device: 'cuda' });
    expectSameBatch(fromCpu.sample(999), cpu.sample(999), 'cpu → device, then sampled');
  });

  it('at capacity 1M: prioritized sample + update, batch 4096, as the CPU', () => {
    const o = { capacity: 1_000_000, obsDim: 3, numEnvs: 64, prioritized: true, seed: 12 } as const;
    const dev = new ReplayBuffer({ ...o, device: 'cuda' }), cpu = new ReplayBuffer(o);
    const rand = rng(8);
    const batch = insert(cpu, 65_536, rand, 0.01, true);
    for (let i = 0; i < 17; i++) {
      cpu.add(batch);
      dev.add(batch);
    }
    for (let i = 0; i < 5; i++) {
      const a = dev.sample(4096, { beta: 0.4 }), b = cpu.sample(4096, { beta: 0.4 });
      expectSameBatch(a, b, `round ${i}`);
      const p = Float32Array.from(a.indices, () => rand() * 3);
      dev.updatePriorities(a.indices, p);
      cpu.updatePriorities(b.indices, p);
      expect(dev.stats()).toEqual(cpu.stats());
    }
  });
});

describe.skipIf(cudaPresent())('ReplayBuffer device option without a GPU', () => {
  it("'cuda' throws ERR_DEVICE; 'auto' and 'cpu' keep the CPU buffer", () => {
    expectCode(() => new ReplayBuffer({ capacity: 10, obsDim: 1, device: 'cuda' }), 'ERR_DEVICE');
    expectCode(() => ReplayBuffer.deserialize(new Uint8Array(4), { device: 'cuda' }), 'ERR_DEVICE');
    expect(new ReplayBuffer({ capacity: 10, obsDim: 1, device: 'auto' }).device).toBe('cpu');
    expect(new ReplayBuffer({ capacity: 10, obsDim: 1, device: 'cpu' }).device).toBe('cpu');
  });
});
