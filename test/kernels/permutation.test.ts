import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RlcoreError } from '../../src/index.js';
import { gatherRows, permutation } from '../../src/kernels/permutation.js';
import { gatherRowsRef, permutationRef } from '../reference/permutation.js';
import { randomF32, rng } from '../helpers.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

describe('permutation', () => {
  it('matches Fisher–Yates on the TypeScript Philox stream and is a permutation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 1e6 }), (n, seed, stream) => {
        const got = permutation({ n, seed, stream });
        expect(Array.from(got)).toEqual(permutationRef(n, seed, stream));
        expect(Array.from(got).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 150 },
    );
  });

  it('is reproducible per (seed, stream) and differs across streams and seeds', () => {
    const a = permutation({ n: 512, seed: 7, stream: 3 });
    expect(permutation({ n: 512, seed: 7, stream: 3 })).toEqual(a);
    expect(permutation({ n: 512, seed: 7, stream: 4 })).not.toEqual(a);
    expect(permutation({ n: 512, seed: 8, stream: 3 })).not.toEqual(a);
    const out = new Int32Array(512);
    expect(permutation({ n: 512, seed: 7, stream: 3, out })).toBe(out);
    expect(out).toEqual(a);
  });

  it('draws the 6 permutations of 3 elements uniformly (chi-square)', () => {
    const counts = new Map<string, number>();
    const draws = 12_000;
    for (let s = 0; s < draws; s++) {
      const k = Array.from(permutation({ n: 3, seed: 1, stream: s })).join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    const e = draws / 6;
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(20.5); // p ≈ 0.001 for 5 degrees of freedom
  });

  it('rejects bad arguments with RlcoreError', () => {
    expect(code(() => permutation({ n: 0, seed: 1 }))).toBe('ERR_SHAPE');
    expect(code(() => permutation({ n: 4, seed: -1 }))).toBe('ERR_RANGE');
    expect(code(() => permutation({ n: 4, seed: 1.5 }))).toBe('ERR_RANGE');
    expect(code(() => permutation({ n: 4, seed: 1, out: new Int32Array(3) }))).toBe('ERR_SHAPE');
    expect(code(() => permutation({ n: 4, seed: 1, out: new Float32Array(4) as never }))).toBe('ERR_DTYPE');
  });
});

describe('gatherRows', () => {
  it('matches the reference for Float32 and Int32 rows of any width', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 400 }), fc.boolean(), fc.integer(), (R, W, k, ints, seed) => {
        const rand = rng(seed);
        const x = ints ? Int32Array.from({ length: R * W }, () => Math.floor(rand() * 2 ** 31)) : randomF32(R * W, rand, 5);
        const indices = Int32Array.from({ length: k }, () => Math.floor(rand() * R));
        const out = gatherRows({ shape: [R, W], x, indices });
        expect(out).toBeInstanceOf(ints ? Int32Array : Float32Array);
        expect(Array.from(out)).toEqual(gatherRowsRef(x, W, indices));
      }),
      { numRuns: 150 },
    );
  });

  it('rejects bad arguments before writing anything', () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const out = new Float32Array(4).fill(9);
    expect(code(() => gatherRows({ shape: [3, 2], x, indices: new Int32Array([0, 3]), out }))).toBe('ERR_RANGE');
    expect(code(() => gatherRows({ shape: [3, 2], x, indices: new Int32Array([0, -1]), out }))).toBe('ERR_RANGE');
    expect(Array.from(out)).toEqual([9, 9, 9, 9]);
    expect(code(() => gatherRows({ shape: [3, 2], x, indices: new Int32Array([0, 1]), out: new Int32Array(4) as never }))).toBe('ERR_DTYPE');
    expect(code(() => gatherRows({ shape: [3, 2], x, indices: new Int32Array([0, 1]), out: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(code(() => gatherRows({ shape: [4, 2], x, indices: new Int32Array([0]) }))).toBe('ERR_SHAPE');
    expect(code(() => gatherRows({ shape: [3, 2], x, indices: new Int32Array(0) }))).toBe('ERR_SHAPE');
    expect(code(() => gatherRows({ shape: [3, 2], x, indices: x.subarray(0, 1) as never }))).toBe('ERR_DTYPE');
  });

  it('refuses an output that aliases the input', () => {
    const x = new Float32Array(8);
    expect(code(() => gatherRows({ shape: [4, 2], x, indices: new Int32Array([1]), out: x.subarray(0, 2) }))).toBe('ERR_ARG');
  });
});
