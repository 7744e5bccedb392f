import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setNumThreads } from '../../src/device.js';
import { RlcoreError } from '../../src/errors.js';
import { categoricalBackward, categoricalLogProb } from '../../src/dist/categorical.js';
import { ppoLoss, ppoLossAsync } from '../../src/losses/ppo.js';
import { native } from '../../src/native.js';
import { categoricalRef } from '../reference/dist.js';
import { ppoRef } from '../reference/losses.js';
import { expectClose, randomF32, rng } from '../helpers.js';
import { errorCode, expectGradient, randomInts } from '../dist/util.js';

const bArb = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 500 }), fc.constant(3000));

function batch(B: number, seed: number, spread: number) {
  const rand = rng(seed);
  const oldLogProb = randomF32(B, rand, 2).map((v) => v - 2);
  const newLogProb = oldLogProb.map((v) => v + (rand() * 2 - 1) * spread);
  return { newLogProb, oldLogProb, advantages: randomF32(B, rand, 3), entropy: randomF32(B, rand).map((v) => v + 1.5), rand };
}

function expectStats(got: object, want: object, tol: number) {
  const g = got as Record<string, number>, w = want as Record<string, number>;
  for (const key of ['loss', 'policyLoss', 'entropy', 'clipFraction', 'approxKl', 'oldApproxKl']) {
    expect(Math.abs(g[key] - w[key]), key).toBeLessThanOrEqual(tol * (1 + Math.abs(w[key])));
  }
}

describe('ppoLoss', () => {
  it('matches the float64 reference on random batches (clipped, unclipped, normalised, with entropy)', () => {
    fc.assert(
      fc.property(bArb, fc.integer(), fc.constantFrom(0, 0.05, 0.5), fc.constantFrom(0, 0.1, 0.2, 10), fc.boolean(), fc.boolean(), (B, seed, spread, clip, normalize, withEntropy) => {
        const b = batch(B, seed, spread);
        const entropy = withEntropy ? b.entropy : undefined;
        const entCoef = Math.fround(0.01);
        const got = ppoLoss({ shape: [B], ...b, entropy, clipCoef: clip, entCoef, normalizeAdvantages: normalize });
        const want = ppoRef({ ...b, entropy, clip, entCoef, normalize });
        expectStats(got, want, 1e-5);
        expectClose(got.gradLogProb, want.gradLogProb, 1e-5, 1e-7);
        expect(got.gradEntropy).toBe(want.gradEntropy);
      }),
      { numRuns: 150 },
    );
  });

  it('reference gradient agrees with finite differences away from the clip kinks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer(), fc.boolean(), (B, seed, normalize) => {
        const b = batch(B, seed, 0.6);
        const x = Array.from(b.newLogProb, Number);
        const o = { oldLogProb: Array.from(b.oldLogProb, Number), advantages: Array.from(b.advantages, Number), clip: 0.2, entCoef: 0, normalize };
        // Skip samples within 1e-4 of a kink (r = 1 ± ε), where the derivative is one-sided.
        for (let i = 0; i < B; i++) if (Math.abs(Math.abs(Math.exp(x[i] - o.oldLogProb[i]) - 1) - 0.2) < 1e-4) return;
        expectGradient(() => ppoRef({ ...o, newLogProb: x }).loss, x, ppoRef({ ...o, newLogProb: x }).gradLogProb);
      }),
      { numRuns: 80 },
    );
  });

  it('agrees with a hand computation', () => {
    // r = [e^0.5, 1, e^-0.5], A = [1, −2, −1], ε = 0.2.
    const newLogProb = new Float32Array([0.5, 0, -0.5]), oldLogProb = new Float32Array(3), advantages = new Float32Array([1, -2, -1]);
    const r = ppoLoss({ shape: [3], newLogProb, oldLogProb, advantages, clipCoef: 0.2 });
    // Sample 0: max(−1.6487, −1.2) = −1.2 (clipped, grad 0). Sample 1: 2 (grad −(−2)(1)/3). Sample 2: max(0.6065, 0.8) = 0.8 (clipped).
    expect(r.policyLoss).toBeCloseTo((-1.2 + 2 + 0.8) / 3, 6);
    expect(Array.from(r.gradLogProb)).toEqual([0, Math.fround(2 / 3), 0]);
    expect(r.clipFraction).toBeCloseTo(2 / 3, 12);
    const kl = (Math.exp(0.5) - 1 - 0.5 + Math.exp(-0.5) - 1 + 0.5) / 3;
    expect(r.approxKl).toBeCloseTo(kl, 6);
    expect(r.oldApproxKl).toBeCloseTo(0, 12);
  });

  it('ratio 1 everywhere: loss = −mean(Â), gradient = −Â / B, no clipping, zero KL', () => {
    const B = 257, b = batch(B, 4, 0);
    const r = ppoLoss({ shape: [B], newLogProb: b.oldLogProb, oldLogProb: b.oldLogProb, advantages: b.advantages });
    const mean = b.advantages.reduce((s, v) => s + v, 0) / B;
    expect(r.policyLoss).toBeCloseTo(-mean, 6);
    expectClose(r.gradLogProb, Array.from(b.advantages, (a) => -a / B), 1e-6, 1e-9);
    expect(r.clipFraction).toBe(0);
    expect(r.approxKl).toBe(0);
  });

  it('PPO actor gradient = categoricalBackward(ppo grads) agrees with finite differences through the logits', () => {
    const B = 6, A = 4, rand = rng(12);
    const logits = Array.from(randomF32(B * A, rand, 1), Number);
    const actions = randomInts(B, A, rand);
    const oldLogProb = Float32Array.from(categoricalRef({ B, A, logits: logits.map((v) => v + 0.3 * (rand() - 0.5)), actions }).logProb);
    const advantages = randomF32(B, rand, 2);
    const entCoef = Math.fround(0.05);
    const total = () => {
      const r = categoricalRef({ B, A, logits, actions });
      return ppoRef({ newLogProb: r.logProb, oldLogProb, advantages, entropy: r.entropy, clip: 0.2, entCoef, normalize: false }).loss;
    };
    const z = Float32Array.from(logits);
    const fwd = categoricalLogProb({ shape: [B, A], logits: z, actions });
    const ppo = ppoLoss({ shape: [B], newLogProb: fwd.logProb, oldLogProb, advantages, entropy: fwd.entropy, entCoef });
    const g = categoricalBackward({ shape: [B, A], logits: z, actions, gradLogProb: ppo.gradLogProb, gradEntropy: ppo.gradEntropy });
    expectGradient(total, logits, g.gradLogits, 1e-4);
  });

  it('is identical with 1 thread and with the pool; async agrees', async () => {
    const B = 100_000, b = batch(B, 8, 0.4);
    const o = { shape: [B] as [number], ...b, normalizeAdvantages: true, entCoef: 0.01 };
    const pooled = ppoLoss(o);
    setNumThreads(1);
    try {
      const single = ppoLoss(o);
      expect(single.loss).toBe(pooled.loss);
      expect(single.approxKl).toBe(pooled.approxKl);
      expect(Array.from(single.gradLogProb)).toEqual(Array.from(pooled.gradLogProb));
    } finally {
      setNumThreads(2);
    }
    const a = await ppoLossAsync(o);
    expect(a.loss).toBe(pooled.loss);
  });

  it('rejects bad input with typed errors and writes nothing', () => {
    const B = 3, f = new Float32Array(B);
    const base = { shape: [B] as [number], newLogProb: f, oldLogProb: f, advantages: f };
    const grad = new Float32Array(B).fill(9);
    expect(errorCode(() => ppoLoss({ ...base, clipCoef: NaN, out: { gradLogProb: grad } }))).toBe('ERR_RANGE');
    expect(errorCode(() => ppoLoss({ ...base, clipCoef: -0.1 }))).toBe('ERR_RANGE');
    expect(errorCode(() => ppoLoss({ ...base, entCoef: Infinity }))).toBe('ERR_RANGE');
    expect(Array.from(grad)).toEqual([9, 9, 9]);
    expect(errorCode(() => ppoLoss({ ...base, advantages: new Float32Array(2) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => ppoLoss({ ...base, entropy: new Float64Array(3) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(errorCode(() => ppoLoss({ ...base, shape: [3, 1] as unknown as [number] }))).toBe('ERR_SHAPE');
    expect(errorCode(() => ppoLoss({ ...base, out: { gradLogProb: f } }))).toBe('ERR_ARG');
    expect(errorCode(() => ppoLoss(undefined as unknown as Parameters<typeof ppoLoss>[0]))).toBe('ERR_SHAPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().ppoLoss;
    const f = new Float32Array(2), s = new Float64Array(6);
    const attempts: unknown[][] = [
      [],
      [2, f, f, f],
      [2, f, f, f, null, NaN, 0, false, new Float32Array(2), s],
      [2, f, f, f, null, 0.2, 0, false, new Float32Array(2), new Float64Array(5)],
      [2, f, f, f, null, 0.2, 0, false, new Float32Array(3), s],
      [2, f, f, f, null, 0.2, 0, false, f, s],
      [2, f, f, new Float32Array(1), null, 0.2, 0, false, new Float32Array(2), s],
      [2, f, f, f, null, 0.2, 'x', false, new Float32Array(2), s],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });
});
