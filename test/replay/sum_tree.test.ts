// The 8-ary priority tree, the batched insert and the vectorised (p + ε)^α behind the replay
// buffer, checked through the public API against plain references: Σ and min over the leaves,
// Math.pow, and a buffer filled one row at a time.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReplayBuffer } from '../../src/index.js';
import { expectClose, rng } from '../helpers.js';
import { importanceWeights, refNstep, type RefTransition } from '../reference/replay.js';

interface Rows {
  obs: Float32Array;
  next: Float32Array;
  fin: Float32Array;
  rewards: Float32Array;
  term: Uint8Array;
  trunc: Uint8Array;
  envIds: Int32Array;
}

// `rows` transitions from random env copies (repeats allowed); obs[0] = absolute position.
function randomRows(rows: number, numEnvs: number, start: number, rand: () => number, pDone: number, history: RefTransition[]): Rows {
  const r: Rows = {
    obs: new Float32Array(rows * 2), next: new Float32Array(rows * 2), fin: new Float32Array(rows * 2), rewards: new Float32Array(rows),
    term: new Uint8Array(rows), trunc: new Uint8Array(rows), envIds: new Int32Array(rows),
  };
  for (let i = 0; i < rows; i++) {
    const p = start + i;
    r.envIds[i] = Math.floor(rand() * numEnvs);
    r.obs[2 * i] = p;
    r.rewards[i] = Math.round((rand() * 2 - 1) * 64) / 8;
    const u = rand();
    r.term[i] = u < pDone / 2 ? 1 : 0;
    r.trunc[i] = u >= pDone / 2 && u < pDone ? 1 : 0;
    const done = r.term[i] + r.trunc[i] > 0;
    r.next[2 * i] = p + 0.5;
    r.fin[2 * i] = p + 0.25; // the next obs where done
    history.push({ env: r.envIds[i], reward: r.rewards[i], terminated: r.term[i] === 1, truncated: r.trunc[i] === 1, next: done ? p + 0.25 : p + 0.5 });
  }
  return r;
}

function insert(rb: ReplayBuffer, r: Rows, from: number, to: number): void {
  const s = (a: Float32Array | Uint8Array | Int32Array, w: number) => a.subarray(from * w, to * w);
  rb.add({
    observations: s(r.obs, 2) as Float32Array, actions: new Float32Array(to - from), rewards: s(r.rewards, 1) as Float32Array,
    nextObservations: s(r.next, 2) as Float32Array, terminated: s(r.term, 1) as Uint8Array, truncated: s(r.trunc, 1) as Uint8Array,
    finalObservations: s(r.fin, 2) as Float32Array, envIds: s(r.envIds, 1) as Int32Array,
  });
}

const absOf = (slot: number, total: number, capacity: number) => slot + capacity * Math.floor((total - 1 - slot) / capacity);

describe('ReplayBuffer: batched inserts', () => {
  it('a batch insert equals inserting its rows one by one, also past the capacity (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const rand = rng(seed);
        const capacity = 1 + Math.floor(rand() * 12), numEnvs = 1 + Math.floor(rand() * 6);
        const opts = { capacity, obsDim: 2, numEnvs, prioritized: true, seed, alpha: 0.7 };
        const batched = new ReplayBuffer(opts), single = new ReplayBuffer(opts);
        const history: RefTransition[] = [];
        for (let call = 0; call < 6; call++) {
          const rows = 1 + Math.floor(rand() * 3 * capacity);
          const r = randomRows(rows, numEnvs, history.length, rand, rand() * 0.5, history);
          insert(batched, r, 0, rows);
          for (let i = 0; i < rows; i++) insert(single, r, i, i + 1);
          if (rand() < 0.5) {
            const size = batched.size;
            const idx = Int32Array.from({ length: 1 + Math.floor(rand() * 5) }, () => Math.floor(rand() * size));
            const pr = Float32Array.from(idx, () => rand() * 4);
            batched.updatePriorities(idx, pr);
            single.updatePriorities(idx, pr);
          }
        }
        expect(batched.serialize()).toEqual(single.serialize());
        // And the links give the reference n-step returns.
        const size = batched.size, total = history.length, n = 1 + Math.floor(rand() * 4), gamma = 0.9;
        const b = batched.gather(Int32Array.from({ length: size }, (_, i) => i), { nStep: n, gamma });
        for (let i = 0; i < size; i++) {
          const p = absOf(i, total, capacity);
          expect(b.observations[2 * i]).toBe(p);
          const ref = refNstep(history, p, n, gamma, capacity);
          expect(b.rewards[i]).toBeCloseTo(ref.G, 4);
          expect(b.discounts[i]).toBeCloseTo(ref.discount, 6);
          expect(b.nextObservations[2 * i]).toBe(history[ref.last].next);
        }
        batched.close();
        single.close();
      }),
      { numRuns: 80 },
    );
  });
});

describe('ReplayBuffer: 8-ary priority tree', () => {
  it('root = Σ leaves and min = min leaves after random inserts and updates, at sizes that are not powers of 8 (property)', () => {
    const sizes = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(63, 64, 65, 511, 512, 513, 4095, 4097), fc.integer({ min: 70, max: 6000 }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), sizes, (seed, capacity) => {
        const rand = rng(seed);
        const alpha = rand() * 2, eps = 1e-3;
        const rb = new ReplayBuffer({ capacity, obsDim: 2, numEnvs: 1 << 14, prioritized: true, alpha, seed, priorityEpsilon: eps });
        const history: RefTransition[] = [];
        let raw: number[] = [];
        let max = 1;
        for (let round = 0; round < 4; round++) {
          const rows = 1 + Math.floor(rand() * Math.min(capacity, 3000));
          const r = randomRows(rows, 1 << 14, history.length, rand, 0.05, history);
          insert(rb, r, 0, rows);
          for (let i = 0; i < rows; i++) raw[(history.length - rows + i) % capacity] = max;
          raw = raw.slice(0, rb.size);
          // Updates: small batches and batches larger than the tree's upper levels, with repeats (the last one wins).
          const size = rb.size;
          const B = rand() < 0.5 ? 1 + Math.floor(rand() * 8) : 1 + Math.floor(rand() * 2 * size);
          const idx = Int32Array.from({ length: B }, () => Math.floor(rand() * size));
          const pr = Float32Array.from({ length: B }, () => (rand() < 0.1 ? 0 : rand() * 10));
          rb.updatePriorities(idx, pr);
          idx.forEach((row, b) => {
            raw[row] = pr[b] + eps;
            max = Math.max(max, pr[b] + eps);
          });
        }
        const leaves = raw.map((x) => Math.pow(x, alpha));
        const got = rb.priorities(Int32Array.from({ length: rb.size }, (_, i) => i));
        expectClose(got, leaves, 1e-13, 0);
        const s = rb.stats();
        const sum = leaves.reduce((a, b) => a + b, 0);
        expect(Math.abs(s.prioritySum - sum)).toBeLessThanOrEqual(1e-12 * sum);
        expect(s.priorityMin).toBe(Math.min(...Array.from(got)));
        // Every sample is a stored row.
        const batch = rb.sample(256, { beta: 0.5 });
        for (const i of batch.indices) expect(i >= 0 && i < rb.size).toBe(true);
        rb.close();
      }),
      { numRuns: 40 },
    );
  });

  it('samples ∝ p^α in a tree of several levels (within 5 standard deviations)', () => {
    const capacity = 3000;
    const rb = new ReplayBuffer({ capacity, obsDim: 2, numEnvs: capacity, prioritized: true, alpha: 1, seed: 4, priorityEpsilon: 1e-9 });
    const rand = rng(8);
    insert(rb, randomRows(capacity, capacity, 0, rand, 0, []), 0, capacity);
    // A few heavy rows spread over the tree (including both edges), the rest light.
    const all = Int32Array.from({ length: capacity }, (_, i) => i);
    const pr = new Float32Array(capacity).fill(0.01);
    const heavy = [0, 7, 8, 63, 64, 511, 1500, 2047, 2999];
    heavy.forEach((r, k) => (pr[r] = 1 + k));
    rb.updatePriorities(all, pr);
    const total = pr.reduce((a, b) => a + b, 0);
    const counts = new Float64Array(capacity);
    const B = 4096, calls = 40;
    const out = rb.allocateBatch(B);
    for (let c = 0; c < calls; c++) {
      rb.sample(B, { beta: 0.4 }, out);
      for (const r of out.indices) counts[r]++;
    }
    const n = B * calls;
    for (const r of heavy) {
      const p = pr[r] / total;
      expect(Math.abs(counts[r] - n * p)).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)) + 1);
    }
    const light = n - heavy.reduce((a, r) => a + counts[r], 0);
    const pl = (0.01 * (capacity - heavy.length)) / total;
    expect(Math.abs(light - n * pl)).toBeLessThanOrEqual(5 * Math.sqrt(n * pl * (1 - pl)) + 1);
    rb.close();
  });
});

describe('ReplayBuffer: (p + ε)^α and importance weights', () => {
  it('leaves match Math.pow over a wide range of priorities, α and ε', () => {
    const rows = 64;
    for (const alpha of [0, 0.4, 0.6, 1, 2.5, 7]) {
      for (const eps of [1e-6, 1e-3, 0.5]) {
        const rb = new ReplayBuffer({ capacity: rows, obsDim: 2, numEnvs: rows, prioritized: true, alpha, priorityEpsilon: eps, seed: 1 });
        insert(rb, randomRows(rows, rows, 0, rng(2), 0, []), 0, rows);
        const rand = rng(Math.round(alpha * 100 + eps * 1e6));
        const pr = Float32Array.from({ length: rows }, (_, i) => (i < 4 ? [0, 1e-30, 1, 1e20][i] : Math.pow(10, rand() * 16 - 8)));
        const idx = Int32Array.from({ length: rows }, (_, i) => i);
        rb.updatePriorities(idx, pr);
        const want = Array.from(pr, (p) => Math.pow(p + eps, alpha));
        expectClose(rb.priorities(idx), want, 1e-13, 0);
        if (alpha === 0) expect(Array.from(rb.priorities(idx)).every((x) => x === 1)).toBe(true);
        rb.close();
      }
    }
  });

  it('weights match the reference; the smallest priority has weight exactly 1', () => {
    const rows = 500;
    const rb = new ReplayBuffer({ capacity: rows, obsDim: 2, numEnvs: rows, prioritized: true, alpha: 0.6, seed: 3 });
    insert(rb, randomRows(rows, rows, 0, rng(4), 0, []), 0, rows);
    const rand = rng(5);
    const idx = Int32Array.from({ length: rows }, (_, i) => i);
    rb.updatePriorities(idx, Float32Array.from({ length: rows }, () => Math.pow(10, rand() * 6 - 3)));
    const leaves = rb.priorities(idx);
    const pmin = Math.min(...Array.from(leaves));
    for (const beta of [0, 0.4, 1, 3]) {
      const b = rb.sample(2048, { beta });
      expectClose(b.weights, importanceWeights(leaves, b.indices, beta), 2e-6, 1e-30);
      b.indices.forEach((r, k) => {
        if (leaves[r] === pmin || beta === 0) expect(b.weights[k]).toBe(1);
      });
    }
    rb.close();
  });
});
