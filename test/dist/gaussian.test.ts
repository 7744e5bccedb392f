import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setNumThreads } from '../../src/device.js';
import { RlcoreError } from '../../src/errors.js';
import {
  gaussianBackward,
  gaussianBackwardAsync,
  gaussianLogProb,
  gaussianLogProbAsync,
  gaussianSample,
  gaussianSampleAsync,
} from '../../src/dist/gaussian.js';
import { native } from '../../src/native.js';
import { gaussianRef } from '../reference/dist.js';
import { expectClose, randomF32, rng } from '../helpers.js';
import { errorCode, expectGradient } from './util.js';

const dimsArb = fc.tuple(
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 80 })),
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 17 })),
);

function problem(B: number, A: number, seed: number, free: boolean, isStd: boolean) {
  const rand = rng(seed);
  const mean = randomF32(B * A, rand, 2);
  const n = free ? A : B * A;
  const scale = isStd ? Float32Array.from({ length: n }, () => 0.1 + 2 * rand()) : randomF32(n, rand, 1.5);
  const actions = randomF32(B * A, rand, 3);
  return { mean, scale, actions, rand };
}

describe('diagonal gaussian', () => {
  it('log-prob, entropy and backward match the float64 reference on random shapes', () => {
    fc.assert(
      fc.property(dimsArb, fc.integer(), fc.boolean(), fc.boolean(), fc.constantFrom('none', 'scalar', 'array'), ([B, A], seed, free, isStd, gradKind) => {
        const { mean, scale, actions, rand } = problem(B, A, seed, free, isStd);
        const gradLogProb = gradKind === 'none' ? undefined : gradKind === 'scalar' ? Math.fround(rand() - 0.5) : randomF32(B, rand);
        const gradEntropy = gradKind === 'array' ? randomF32(B, rand) : gradKind === 'scalar' ? Math.fround(0.25) : undefined;
        const s = isStd ? { std: scale } : { logStd: scale };
        const want = gaussianRef({ B, A, mean, scale, isStd, actions, gradLogProb, gradEntropy });
        const fwd = gaussianLogProb({ shape: [B, A], mean, ...s, actions });
        expectClose(fwd.logProb, want.logProb, 1e-5, 1e-4);
        expectClose(fwd.entropy, want.entropy, 1e-5, 1e-4);
        const bwd = gaussianBackward({ shape: [B, A], mean, ...s, actions, gradLogProb, gradEntropy });
        expectClose(bwd.gradMean, want.gradMean, 1e-4, 1e-4);
        expectClose(bwd.gradStd, want.gradScale, 1e-4, 1e-4);
        expect(bwd.gradStd.length).toBe(scale.length);
      }),
      { numRuns: 150 },
    );
  });

  it('reference gradients agree with finite differences in float64', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer(), fc.boolean(), fc.boolean(), (B, A, seed, free, isStd) => {
        const p = problem(B, A, seed, free, isStd);
        const mean = Array.from(p.mean, Number), scale = Array.from(p.scale, Number), actions = Array.from(p.actions, Number);
        const gl = Array.from(randomF32(B, p.rand), Number), gh = Array.from(randomF32(B, p.rand), Number);
        const loss = () => {
          const r = gaussianRef({ B, A, mean, scale, isStd, actions });
          return r.logProb.reduce((s, v, b) => s + gl[b] * v + gh[b] * r.entropy[b], 0);
        };
        const g = gaussianRef({ B, A, mean, scale, isStd, actions, gradLogProb: gl, gradEntropy: gh });
        expectGradient(loss, mean, g.gradMean);
        expectGradient(loss, scale, g.gradScale);
      }),
      { numRuns: 60 },
    );
  });

  it('agrees with a hand computation; std and logStd are the same distribution', () => {
    // N(1; 0, 2²): log p = −½ (1/2)² − log 2 − ½ log 2π;  H = log 2 + ½ (1 + log 2π).
    const r = gaussianLogProb({ shape: [1, 1], mean: new Float32Array([0]), std: new Float32Array([2]), actions: new Float32Array([1]) });
    expect(r.logProb[0]).toBeCloseTo(-0.125 - Math.log(2) - 0.5 * Math.log(2 * Math.PI), 6);
    expect(r.entropy[0]).toBeCloseTo(Math.log(2) + 0.5 * (1 + Math.log(2 * Math.PI)), 6);
    const B = 50, A = 3, { mean, scale, actions } = problem(B, A, 4, false, true);
    const logStd = scale.map(Math.log);
    const a = gaussianBackward({ shape: [B, A], mean, std: scale, actions, gradLogProb: 1, gradEntropy: 1 });
    const b = gaussianBackward({ shape: [B, A], mean, logStd, actions, gradLogProb: 1, gradEntropy: 1 });
    expectClose(a.gradMean, b.gradMean, 1e-5, 1e-5);
    expectClose(a.gradStd.map((g, i) => g * scale[i]), b.gradStd, 1e-4, 1e-4); // ∂/∂log σ = σ ∂/∂σ
    // A free [A] log σ gives the batch sum of the per-row gradients.
    const rowLs = Float32Array.from({ length: B * A }, (_, i) => logStd[i % A]);
    const free = gaussianBackward({ shape: [B, A], mean, logStd: logStd.subarray(0, A), actions, gradLogProb: 0.3, gradEntropy: -0.2 });
    const rows = gaussianBackward({ shape: [B, A], mean, logStd: rowLs, actions, gradLogProb: 0.3, gradEntropy: -0.2 });
    const summed = [0, 1, 2].map((j) => rows.gradStd.filter((_, i) => i % A === j).reduce((s, v) => s + v, 0));
    expectClose(free.gradStd, summed, 1e-5, 1e-5);
  });

  it('sampling: deterministic per seed, moments match, log-prob of samples is consistent', () => {
    const B = 20_000, A = 3;
    const mean = Float32Array.from({ length: B * A }, (_, i) => [1, -2, 0][i % A]);
    const logStd = new Float32Array([0, Math.log(0.5), Math.log(3)]);
    const s1 = gaussianSample({ shape: [B, A], mean, logStd, seed: 77 });
    const s2 = gaussianSample({ shape: [B, A], mean, logStd, seed: 77 });
    const s3 = gaussianSample({ shape: [B, A], mean, logStd, seed: 78 });
    expect(Array.from(s1.actions)).toEqual(Array.from(s2.actions));
    expect(Array.from(s1.actions)).not.toEqual(Array.from(s3.actions));
    for (let j = 0; j < A; j++) {
      const sigma = Math.exp(logStd[j]);
      let m = 0, v = 0;
      for (let b = 0; b < B; b++) m += s1.actions[b * A + j];
      m /= B;
      for (let b = 0; b < B; b++) v += (s1.actions[b * A + j] - m) ** 2;
      v /= B - 1;
      expect(Math.abs(m - [1, -2, 0][j])).toBeLessThan((5 * sigma) / Math.sqrt(B));
      expect(Math.abs(v / (sigma * sigma) - 1)).toBeLessThan(5 * Math.sqrt(2 / B));
    }
    const lp = gaussianLogProb({ shape: [B, A], mean, logStd, actions: s1.actions });
    expectClose(s1.logProb, lp.logProb, 1e-4, 1e-4);
    expectClose(s1.entropy, lp.entropy, 1e-6, 1e-6);
  });

  it('is identical with 1 thread and with the pool (free log σ reduction included)', () => {
    const B = 40_000, A = 4, { mean, scale, actions } = problem(B, A, 9, true, false);
    const pooled = gaussianBackward({ shape: [B, A], mean, logStd: scale, actions, gradLogProb: 1 / B, gradEntropy: 0.01 });
    const ps = gaussianSample({ shape: [B, A], mean, logStd: scale, seed: 3 });
    setNumThreads(1);
    try {
      const single = gaussianBackward({ shape: [B, A], mean, logStd: scale, actions, gradLogProb: 1 / B, gradEntropy: 0.01 });
      expect(Array.from(single.gradStd)).toEqual(Array.from(pooled.gradStd));
      expect(Array.from(gaussianSample({ shape: [B, A], mean, logStd: scale, seed: 3 }).actions)).toEqual(Array.from(ps.actions));
    } finally {
      setNumThreads(2);
    }
  });

  it('async variants give the same results', async () => {
    const B = 9, A = 2, { mean, scale, actions } = problem(B, A, 1, false, false);
    const o = { shape: [B, A] as [number, number], mean, logStd: scale };
    expect(Array.from((await gaussianLogProbAsync({ ...o, actions })).logProb)).toEqual(Array.from(gaussianLogProb({ ...o, actions }).logProb));
    expect(Array.from((await gaussianSampleAsync({ ...o, seed: 4 })).actions)).toEqual(Array.from(gaussianSample({ ...o, seed: 4 }).actions));
    expect(Array.from((await gaussianBackwardAsync({ ...o, actions, gradLogProb: 1 })).gradMean)).toEqual(
      Array.from(gaussianBackward({ ...o, actions, gradLogProb: 1 }).gradMean),
    );
  });

  it('rejects bad input with typed errors and writes nothing', () => {
    const B = 2, A = 2;
    const mean = new Float32Array(4), actions = new Float32Array(4);
    const base = { shape: [B, A] as [number, number], mean, actions };
    const out = { logProb: new Float32Array(B).fill(5), entropy: new Float32Array(B).fill(5) };
    expect(errorCode(() => gaussianLogProb({ ...base, std: new Float32Array([1, -1]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => gaussianLogProb({ ...base, std: new Float32Array([1, 0, 1, 1]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => gaussianLogProb({ ...base, std: new Float32Array([1, NaN]), out }))).toBe('ERR_RANGE');
    expect(Array.from(out.logProb)).toEqual([5, 5]);
    expect(errorCode(() => gaussianLogProb({ ...base }))).toBe('ERR_ARG');
    expect(errorCode(() => gaussianLogProb({ ...base, std: new Float32Array(2), logStd: new Float32Array(2) }))).toBe('ERR_ARG');
    expect(errorCode(() => gaussianLogProb({ ...base, logStd: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => gaussianLogProb({ ...base, logStd: new Float64Array(2) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(errorCode(() => gaussianLogProb({ ...base, logStd: new Float32Array(2), actions: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => gaussianSample({ shape: [B, A], mean, logStd: new Float32Array(2), seed: NaN }))).toBe('ERR_RANGE');
    expect(errorCode(() => gaussianBackward({ ...base, logStd: new Float32Array(2), gradLogProb: Infinity }))).toBe('ERR_RANGE');
    expect(errorCode(() => gaussianBackward({ ...base, logStd: new Float32Array(2), out: { gradMean: mean } }))).toBe('ERR_ARG');
    expect(errorCode(() => gaussianBackward({ ...base, logStd: new Float32Array(2), out: { gradStd: new Float32Array(4) } }))).toBe('ERR_SHAPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().gaussian;
    const f = new Float32Array(4), f2 = new Float32Array(2);
    const attempts: unknown[][] = [
      [],
      [2 ** 40, 2 ** 40, new Float32Array(4)],
      [2 ** 21, 2 ** 21, new Float32Array(4)],
      [2, 2, f],
      [2, 2, f, f2, f2, f],
      [2, 2, f, null, new Float32Array([1, -1]), f],
      [2, 2, f, f2, null, f, null, null, null, new Float32Array(4)],
      [2, 2, f, f2, null, null, -3, null, null, new Float32Array(4)],
      [2, 2, f, new Float32Array(3), null, f],
      [2, 2, f, f2, null, f, null, NaN],
      [2, 2, f, f2, null, f, null, null, null, null, null, null, null, new Float32Array(3)],
      [2, 2, f, f2, null, f, null, null, null, null, null, null, f],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });
});
