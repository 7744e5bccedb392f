import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenKl } from '../../src/llm/kl.js';
import { klRef } from '../reference/llm.js';
import { expectClose, randomF32, randomFlags, rng } from '../helpers.js';
import { errorCode, fd } from '../dist/util.js';
import { native } from '../../src/native.js';

describe('tokenKl', () => {
  it('matches the float64 reference (k1, k2, k3), masked tokens are 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer(), fc.constantFrom('k1', 'k2', 'k3') as fc.Arbitrary<'k1' | 'k2' | 'k3'>, fc.constantFrom(0.1, 3, 40), (M, seed, estimator, spread) => {
        const rand = rng(seed);
        const logProb = randomF32(M, rand, 3).map((v) => v - 3);
        const refLogProb = logProb.map((v) => v + (rand() * 2 - 1) * spread);
        const mask = randomFlags(M, rand, 0.7);
        const r = tokenKl({ logProb, refLogProb, mask, estimator, grad: true });
        // Within float32 rounding of the clamp at |d| = 20 the kernel (d in float32) may fall on the other side.
        const edge = (i: number) => Math.abs(Math.abs(refLogProb[i] - logProb[i]) - 20) < 1e-4;
        const want = Array.from(logProb, (lp, i) => (edge(i) ? r.kl[i] : mask[i] ? klRef(estimator, lp, refLogProb[i])[0] : 0));
        const wantG = Array.from(logProb, (lp, i) => (edge(i) ? r.grad![i] : mask[i] ? klRef(estimator, lp, refLogProb[i])[1] : 0));
        expectClose(r.kl, want, 1e-6, 1e-7);
        expectClose(r.grad!, wantG, 1e-6, 1e-7);
        const n = mask.reduce((a, b) => a + b, 0);
        expect(r.mean).toBeCloseTo(n ? want.reduce((a, b) => a + b, 0) / n : 0, 4);
      }),
      { numRuns: 100 },
    );
  });

  it('spans several 16k-token blocks (ragged tail), masked and not, and is thread-count independent', () => {
    const rand = rng(11), M = 40_000 + 123;
    const logProb = randomF32(M, rand, 3).map((v) => v - 3), refLogProb = logProb.map((v) => v + (rand() * 2 - 1) * 2);
    const mask = randomFlags(M, rand, 0.6);
    for (const m of [mask, undefined]) {
      for (const estimator of ['k1', 'k2', 'k3'] as const) {
        const r = tokenKl({ logProb, refLogProb, mask: m, estimator, grad: true });
        const want = Array.from(logProb, (lp, i) => (!m || m[i] ? klRef(estimator, lp, refLogProb[i])[0] : 0));
        const wantG = Array.from(logProb, (lp, i) => (!m || m[i] ? klRef(estimator, lp, refLogProb[i])[1] : 0));
        expectClose(r.kl, want, 1e-6, 1e-7);
        expectClose(r.grad!, wantG, 1e-6, 1e-7);
        const n = m ? m.reduce((a, b) => a + b, 0) : M;
        expect(Math.abs(r.mean - want.reduce((a, b) => a + b, 0) / n)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(r.mean)));
        native().setNumThreads(1);
        const one = tokenKl({ logProb, refLogProb, mask: m, estimator, grad: true });
        native().setNumThreads(2);
        expect(one.mean).toBe(r.mean);
      }
    }
  });

  it('k3 is never negative, k2 ≥ 0, all three vanish at π = π_ref', () => {
    const rand = rng(5), M = 100_000;
    const logProb = randomF32(M, rand, 30), refLogProb = randomF32(M, rand, 30);
    refLogProb.set(logProb.subarray(0, 1000));
    expect(tokenKl({ logProb, refLogProb, estimator: 'k3' }).kl.every((v) => v >= 0)).toBe(true);
    expect(tokenKl({ logProb, refLogProb, estimator: 'k2' }).kl.every((v) => v >= 0)).toBe(true);
    for (const estimator of ['k1', 'k2', 'k3'] as const) {
      expect(tokenKl({ logProb, refLogProb, estimator }).kl.subarray(0, 1000).every((v) => v === 0)).toBe(true);
    }
  });

  it('gradients agree with finite differences in float64 (inside the clamps)', () => {
    for (const kind of ['k1', 'k2', 'k3'] as const) {
      for (const [lp, ref] of [[-1.3, -0.4], [-2, -3.5], [-0.2, -0.2001]]) {
        const x = [lp];
        expect(Math.abs(fd(() => klRef(kind, x[0], ref)[0], x, 0) - klRef(kind, lp, ref)[1])).toBeLessThan(1e-6);
      }
    }
  });

  it('rejects bad input with typed errors', () => {
    const a = new Float32Array(4);
    expect(errorCode(() => tokenKl({ logProb: a, refLogProb: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => tokenKl({ logProb: new Float32Array(0), refLogProb: new Float32Array(0) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => tokenKl({ logProb: a, refLogProb: a, estimator: 'k4' as 'k1' }))).toBe('ERR_ARG');
    expect(errorCode(() => tokenKl({ logProb: a, refLogProb: a, out: { kl: a } }))).toBe('ERR_ARG');
  });
});
