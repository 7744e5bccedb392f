import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setNumThreads } from '../../src/device.js';
import { RlcoreError } from '../../src/errors.js';
import { gaussianLogProb } from '../../src/dist/gaussian.js';
import {
  squashedGaussianBackward,
  squashedGaussianBackwardAsync,
  squashedGaussianSample,
  squashedGaussianSampleAsync,
} from '../../src/dist/squashed_gaussian.js';
import { native } from '../../src/native.js';
import { squashedRef } from '../reference/dist.js';
import { expectClose, randomF32, rng } from '../helpers.js';
import { errorCode, expectGradient } from './util.js';

const dimsArb = fc.tuple(
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 80 })),
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 17 })),
);

function problem(B: number, A: number, seed: number, free: boolean, meanScale = 2) {
  const rand = rng(seed);
  return {
    mean: randomF32(B * A, rand, meanScale),
    logStd: randomF32(free ? A : B * A, rand, 1),
    noise: randomF32(B * A, rand, 2),
    gradActions: randomF32(B * A, rand),
    rand,
  };
}

describe('tanh-squashed gaussian', () => {
  it('sample at given noise and backward match the float64 reference on random shapes', () => {
    fc.assert(
      fc.property(dimsArb, fc.integer(), fc.boolean(), fc.constantFrom('none', 'scalar', 'array'), fc.boolean(), ([B, A], seed, free, gk, withGa) => {
        const { mean, logStd, noise, gradActions, rand } = problem(B, A, seed, free);
        const gradLogProb = gk === 'none' ? undefined : gk === 'scalar' ? Math.fround(0.2) : randomF32(B, rand);
        const ga = withGa ? gradActions : undefined;
        const want = squashedRef({ B, A, mean, logStd, noise, gradLogProb, gradActions: ga });
        const s = squashedGaussianSample({ shape: [B, A], mean, logStd, noise });
        expect(s.noise).toBe(noise);
        expectClose(s.actions, want.actions, 1e-5, 1e-6);
        expectClose(s.logProb, want.logProb, 1e-5, 1e-4);
        const g = squashedGaussianBackward({ shape: [B, A], mean, logStd, noise, gradLogProb, gradActions: ga });
        expectClose(g.gradMean, want.gradMean, 1e-4, 1e-5);
        expectClose(g.gradLogStd, want.gradLogStd, 1e-4, 1e-4);
      }),
      { numRuns: 150 },
    );
  });

  it('reference gradients (of log π and of a, noise fixed) agree with finite differences in float64', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer(), fc.boolean(), (B, A, seed, free) => {
        const p = problem(B, A, seed, free);
        const mean = Array.from(p.mean, Number), logStd = Array.from(p.logStd, Number), noise = Array.from(p.noise, Number);
        const gl = Array.from(randomF32(B, p.rand), Number), ga = Array.from(p.gradActions, Number);
        const loss = () => {
          const r = squashedRef({ B, A, mean, logStd, noise });
          return r.logProb.reduce((s, v, b) => s + gl[b] * v, 0) + r.actions.reduce((s, v, i) => s + ga[i] * v, 0);
        };
        const g = squashedRef({ B, A, mean, logStd, noise, gradLogProb: gl, gradActions: ga });
        expectGradient(loss, mean, g.gradMean);
        expectGradient(loss, logStd, g.gradLogStd);
      }),
      { numRuns: 60 },
    );
  });

  it('log π = Gaussian log-density of u minus Σ log(1 − tanh² u); stays finite for large |u|', () => {
    const B = 200, A = 3, { mean, logStd, noise } = problem(B, A, 5, false);
    const out = { actions: new Float32Array(B * A), logProb: new Float32Array(B), preTanh: new Float32Array(B * A) };
    squashedGaussianSample({ shape: [B, A], mean, logStd, noise, out });
    const g = gaussianLogProb({ shape: [B, A], mean, logStd, actions: out.preTanh });
    const corr = Array.from({ length: B }, (_, b) => {
      let s = 0;
      for (let j = 0; j < A; j++) s += Math.log(1 - Math.tanh(out.preTanh[b * A + j]) ** 2);
      return g.logProb[b] - s;
    });
    expectClose(out.logProb, corr, 1e-4, 1e-3);
    // u = 40: the naive log(1 − tanh²) is log(0) = −∞; the stable form is 2 (log 2 − 40 − softplus(−80)).
    const big = squashedGaussianSample({ shape: [1, 1], mean: new Float32Array([40]), logStd: new Float32Array([0]), noise: new Float32Array([0]) });
    expect(big.logProb[0]).toBeCloseTo(-0.5 * Math.log(2 * Math.PI) - 2 * (Math.LN2 - 40), 3);
    expect(big.actions[0]).toBe(1);
    const d = squashedGaussianSample({ shape: [1, 2], mean: new Float32Array([0.5, -0.25]), logStd: new Float32Array([0, 0]), deterministic: true });
    expectClose(d.actions, [Math.tanh(0.5), Math.tanh(-0.25)], 1e-6, 1e-7);
    expect(Array.from(d.noise)).toEqual([0, 0]);
  });

  it('seeded sampling: deterministic, thread-independent, noise ~ N(0, 1), actions in (−1, 1)', () => {
    const B = 30_000, A = 2, { mean, logStd } = problem(B, A, 6, false, 0.5);
    const a = squashedGaussianSample({ shape: [B, A], mean, logStd, seed: 11 });
    const b = squashedGaussianSample({ shape: [B, A], mean, logStd, seed: 11 });
    expect(Array.from(a.actions)).toEqual(Array.from(b.actions));
    setNumThreads(1);
    try {
      expect(Array.from(squashedGaussianSample({ shape: [B, A], mean, logStd, seed: 11 }).noise)).toEqual(Array.from(a.noise));
    } finally {
      setNumThreads(2);
    }
    let m = 0, v = 0;
    for (const e of a.noise) m += e;
    m /= a.noise.length;
    for (const e of a.noise) v += (e - m) ** 2;
    v /= a.noise.length - 1;
    expect(Math.abs(m)).toBeLessThan(5 / Math.sqrt(a.noise.length));
    expect(Math.abs(v - 1)).toBeLessThan(5 * Math.sqrt(2 / a.noise.length));
    // Fourth moment 3 (Var z⁴ = 96) and a tail frequency: P(|z| > 3) = 0.0027.
    const m4 = a.noise.reduce((s, e) => s + e ** 4, 0) / a.noise.length;
    expect(Math.abs(m4 - 3)).toBeLessThan(5 * Math.sqrt(96 / a.noise.length));
    const tail = a.noise.filter((e) => Math.abs(e) > 3).length, pt = 0.0026998;
    expect(Math.abs(tail - pt * a.noise.length)).toBeLessThan(5 * Math.sqrt(pt * a.noise.length));
    expect(a.actions.reduce((mx, x) => Math.max(mx, Math.abs(x)), 0)).toBeLessThanOrEqual(1);
    const at = squashedGaussianSample({ shape: [B, A], mean, logStd, noise: a.noise });
    expect(Array.from(at.logProb)).toEqual(Array.from(a.logProb));
  });

  it('async variants give the same results', async () => {
    const B = 5, A = 3, { mean, logStd, noise, gradActions } = problem(B, A, 2, true);
    const s = await squashedGaussianSampleAsync({ shape: [B, A], mean, logStd, seed: 3 });
    expect(Array.from(s.actions)).toEqual(Array.from(squashedGaussianSample({ shape: [B, A], mean, logStd, seed: 3 }).actions));
    const g = await squashedGaussianBackwardAsync({ shape: [B, A], mean, logStd, noise, gradActions, gradLogProb: 0.1 });
    expect(Array.from(g.gradLogStd)).toEqual(Array.from(squashedGaussianBackward({ shape: [B, A], mean, logStd, noise, gradActions, gradLogProb: 0.1 }).gradLogStd));
  });

  it('rejects bad input with typed errors and writes nothing', () => {
    const B = 2, A = 2, f = new Float32Array(4);
    const base = { shape: [B, A] as [number, number], mean: f, logStd: new Float32Array(2) };
    const out = { gradMean: new Float32Array(4).fill(3), gradLogStd: new Float32Array(2).fill(3) };
    expect(errorCode(() => squashedGaussianBackward({ ...base, noise: f, gradActions: new Float32Array([0, NaN, 0, 0]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => squashedGaussianBackward({ ...base, noise: f, gradLogProb: NaN, out }))).toBe('ERR_RANGE');
    expect(Array.from(out.gradMean)).toEqual([3, 3, 3, 3]);
    expect(errorCode(() => squashedGaussianSample({ ...base }))).toBe('ERR_RANGE'); // no seed, no noise
    expect(errorCode(() => squashedGaussianSample({ ...base, seed: 2 ** 60 }))).toBe('ERR_RANGE');
    expect(errorCode(() => squashedGaussianSample({ ...base, noise: f, deterministic: true }))).toBe('ERR_ARG');
    expect(errorCode(() => squashedGaussianSample({ ...base, logStd: new Float32Array(3), seed: 1 }))).toBe('ERR_SHAPE');
    expect(errorCode(() => squashedGaussianBackward({ ...base, noise: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => squashedGaussianBackward({ ...base, noise: f, out: { gradMean: f } }))).toBe('ERR_ARG');
    expect(errorCode(() => squashedGaussianBackward({ ...base, noise: undefined as unknown as Float32Array }))).toBe('ERR_ARG');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().squashedGaussian;
    const f = new Float32Array(4), f2 = new Float32Array(2);
    const attempts: unknown[][] = [
      [],
      [2 ** 40, 2 ** 40, new Float32Array(4)],
      [2 ** 21, 2 ** 21, new Float32Array(4)],
      [2, 2, f, f2],
      [2, 2, f, f2, null, 1],
      [2, 2, f, new Float32Array(3), f],
      [2, 2, f, f2, f, null, null, null, null, null, new Float32Array(4)],
      [2, 2, f, f2, null, -1, null, null, null, null, new Float32Array(4)],
      [2, 2, f, f2, f, null, null, new Float32Array([NaN, 0, 0, 0])],
      [2, 2, f, f2, f, null, null, null, f],
      [2, 2, f, f2, f, null, null, null, null, null, null, null, null, new Float32Array(4)],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });
});
