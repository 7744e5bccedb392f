import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setNumThreads } from '../../src/device.js';
import { RlcoreError } from '../../src/errors.js';
import { valueLoss, valueLossAsync } from '../../src/losses/value.js';
import { native } from '../../src/native.js';
import { valueRef } from '../reference/losses.js';
import { expectClose, randomF32, rng } from '../helpers.js';
import { errorCode, expectGradient } from '../dist/util.js';

const bArb = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 500 }), fc.constant(2500));

function batch(B: number, seed: number) {
  const rand = rng(seed);
  const returns = randomF32(B, rand, 3);
  const oldValues = randomF32(B, rand, 3);
  const values = oldValues.map((v) => v + (rand() * 2 - 1) * 0.6);
  return { values, returns, oldValues };
}

describe('valueLoss', () => {
  it('matches the float64 reference (mse / huber, with and without clipping)', () => {
    fc.assert(
      fc.property(bArb, fc.integer(), fc.constantFrom('mse', 'huber'), fc.constantFrom(0.5, 1, 2), fc.boolean(), fc.constantFrom(0, 0.2, 100), (B, seed, kind, delta, clipped, clip) => {
        const b = batch(B, seed);
        const oldValues = clipped ? b.oldValues : undefined;
        const got = valueLoss({ shape: [B], values: b.values, returns: b.returns, oldValues, clipCoef: clip, kind: kind as 'mse' | 'huber', delta });
        const want = valueRef({ values: b.values, returns: b.returns, oldValues, clip, delta: kind === 'huber' ? delta : 0 });
        expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-6 * (1 + want.loss));
        expect(got.clipFraction).toBeCloseTo(want.clipFraction, 12);
        expect(got.meanAbsError).toBeCloseTo(want.meanAbsError, 5);
        expectClose(got.grad, want.grad, 1e-5, 1e-8);
      }),
      { numRuns: 150 },
    );
  });

  it('reference gradients agree with finite differences away from kinks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer(), fc.boolean(), fc.boolean(), (B, seed, huber, clipped) => {
        const b = batch(B, seed);
        const x = Array.from(b.values, Number);
        const o = { returns: Array.from(b.returns, Number), oldValues: clipped ? Array.from(b.oldValues, Number) : undefined, clip: 0.2, delta: huber ? 1 : 0 };
        for (let i = 0; i < B; i++) if (clipped && Math.abs(Math.abs(x[i] - o.oldValues![i]) - 0.2) < 1e-4) return;
        expectGradient(() => valueRef({ ...o, values: x }).loss, x, valueRef({ ...o, values: x }).grad);
      }),
      { numRuns: 80 },
    );
  });

  it('agrees with hand computations; Huber = ½ e² for small errors; huge clip = no clip', () => {
    const r = valueLoss({ shape: [2], values: new Float32Array([1, 0]), returns: new Float32Array([3, 0.5]), kind: 'huber', delta: 1 });
    // e = [−2, −0.5]: Huber = [1·(2 − 0.5), 0.125] → mean 0.8125; grads [−1, −0.5] / 2.
    expect(r.loss).toBeCloseTo(0.8125, 12);
    expect(Array.from(r.grad)).toEqual([-0.5, -0.25]);
    const clipped = valueLoss({ shape: [1], values: new Float32Array([2]), returns: new Float32Array([0]), oldValues: new Float32Array([0]), clipCoef: 0.5 });
    // unclipped ½·4 = 2 ≥ clipped ½·0.25: loss 2, grad 2.
    expect(clipped.loss).toBe(2);
    expect(clipped.clipFraction).toBe(1);
    expect(Array.from(clipped.grad)).toEqual([2]);
    const B = 300, b = batch(B, 3);
    const small = b.returns.map((v, i) => v + (b.values[i] - v) * 1e-3);
    const mse = valueLoss({ shape: [B], values: small, returns: b.returns });
    const hub = valueLoss({ shape: [B], values: small, returns: b.returns, kind: 'huber', delta: 1 });
    expect(hub.loss).toBe(mse.loss);
    const noClip = valueLoss({ shape: [B], values: b.values, returns: b.returns });
    const hugeClip = valueLoss({ shape: [B], values: b.values, returns: b.returns, oldValues: b.oldValues, clipCoef: 1e6 });
    expect(hugeClip.loss).toBe(noClip.loss);
    expect(Array.from(hugeClip.grad)).toEqual(Array.from(noClip.grad));
  });

  it('is identical with 1 thread and with the pool; async agrees', async () => {
    const B = 100_000, b = batch(B, 5);
    const o = { shape: [B] as [number], ...b, kind: 'huber' as const };
    const pooled = valueLoss(o);
    setNumThreads(1);
    try {
      expect(valueLoss(o).loss).toBe(pooled.loss);
    } finally {
      setNumThreads(2);
    }
    expect((await valueLossAsync(o)).loss).toBe(pooled.loss);
  });

  it('rejects bad input with typed errors and writes nothing', () => {
    const f = new Float32Array(3);
    const base = { shape: [3] as [number], values: f, returns: f };
    const grad = new Float32Array(3).fill(4);
    expect(errorCode(() => valueLoss({ ...base, oldValues: f, clipCoef: NaN, out: { grad } }))).toBe('ERR_RANGE');
    expect(errorCode(() => valueLoss({ ...base, kind: 'huber', delta: 0, out: { grad } }))).toBe('ERR_RANGE');
    expect(errorCode(() => valueLoss({ ...base, kind: 'huber', delta: NaN }))).toBe('ERR_RANGE');
    expect(Array.from(grad)).toEqual([4, 4, 4]);
    expect(errorCode(() => valueLoss({ ...base, kind: 'l1' as 'mse' }))).toBe('ERR_ARG');
    expect(errorCode(() => valueLoss({ ...base, returns: new Float32Array(4) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => valueLoss({ ...base, out: { grad: f } }))).toBe('ERR_ARG');
    expect(errorCode(() => valueLoss({ ...base, values: [1, 2, 3] as unknown as Float32Array }))).toBe('ERR_DTYPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().valueLoss;
    const f = new Float32Array(2), s = new Float64Array(3);
    const attempts: unknown[][] = [
      [],
      [2, f, f, null, 0.2, NaN, new Float32Array(2), s],
      [2, f, f, null, -1, 0, new Float32Array(2), s],
      [2, f, f, null, 0.2, 0, f, s],
      [2, f, f, null, 0.2, 0, new Float32Array(2), new Float64Array(2)],
      [2, f, new Float32Array(3), null, 0.2, 0, new Float32Array(2), s],
      [-2, f, f],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });
});
