import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RlcoreError, setNumThreads, whiten, whitenAsync } from '../../src/index.js';
import { native } from '../../src/native.js';
import { whitenRef } from '../reference/normalize.js';
import { cudaPresent, expectClose, expectSameBits, randomF32, randomFlags, rng } from '../helpers.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

const sizeArb = fc.oneof(fc.constant(1), fc.constant(2), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 60_000, max: 140_000 }));
const optsArb = fc.record({
  eps: fc.constantFrom(1e-8, 1e-3, 0.5),
  unbiased: fc.boolean(),
  shiftMean: fc.boolean(),
});

describe('whiten', () => {
  it('matches the reference over the whole array, a mask, or minibatch indices', () => {
    fc.assert(
      fc.property(
        sizeArb,
        fc.integer(),
        fc.constantFrom('all', 'mask', 'indices'),
        fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 5, max: 95 }).map((k) => k / 100)),
        fc.double({ min: -100, max: 100, noNaN: true }),
        optsArb,
        (n, seed, kind, p, offset, opts) => {
          const rand = rng(seed);
          const x = randomF32(n, rand, 3).map((v) => v + offset);
          const mask = kind === 'mask' ? randomFlags(n, rand, 1 - p) : undefined;
          const indices = kind === 'indices' ? Int32Array.from({ length: Math.floor(rand() * n * 1.5) }, () => Math.floor(rand() * n)) : undefined;
          const got = whiten({ x, mask, indices, ...opts });
          const want = whitenRef({ x, mask, indices, ...opts });
          expect(got.count).toBe(want.count);
          expect(got.mean).toBeCloseTo(want.mean, 9);
          expect(Math.abs(got.std - want.std)).toBeLessThanOrEqual(1e-9 * (1 + want.std));
          // |out| can reach ~sqrt(count): compare relative to the scale of the result.
          expectClose(got.out, want.out, 1e-5, 1e-5 * (1 + Math.abs(opts.shiftMean ? 0 : want.mean)));
        },
      ),
      { numRuns: 120 },
    );
  });

  it('agrees with a hand computation', () => {
    // x = [1, 2, 3, 6]: mean 3, unbiased var (4 + 1 + 0 + 9) / 3 = 14/3.
    const r = whiten({ x: new Float32Array([1, 2, 3, 6]), eps: 1e-8 });
    expect(r.mean).toBe(3);
    expect(r.std).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect(r.count).toBe(4);
    const s = Math.sqrt(14 / 3) + 1e-8;
    expectClose(r.out, [-2 / s, -1 / s, 0, 3 / s], 1e-6, 0);
    // Biased std of [2, 4] is 1; keeping the mean gives (x - 3) / 1 + 3 = x.
    const k = whiten({ x: new Float32Array([2, 4, 99]), mask: new Uint8Array([1, 1, 0]), unbiased: false, shiftMean: false, eps: 1e-12 });
    expect(Array.from(k.out)).toEqual([2, 4, 0]);
    expect([k.mean, k.std, k.count]).toEqual([3, 1, 2]);
    // Minibatch: out[j] belongs to x[indices[j]]; repeated indices count twice.
    const m = whiten({ x: new Float32Array([10, 0, 20]), indices: new Int32Array([2, 0, 0]), unbiased: false, eps: 1e-12 });
    const mean = 40 / 3, sd = Math.sqrt(((20 - mean) ** 2 + 2 * (10 - mean) ** 2) / 3);
    expectClose(m.out, [(20 - mean) / sd, (10 - mean) / sd, (10 - mean) / sd], 1e-6, 1e-6);
  });

  it('has output mean 0 and std 1 (up to eps) and is exact for tiny or empty selections', () => {
    const x = randomF32(100_003, rng(4), 7).map((v) => v + 1000);
    const r = whiten({ x });
    const again = whiten({ x: r.out, unbiased: true });
    expect(Math.abs(again.mean)).toBeLessThan(1e-6);
    expect(again.std).toBeCloseTo(1, 6);
    const one = whiten({ x: new Float32Array([5]) });
    expect([one.out[0], one.mean, one.std, one.count]).toEqual([0, 5, 0, 1]);
    const none = whiten({ x: new Float32Array([5, 6]), mask: new Uint8Array(2) });
    expect([...none.out, none.mean, none.std, none.count]).toEqual([0, 0, 0, 0, 0]);
    const empty = whiten({ x: new Float32Array([5, 6]), indices: new Int32Array(0) });
    expect([empty.out.length, empty.count]).toEqual([0, 0]);
  });

  it('ignores NaN and Inf where the mask is 0, and counts any nonzero mask byte as set', () => {
    for (const n of [5, 16, 31, 4096 + 33, 70_001]) {
      const rand = rng(n);
      const x = randomF32(n, rand, 3);
      const mask = randomFlags(n, rand, 0.5).map((m, i) => (m ? [1, 2, 255][i % 3] : 0));
      const clean = Float32Array.from(x, (v, i) => (mask[i] ? v : [NaN, Infinity, -Infinity][i % 3]));
      const opts = { eps: 1e-8, unbiased: true, shiftMean: true };
      const got = whiten({ x: clean, mask, ...opts });
      const want = whitenRef({ x, mask: Uint8Array.from(mask, (m) => (m ? 1 : 0)), ...opts });
      expectClose(got.out, want.out, 1e-5, 1e-5);
      expect(got.count).toBe(want.count);
      expect(got.mean).toBeCloseTo(want.mean, 9);
      expect(got.std).toBeCloseTo(want.std, 9);
    }
  });

  it('a mask equals the minibatch of its set indices (stats), and is independent of the thread count', () => {
    // Over 2^20 elements: the output is written with streaming stores, and n % 16 != 0 leaves a tail.
    const n = (1 << 20) + 37, rand = rng(8);
    const x = randomF32(n, rand), mask = randomFlags(n, rand, 0.4);
    const idx = Int32Array.from(Array.from(mask.keys()).filter((i) => mask[i]));
    const a = whiten({ x, mask }), b = whiten({ x, indices: idx });
    expectClose(a.out, whitenRef({ x, mask, eps: 1e-8, unbiased: true, shiftMean: true }).out, 1e-5, 1e-5);
    expectClose(whiten({ x }).out, whitenRef({ x, eps: 1e-8, unbiased: true, shiftMean: true }).out, 1e-5, 1e-5);
    expect(a.count).toBe(b.count);
    expect(a.mean).toBeCloseTo(b.mean, 12);
    expect(a.std).toBeCloseTo(b.std, 12);
    expect(Array.from(idx, (i) => a.out[i])).toEqual(Array.from(b.out));
    setNumThreads(1);
    try {
      const c = whiten({ x, mask });
      expect([c.mean, c.std]).toEqual([a.mean, a.std]);
      expect(Array.from(c.out)).toEqual(Array.from(a.out));
    } finally {
      setNumThreads(2);
    }
  });

  it('an async call reads its own copy of the indices: changing them before it settles changes nothing', async () => {
    const rand = rng(12), n = 300_000;
    const x = randomF32(n, rand), indices = Int32Array.from({ length: n }, () => Math.floor(rand() * n));
    const want = whiten({ x, indices });
    const pending = whitenAsync({ x, indices });
    indices.fill(0); // read in place, indices changed to garbage while the call runs could take it out of bounds
    expectSameBits((await pending).out, want.out);
  });

  it('writes into a caller-provided output; the async variant agrees', async () => {
    const x = randomF32(1000, rng(1));
    const out = new Float32Array(1000);
    const r = whiten({ x, out });
    expect(r.out).toBe(out);
    const a = await whitenAsync({ x });
    expect(Array.from(a.out)).toEqual(Array.from(out));
    expect([a.mean, a.std, a.count]).toEqual([r.mean, r.std, r.count]);
  });

  it('rejects bad input with typed errors, before writing anything', () => {
    const x = new Float32Array([1, 2, 3, 4]);
    const out = new Float32Array(2).fill(7);
    expect(code(() => whiten({ x, indices: new Int32Array([0, 4]), out }))).toBe('ERR_RANGE');
    expect(code(() => whiten({ x, indices: new Int32Array([-1, 0]), out }))).toBe('ERR_RANGE');
    expect(Array.from(out)).toEqual([7, 7]);
    expect(code(() => whiten({ x, indices: new Int32Array([0, 1]), out: new Float32Array(4) }))).toBe('ERR_SHAPE');
    expect(code(() => whiten({ x, mask: new Uint8Array(3) }))).toBe('ERR_SHAPE');
    expect(code(() => whiten({ x, mask: new Uint8Array(4), indices: new Int32Array(1) }))).toBe('ERR_ARG');
    expect(code(() => whiten({ x, eps: 0 }))).toBe('ERR_RANGE');
    expect(code(() => whiten({ x, eps: -1 }))).toBe('ERR_RANGE');
    expect(code(() => whiten({ x, eps: Infinity }))).toBe('ERR_RANGE');
    expect(code(() => whiten({ x, eps: NaN }))).toBe('ERR_RANGE');
    expect(code(() => whiten({ x, unbiased: 1 as unknown as boolean }))).toBe('ERR_ARG');
    expect(code(() => whiten({ x: new Float64Array(4) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(code(() => whiten({ x, indices: new Uint32Array(2) as unknown as Int32Array }))).toBe('ERR_DTYPE');
    expect(code(() => whiten({ x, out: x }))).toBe('ERR_ARG');
    expect(code(() => whiten({ x, device: 'tpu' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(code(() => whiten(undefined as unknown as Parameters<typeof whiten>[0]))).toBe('ERR_ARG');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().whiten;
    const f = new Float32Array(4), s = new Float64Array(3);
    const attempts: unknown[][] = [
      [],
      [f],
      [f, null, null, 1e-8, true, true, new Float32Array(3), s],
      [f, null, null, 0, true, true, new Float32Array(4), s],
      [f, null, null, 1e-8, true, true, new Float32Array(4), new Float64Array(2)],
      [f, null, new Int32Array([9]), 1e-8, true, true, new Float32Array(1), s],
      [f, new Uint8Array(4), new Int32Array([0]), 1e-8, true, true, new Float32Array(1), s],
      [f, null, null, 1e-8, true, true, f, s],
      ['x', null, null, 1e-8, true, true, f, s],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(sizeArb, fc.integer(), optsArb, (n, seed, opts) => {
        const x = randomF32(n, rng(seed));
        expectClose(whiten({ x, ...opts, device: 'cuda' }).out, whitenRef({ x, ...opts }).out, 1e-5, 1e-5);
      }),
      { numRuns: 30 },
    );
  });
});
