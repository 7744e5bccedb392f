import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backends, make, ReplayBuffer, RlcoreError, setNumThreads } from '../../src/index.js';
import { expectClose, rng } from '../helpers.js';
import { importanceWeights, refNextOf, refNstep, type RefTransition } from '../reference/replay.js';

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

// Fills a buffer with `steps` vector steps of `numEnvs` copies; obs[0] = absolute position,
// next obs[0] = position + 0.5, so every gathered row says where it came from.
function fill(rb: ReplayBuffer, steps: number, numEnvs: number, rand: () => number, pDone: number, history: RefTransition[] = [], shuffle = false): RefTransition[] {
  for (let t = 0; t < steps; t++) {
    const rows = shuffle ? 1 + Math.floor(rand() * numEnvs) : numEnvs;
    const envIds = Int32Array.from({ length: rows }, (_, i) => (shuffle ? Math.floor(rand() * numEnvs) : i));
    const obs = new Float32Array(rows * rb.obsDim), next = new Float32Array(rows * rb.obsDim);
    const rewards = new Float32Array(rows), term = new Uint8Array(rows), trunc = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) {
      const p = history.length;
      obs[i * rb.obsDim] = p;
      next[i * rb.obsDim] = p + 0.5;
      rewards[i] = Math.round((rand() * 2 - 1) * 100) / 16;
      const u = rand();
      term[i] = u < pDone / 2 ? 1 : 0;
      trunc[i] = u >= pDone / 2 && u < pDone ? 1 : 0;
      history.push({ env: envIds[i], reward: rewards[i], terminated: term[i] === 1, truncated: trunc[i] === 1, next: p + 0.5 });
    }
    const actions = rb.actionDtype === 'i32' ? new Int32Array(rows * rb.actionDim) : new Float32Array(rows * rb.actionDim);
    rb.add({ observations: obs, actions, rewards, nextObservations: next, terminated: term, truncated: trunc, envIds });
  }
  return history;
}

const absOf = (slot: number, total: number, capacity: number) => slot + capacity * Math.floor((total - 1 - slot) / capacity);

describe('ReplayBuffer: sum tree and prioritized sampling', () => {
  it('keeps root = Σ p^α and min = min p^α under random updates (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 300 }), (seed, capacity) => {
        const rand = rng(seed);
        const alpha = 0.2 + rand();
        const rb = new ReplayBuffer({ capacity, obsDim: 1, prioritized: true, alpha, seed, priorityEpsilon: 1e-3 });
        fill(rb, 1 + Math.floor(rand() * 2 * capacity), 1, rand, 0.1);
        const size = rb.size;
        const raw = new Float64Array(size).fill(1); // max priority so far: 1
        let max = 1;
        for (let round = 0; round < 5; round++) {
          const B = 1 + Math.floor(rand() * 20);
          const idx = Int32Array.from({ length: B }, () => Math.floor(rand() * size));
          const pr = Float32Array.from({ length: B }, () => rand() * 10);
          rb.updatePriorities(idx, pr);
          idx.forEach((r, b) => {
            raw[r] = pr[b] + 1e-3;
            max = Math.max(max, pr[b] + 1e-3);
          });
        }
        const leaves = Array.from(raw, (r) => Math.pow(r, alpha));
        const got = rb.priorities(Int32Array.from({ length: size }, (_, i) => i));
        expectClose(got, leaves, 1e-12, 0);
        const s = rb.stats();
        expect(Math.abs(s.prioritySum - leaves.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(1e-9 * s.prioritySum);
        expect(s.priorityMin).toBeCloseTo(Math.min(...leaves), 12);
        expect(s.maxPriority).toBeCloseTo(max, 6);
        rb.close();
      }),
      { numRuns: 30 },
    );
  });

  it('samples rows with frequencies ∝ p^α (within 5 standard deviations)', () => {
    const rb = new ReplayBuffer({ capacity: 16, obsDim: 1, prioritized: true, alpha: 0.7, seed: 3 });
    const rand = rng(11);
    fill(rb, 10, 1, rand, 0);
    const idx = Int32Array.from({ length: 10 }, (_, i) => i);
    const pr = Float32Array.from([0.1, 1, 2, 3, 0.5, 8, 0.01, 4, 2.5, 1.5]);
    rb.updatePriorities(idx, pr);
    const leaves = Array.from(pr, (p) => Math.pow(p + 1e-6, 0.7));
    const total = leaves.reduce((a, b) => a + b, 0);
    const counts = new Float64Array(10);
    const B = 4096, calls = 50;
    const out = rb.allocateBatch(B);
    for (let c = 0; c < calls; c++) {
      rb.sample(B, { beta: 0.5 }, out);
      for (const r of out.indices) counts[r]++;
    }
    const n = B * calls;
    for (let i = 0; i < 10; i++) {
      const p = leaves[i] / total;
      expect(Math.abs(counts[i] - n * p)).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)) + 1);
    }
  });

  it('importance weights match the TS reference (normalised by the max weight)', () => {
    const rand = rng(5);
    const rb = new ReplayBuffer({ capacity: 100, obsDim: 2, prioritized: true, alpha: 0.6, seed: 9 });
    fill(rb, 70, 1, rand, 0.05);
    const all = Int32Array.from({ length: 70 }, (_, i) => i);
    rb.updatePriorities(all, Float32Array.from({ length: 70 }, () => rand() * 5));
    const leaves = rb.priorities(all);
    for (const beta of [0, 0.4, 1]) {
      const b = rb.sample(512, { beta });
      expectClose(b.weights, importanceWeights(leaves, b.indices, beta), 2e-6, 1e-7);
      expect(Math.max(...b.weights)).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  it('gives new transitions the running max priority', () => {
    const rb = new ReplayBuffer({ capacity: 10, obsDim: 1, prioritized: true, alpha: 1, priorityEpsilon: 0.5, seed: 1 });
    fill(rb, 2, 1, rng(1), 0);
    rb.updatePriorities(Int32Array.from([0]), Float32Array.from([7]));
    fill(rb, 1, 1, rng(2), 0);
    expectClose(rb.priorities(Int32Array.from([0, 1, 2])), [7.5, 1, 7.5], 1e-12, 0);
  });
});

describe('ReplayBuffer: n-step returns, sequences, episodes', () => {
  it('n-step returns match the reference on random episodes with vector-env interleaving (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const rand = rng(seed);
        const numEnvs = 1 + Math.floor(rand() * 4), capacity = 5 + Math.floor(rand() * 60);
        const rb = new ReplayBuffer({ capacity, obsDim: 2, actionDim: 1, actionDtype: 'i32', numEnvs, seed });
        const history = fill(rb, 1 + Math.floor(rand() * 40), numEnvs, rand, rand() * 0.4, [], rand() < 0.5);
        const n = 1 + Math.floor(rand() * 6), gamma = rand();
        const size = rb.size, total = history.length;
        const rows = Int32Array.from({ length: size }, (_, i) => i);
        const b = rb.gather(rows, { nStep: n, gamma });
        for (let i = 0; i < size; i++) {
          const p = absOf(i, total, capacity);
          expect(b.observations[i * 2]).toBe(p);
          const ref = refNstep(history, p, n, gamma, capacity);
          expect(b.rewards[i]).toBeCloseTo(ref.G, 4);
          expect(b.discounts[i]).toBeCloseTo(ref.discount, 6);
          expect(b.nextObservations[i * 2]).toBe(history[ref.last].next);
          expect(b.terminated[i]).toBe(history[ref.last].terminated ? 1 : 0);
          expect(b.truncated[i]).toBe(history[ref.last].truncated ? 1 : 0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('strict sequence windows never cross episodes; masked windows stop at the episode end', () => {
    const rand = rng(21);
    const capacity = 300, numEnvs = 3;
    const rb = new ReplayBuffer({ capacity, obsDim: 1, numEnvs, seed: 4 });
    const history = fill(rb, 150, numEnvs, rand, 0.08);
    const total = history.length, L = 5;
    const check = (seq: { indices: Int32Array; mask: Uint8Array }, strict: boolean) => {
      for (let b = 0; b < seq.indices.length / L; b++) {
        let p = absOf(seq.indices[b * L], total, capacity);
        for (let j = 1; j < L; j++) {
          const nx = refNextOf(history, p, capacity);
          if (nx < 0) {
            expect(strict).toBe(false);
            expect(seq.indices[b * L + j]).toBe(-1);
            expect(seq.mask[b * L + j]).toBe(0);
            continue;
          }
          if (seq.indices[b * L + j] === -1) expect(seq.mask[b * L + j]).toBe(0);
          else {
            expect(absOf(seq.indices[b * L + j], total, capacity)).toBe(nx);
            expect(seq.mask[b * L + j]).toBe(1);
            p = nx;
          }
        }
      }
    };
    const strict = rb.sampleSequences(256, L);
    expect(strict.mask.every((m) => m === 1)).toBe(true);
    check(strict, true);
    const masked = rb.sampleSequences(256, L, { masked: true });
    check(masked, false);
    expect(masked.mask.some((m) => m === 0)).toBe(true);
    const g = rb.gather(masked.indices);
    masked.indices.forEach((r, i) => {
      if (r === -1) expect(g.observations[i]).toBe(0);
    });
    expectCode(() => rb.sampleSequences(4, 400), 'ERR_RANGE');
  });

  it('samples whole episodes with probability ∝ exp(R / temperature)', () => {
    const rb = new ReplayBuffer({ capacity: 100, obsDim: 1, seed: 2 });
    const add = (r: number, len: number) => {
      for (let t = 0; t < len; t++) {
        const done = Uint8Array.from([t === len - 1 ? 1 : 0]);
        rb.add({ observations: new Float32Array(1), actions: new Float32Array(1), rewards: Float32Array.from([r / len]), nextObservations: new Float32Array(1), terminated: done, truncated: new Uint8Array(1) });
      }
    };
    add(1, 4);
    add(2, 2);
    add(0, 5);
    add(3, 3); // unfinished last step below
    rb.add({ observations: new Float32Array(1), actions: new Float32Array(1), rewards: Float32Array.from([9]), nextObservations: new Float32Array(1), terminated: new Uint8Array(1), truncated: new Uint8Array(1) });
    const n = 40000, T = 0.8;
    const e = rb.sampleEpisodes(n, { temperature: T });
    const rets = [1, 2, 0, 3], starts = [0, 4, 6, 11], lens = [4, 2, 5, 3];
    const z = rets.reduce((a, r) => a + Math.exp(r / T), 0);
    rets.forEach((r, i) => {
      const count = e.starts.filter((s) => s === starts[i]).length;
      const p = Math.exp(r / T) / z;
      expect(Math.abs(count - n * p)).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)));
    });
    for (let b = 0; b < 100; b++) {
      const i = starts.indexOf(e.starts[b]);
      expect(e.lengths[b]).toBe(lens[i]);
      expect(e.returns[b]).toBeCloseTo(rets[i], 5);
    }
    const f = rb.follow(Int32Array.from([4]), 4);
    expect(Array.from(f.indices)).toEqual([4, 5, -1, -1]);
    // Episodes whose first step is overwritten are no longer drawn.
    for (let i = 0; i < 98; i++) add(0, 1);
    expect(new Set(rb.sampleEpisodes(1000).lengths).has(4)).toBe(false);
  });
});

describe('ReplayBuffer: determinism, save/load, inserts from environments', () => {
  it('same seed, same batches; another seed, other batches', () => {
    const mk = (seed: number) => {
      const rb = new ReplayBuffer({ capacity: 1000, obsDim: 3, prioritized: true, seed });
      fill(rb, 500, 1, rng(1), 0.02);
      return rb;
    };
    const a = mk(7), b = mk(7), c = mk(8);
    const x = a.sample(64), y = b.sample(64), z = c.sample(64);
    expect(Array.from(x.indices)).toEqual(Array.from(y.indices));
    expect(Array.from(x.indices)).not.toEqual(Array.from(z.indices));
    expect(Array.from(a.sample(64).indices)).not.toEqual(Array.from(x.indices));
  });

  it('gives the same batches with 1 or 2 threads (per-sample Philox streams)', () => {
    const mk = () => {
      const rb = new ReplayBuffer({ capacity: 50_000, obsDim: 2, numEnvs: 8, prioritized: true, seed: 12 });
      fill(rb, 5000, 8, rng(3), 0.01);
      return rb;
    };
    const a = mk(), b = mk(), threads = backends().cpu.threads;
    try {
      setNumThreads(1);
      const x = a.sample(8192, { beta: 0.5, nStep: 3 });
      setNumThreads(2);
      const y = b.sample(8192, { beta: 0.5, nStep: 3 });
      expect(y).toEqual(x);
    } finally {
      setNumThreads(threads);
    }
  });

  it('round-trips the whole buffer through bytes and files, identically', () => {
    const rand = rng(33);
    const rb = new ReplayBuffer({ capacity: 64, obsDim: 3, actionDim: 2, numEnvs: 2, prioritized: true, alpha: 0.5, seed: 5, extraFields: [{ name: 'logp', dtype: 'f32' }, { name: 'option', dtype: 'i32', width: 2 }] });
    for (let t = 0; t < 50; t++) {
      const u = Uint8Array.from([rand() < 0.1 ? 1 : 0, 0]);
      rb.add({
        observations: Float32Array.from({ length: 6 }, rand), actions: Float32Array.from({ length: 4 }, rand), rewards: Float32Array.from([rand(), rand()]),
        nextObservations: Float32Array.from({ length: 6 }, rand), terminated: u, truncated: Uint8Array.from([0, rand() < 0.1 ? 1 : 0]),
        extras: { logp: Float32Array.from([rand(), rand()]), option: Int32Array.from([1, 2, 3, 4]) },
      });
    }
    const s = rb.sample(32);
    rb.updatePriorities(s.indices, Float32Array.from({ length: 32 }, () => rand() * 3));
    const bytes = rb.serialize();
    const dir = mkdtempSync(join(tmpdir(), 'rlcore-replay-'));
    rb.save(join(dir, 'rb.bin'));
    const c1 = ReplayBuffer.deserialize(bytes), c2 = ReplayBuffer.load(join(dir, 'rb.bin'));
    expect(c1.serialize()).toEqual(bytes);
    expect(c2.serialize()).toEqual(bytes);
    expect(c2.extraFields).toEqual(rb.extraFields);
    const opts = { beta: 0.6, nStep: 3, gamma: 0.9 };
    const [x, y, z] = [rb.sample(100, opts), c1.sample(100, opts), c2.sample(100, opts)];
    expect(y).toEqual(x);
    expect(z).toEqual(x);
    expect(c2.stats()).toEqual(rb.stats());
    // Bad files: ERR_IO, nothing else.
    expectCode(() => ReplayBuffer.load(join(dir, 'missing.bin')), 'ERR_IO');
    writeFileSync(join(dir, 'bad.bin'), bytes.subarray(0, bytes.length - 20));
    expectCode(() => ReplayBuffer.load(join(dir, 'bad.bin')), 'ERR_IO');
    const flipped = bytes.slice();
    flipped[0] ^= 0xff;
    expectCode(() => ReplayBuffer.deserialize(flipped), 'ERR_IO');
    expectCode(() => rb.save(join(dir, 'no-such-dir', 'x.bin')), 'ERR_IO');
  });

  it('inserts VectorEnv steps with the final observation as next observation where done', () => {
    const env = make('CartPole-v1', { numEnvs: 4, seed: 3 });
    const rb = new ReplayBuffer({ capacity: 5000, obsDim: 4, actionDtype: 'i32', numEnvs: 4, seed: 1 });
    const obs = new Float32Array(16), actions = new Int32Array(4);
    env.reset();
    let dones = 0;
    const expectedNext: number[][] = [];
    for (let t = 0; t < 300; t++) {
      obs.set(env.observations);
      for (let i = 0; i < 4; i++) actions[i] = (t + i) % 2;
      env.step(actions);
      rb.addFromEnv(obs, actions, env);
      for (let i = 0; i < 4; i++) {
        const done = env.terminated[i] | env.truncated[i];
        dones += done;
        expectedNext.push(Array.from((done ? env.finalObservations : env.observations).subarray(4 * i, 4 * i + 4)));
      }
    }
    expect(dones).toBeGreaterThan(5);
    const b = rb.gather(Int32Array.from({ length: 1200 }, (_, i) => i));
    for (let i = 0; i < 1200; i++) expectClose(b.nextObservations.subarray(4 * i, 4 * i + 4), expectedNext[i], 0, 0);
    env.close();
  });

  it('declares a 10M-transition buffer and uses it', () => {
    const rb = new ReplayBuffer({ capacity: 10_000_000, obsDim: 1, seed: 1 });
    fill(rb, 3, 1, rng(1), 0);
    expect(rb.sample(8).observations.every((o) => o >= 0 && o < 3)).toBe(true);
    rb.close();
    expectCode(() => rb.size, 'ERR_ARG');
  });
});

describe('ReplayBuffer: bad input', () => {
  const mk = () => {
    const rb = new ReplayBuffer({ capacity: 50, obsDim: 2, numEnvs: 2, prioritized: true, seed: 1 });
    fill(rb, 10, 2, rng(4), 0.1);
    return rb;
  };
  it('throws typed errors and leaves the buffer unchanged', () => {
    const rb = mk();
    const before = rb.serialize();
    expectCode(() => rb.updatePriorities(Int32Array.from([0, 1]), Float32Array.from([1, -1])), 'ERR_RANGE');
    expectCode(() => rb.updatePriorities(Int32Array.from([0, 1]), Float32Array.from([1, NaN])), 'ERR_RANGE');
    expectCode(() => rb.updatePriorities(Int32Array.from([0, 1]), Float32Array.from([1, Infinity])), 'ERR_RANGE');
    expectCode(() => rb.updatePriorities(Int32Array.from([0, 20]), Float32Array.from([1, 1])), 'ERR_RANGE');
    expectCode(() => rb.updatePriorities(Int32Array.from([-1]), Float32Array.from([1])), 'ERR_RANGE');
    expectCode(() => rb.updatePriorities(Int32Array.from([0]), Float32Array.from([1, 2])), 'ERR_SHAPE');
    expectCode(() => rb.gather(Int32Array.from([0, 20])), 'ERR_RANGE');
    expectCode(() => rb.gather(Int32Array.from([0, -2])), 'ERR_RANGE');
    expectCode(() => rb.priorities(Int32Array.from([99])), 'ERR_RANGE');
    const ok = { observations: new Float32Array(4), actions: new Float32Array(2), rewards: new Float32Array(2), nextObservations: new Float32Array(4), terminated: new Uint8Array(2), truncated: new Uint8Array(2) };
    expectCode(() => rb.add({ ...ok, observations: new Float32Array(3) }), 'ERR_SHAPE');
    expectCode(() => rb.add({ ...ok, terminated: new Float32Array(2) as unknown as Uint8Array }), 'ERR_DTYPE');
    expectCode(() => rb.add({ ...ok, envIds: Int32Array.from([0, 2]) }), 'ERR_RANGE');
    expectCode(() => rb.add({ ...ok, rewards: new Float32Array(3), observations: new Float32Array(6), actions: new Float32Array(3), nextObservations: new Float32Array(6), terminated: new Uint8Array(3), truncated: new Uint8Array(3) }), 'ERR_SHAPE');
    expectCode(() => rb.sample(8, { beta: -1 }), 'ERR_RANGE');
    expectCode(() => rb.sample(8, { gamma: 2 }), 'ERR_RANGE');
    expectCode(() => rb.sample(8, {}, rb.allocateBatch(4)), 'ERR_SHAPE');
    expect(rb.serialize()).toEqual(before);
  });
  it('refuses batches from an empty buffer, bad options and cuda', () => {
    const rb = new ReplayBuffer({ capacity: 10, obsDim: 1 });
    expectCode(() => rb.sample(4), 'ERR_RANGE');
    expectCode(() => rb.sampleSequences(2, 2), 'ERR_RANGE');
    expectCode(() => rb.sampleEpisodes(2), 'ERR_RANGE');
    expectCode(() => rb.updatePriorities(Int32Array.from([0]), Float32Array.from([1])), 'ERR_ARG');
    expectCode(() => new ReplayBuffer({ capacity: 0, obsDim: 1 }), 'ERR_SHAPE');
    expectCode(() => new ReplayBuffer({ capacity: 2 ** 31, obsDim: 1 }), 'ERR_RANGE');
    expectCode(() => new ReplayBuffer({ capacity: 10, obsDim: 1, alpha: -1 }), 'ERR_RANGE');
    expectCode(() => new ReplayBuffer({ capacity: 10, obsDim: 1, extraFields: [{ name: 'rewards', dtype: 'f32' }] }), 'ERR_ARG');
    expectCode(() => new ReplayBuffer({ capacity: 10, obsDim: 1, device: 'cuda' }), 'ERR_DEVICE');
  });
});
