import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { discountedReturns, gae, lambdaReturns, lambdaReturnsAsync, RlcoreError, setNumThreads } from '../../src/index.js';
import { native } from '../../src/native.js';
import { lambdaReturnsRef } from '../reference/lambda_returns.js';
import { bootstrapBatch, cudaPresent, expectClose, expectSameBits, flagProbArb, rng, shapeArb } from '../helpers.js';
import { expectIsolated, expectPropagatesWithinEpisode, isolationBatches, isolationShapeArb, unitArb, withThreads } from '../episode_isolation.js';

const batch = bootstrapBatch;

function param(kind: string, T: number, N: number, x: number, rand: () => number): number | Float32Array {
  if (kind === 'scalar') return Math.fround(x);
  return Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

describe('lambdaReturns', () => {
  it('matches the reference on random shapes, flags and parameters', () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer(),
        flagProbArb,
        flagProbArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        fc.boolean(),
        ([T, N], seed, pTerm, pTrunc, gamma, lambda, gKind, lKind, withLast) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x5bd1e995);
          const g = param(gKind, T, N, gamma, rand);
          const l = param(lKind, T, N, lambda, rand);
          const lastValues = withLast ? b.lastValues : undefined;
          const got = lambdaReturns({ shape: [T, N], ...b, lastValues, gamma: g, lambda: l });
          const want = lambdaReturnsRef({ T, N, ...b, lastValues, gamma: g, lambda: l });
          expectClose(got.returns, want, 1e-5, 1e-4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees with a hand computation', () => {
    // One env, T = 3, γ = 0.5, λ = 0.5; step 1 terminates; V(s_3) = 4.
    const out = lambdaReturns({
      shape: [3, 1],
      rewards: new Float32Array([1, 2, 3]),
      values: new Float32Array([0.5, 1, 2]),
      terminated: new Uint8Array([0, 1, 0]),
      lastValues: new Float32Array([4]),
      gamma: 0.5,
      lambda: 0.5,
    });
    // t=2 (last step, full bootstrap): 3 + 0.5*4 = 5. t=1 terminated: 2.
    // t=0: 1 + 0.5 * (0.5 * V(s_1) + 0.5 * G_1) = 1 + 0.5 * (0.5 + 1) = 1.75.
    expect(Array.from(out.returns)).toEqual([1.75, 2, 5]);
  });

  it('bootstraps a truncated step fully from the final observation', () => {
    const out = lambdaReturns({
      shape: [2, 1],
      rewards: new Float32Array([1, 1]),
      values: new Float32Array([0, 10]),
      truncated: new Uint8Array([1, 0]),
      finalValues: new Float32Array([2, 0]),
      lastValues: new Float32Array([0]),
      gamma: 0.5,
      lambda: 1,
    });
    // t=0 truncated: 1 + 0.5 * 2 = 2 (G_1 = 1 is not used).
    expect(Array.from(out.returns)).toEqual([2, 1]);
  });

  it('equals gae advantages + values (identity between kernels)', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, fc.double({ min: 0, max: 1, noNaN: true }), ([T, N], seed, pTerm, pTrunc, lambda) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const opts = { shape: [T, N] as [number, number], ...b, gamma: 0.97, lambda: Math.fround(lambda) };
        const g = gae(opts);
        const sum = Float32Array.from(g.advantages, (a, i) => a + b.values[i]);
        expectClose(lambdaReturns(opts).returns, sum, 1e-5, 1e-4);
        expectClose(lambdaReturns(opts).returns, g.returns, 1e-5, 1e-4);
      }),
      { numRuns: 60 },
    );
  });

  it('λ = 1 with no episode ends gives the discounted returns bootstrapped from lastValues; λ = 0 one-step targets', () => {
    const T = 80, N = 6, gamma = 0.9;
    const b = batch(T, N, 9, 0, 0);
    const one = lambdaReturns({ shape: [T, N], rewards: b.rewards, values: b.values, lastValues: b.lastValues, gamma, lambda: 1 });
    const mc = discountedReturns({ shape: [T, N], rewards: b.rewards, lastValues: b.lastValues, gamma });
    expectClose(one.returns, mc.returns, 1e-5, 1e-5);
    const zero = lambdaReturns({ shape: [T, N], ...b, gamma, lambda: 0 });
    for (let i = 0; i < T * N; i++) {
      const t = Math.floor(i / N), n = i % N;
      const vNext = b.truncated[i] ? b.finalValues[i] : t + 1 < T ? b.values[i + N] : b.lastValues[n];
      expect(zero.returns[i]).toBeCloseTo(b.rewards[i] + (b.terminated[i] ? 0 : gamma * vNext), 5);
    }
  });

  it('nextValues given in full equals the derived next values', () => {
    const T = 50, N = 9;
    const b = batch(T, N, 3, 0.1, 0.1);
    const nextValues = new Float32Array(T * N);
    for (let i = 0; i < T * N; i++) {
      const t = Math.floor(i / N);
      nextValues[i] = b.truncated[i] ? b.finalValues[i] : t + 1 < T ? b.values[i + N] : b.lastValues[i % N];
    }
    const derived = lambdaReturns({ shape: [T, N], ...b });
    const given = lambdaReturns({ shape: [T, N], rewards: b.rewards, values: b.values, terminated: b.terminated, truncated: b.truncated, nextValues });
    expect(Array.from(given.returns)).toEqual(Array.from(derived.returns));
  });

  it('handles long columns and many columns (threaded paths)', () => {
    for (const [T, N] of [[100_000, 1], [100_003, 3], [20_000, 12], [64, 4099]] as const) {
      const b = batch(T, N, T + N, 0.001, 0.001);
      const got = lambdaReturns({ shape: [T, N], ...b, gamma: 0.999, lambda: 0.98 });
      expectClose(got.returns, lambdaReturnsRef({ T, N, ...b, gamma: Math.fround(0.999), lambda: Math.fround(0.98) }), 1e-4, 1e-3);
    }
  });

  it('is the same with 1 thread and with the pool (column and row paths)', () => {
    for (const [T, N] of [[50_000, 2], [10_000, 12]] as const) {
      const b = batch(T, N, 11, 0.0005, 0.0005);
      const pooled = lambdaReturns({ shape: [T, N], ...b });
      setNumThreads(1);
      try {
        expectClose(lambdaReturns({ shape: [T, N], ...b }).returns, pooled.returns, 1e-6, 1e-5);
      } finally {
        setNumThreads(2);
      }
    }
  });

  it('writes into a caller-provided output; async gives the same', async () => {
    const T = 8, N = 4;
    const b = batch(T, N, 5, 0.2, 0.2);
    const out = { returns: new Float32Array(T * N) };
    const res = lambdaReturns({ shape: [T, N], ...b, out });
    expect(res.returns).toBe(out.returns);
    const asyncRes = await lambdaReturnsAsync({ shape: [T, N], ...b });
    expect(Array.from(asyncRes.returns)).toEqual(Array.from(out.returns));
  });

  it('rejects bad input with typed errors', () => {
    const T = 4, N = 2;
    const b = batch(T, N, 1, 0, 0);
    const base = { shape: [T, N] as [number, number], rewards: b.rewards, values: b.values };
    expect(code(() => lambdaReturns({ ...base, rewards: new Float64Array(8) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(code(() => lambdaReturns({ ...base, values: new Float32Array(7) }))).toBe('ERR_SHAPE');
    expect(code(() => lambdaReturns({ ...base, values: undefined as unknown as Float32Array }))).toBe('ERR_ARG');
    expect(code(() => lambdaReturns({ ...base, shape: [0, 2] }))).toBe('ERR_SHAPE');
    expect(code(() => lambdaReturns({ ...base, shape: [2.5, 2] }))).toBe('ERR_SHAPE');
    expect(code(() => lambdaReturns({ ...base, lastValues: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(code(() => lambdaReturns({ ...base, gamma: NaN }))).toBe('ERR_RANGE');
    expect(code(() => lambdaReturns({ ...base, lambda: -0.1 }))).toBe('ERR_RANGE');
    expect(code(() => lambdaReturns({ ...base, lambda: new Float32Array([0.9, 0.9, 2, 0.9]) }))).toBe('ERR_RANGE');
    expect(code(() => lambdaReturns({ ...base, gamma: new Float32Array(5) }))).toBe('ERR_SHAPE');
    expect(code(() => lambdaReturns({ ...base, gamma: [0.9] as unknown as number }))).toBe('ERR_DTYPE');
    expect(code(() => lambdaReturns({ ...base, truncated: new Uint8Array(8) }))).toBe('ERR_ARG');
    expect(code(() => lambdaReturns({ ...base, terminated: new Int32Array(8) as unknown as Uint8Array }))).toBe('ERR_DTYPE');
    expect(code(() => lambdaReturns({ ...base, out: { returns: b.values } }))).toBe('ERR_ARG');
    expect(code(() => lambdaReturns({ ...base, out: { returns: new Float32Array(3) } }))).toBe('ERR_SHAPE');
    expect(code(() => lambdaReturns({ ...base, device: 'tpu' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(code(() => lambdaReturns(undefined as unknown as Parameters<typeof lambdaReturns>[0]))).toBe('ERR_SHAPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().lambdaReturns;
    const f = new Float32Array(4);
    const out = new Float32Array(4);
    const attempts: unknown[][] = [
      [],
      [2, 2],
      [2, 2, f, f, null, null, null, null, null, 0.9, 0.9, new Float32Array(3)],
      [2, 2, f, f, null, null, null, null, null, 2, 0.9, out],
      [2, 2, f, f, null, null, null, null, null, 0.9, '0.9', out],
      [2 ** 50, 2, f, f],
      [2 ** 40, 2 ** 40, f, f],
      [2, 2, 'x', f],
      [2, 2, f, f, null, new Uint8Array(4), null, null, null, 0.9, 0.9, out],
      [2, 2, f, f, null, null, null, null, null, 0.9, 0.9, f],
      [2, 2, f, f, null, null, null, new Float32Array(3), null, 0.9, 0.9, out],
      [2, 2, f, f, null, null, null, null, null, 0.9, 0.9, out, true],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, ([T, N], seed, pTerm, pTrunc) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const got = lambdaReturns({ shape: [T, N], ...b, device: 'cuda' });
        expectClose(got.returns, lambdaReturnsRef({ T, N, ...b, gamma: Math.fround(0.99), lambda: Math.fround(0.95) }), 1e-5, 1e-4);
      }),
      { numRuns: 50 },
    );
    const T = 1_000_000;
    const b = batch(T, 1, 1, 0, 0);
    const got = lambdaReturns({ shape: [T, 1], ...b, device: 'cuda' });
    expectClose(got.returns, lambdaReturnsRef({ T, N: 1, ...b, gamma: Math.fround(0.99), lambda: Math.fround(0.95) }), 1e-4, 1e-3);
  });
});

describe('lambdaReturns with scalar γ and λ', () => {
  // The vector path forms γ(1 - λ) and γλ once per call for scalar parameters; per-step arrays of
  // the same values take the general path, which forms them per element with the same float32 ops.
  const unitArb = fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })).map(Math.fround);
  it('equals the per-step path bit for bit, and the reference', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, unitArb, unitArb, ([T, N], seed, pTerm, pTrunc, gamma, lambda) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const scalar = lambdaReturns({ shape: [T, N], ...b, gamma, lambda, device: 'cpu' });
        const perStep = lambdaReturns({ shape: [T, N], ...b, gamma: new Float32Array(T).fill(gamma), lambda: new Float32Array(T).fill(lambda), device: 'cpu' });
        expect(scalar.returns).toEqual(perStep.returns);
        expectClose(scalar.returns, lambdaReturnsRef({ T, N, ...b, gamma, lambda }), 1e-4, 1e-4);
      }),
      { numRuns: 60 },
    );
  });

  // One-column batches with scalar γ, λ and no truncations take a lean interior loop
  // (lambda_returns.cc, LambdaReturnsColumn): it must match the reference and be bit for bit the
  // general path (forced here by an all-zero truncated array).
  it('one-column lean path: matches the reference and the general path bit for bit', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 600 }), fc.constantFrom(1_048_576, 1_048_583)),
        fc.integer(),
        fc.constantFrom(0, 0.01, 0.5, 1),
        fc.boolean(),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(0, 1, 3),
        (T, seed, pTerm, withTerm, withLast, gamma, lambda, offset) => {
          const b = batch(T, 1, seed, pTerm, 0);
          const terminated = withTerm ? b.terminated : undefined;
          const lastValues = withLast ? b.lastValues : undefined;
          const g = Math.fround(gamma), l = Math.fround(lambda);
          const out = { returns: new Float32Array(T + offset).subarray(offset) };
          const base = { shape: [T, 1] as [number, number], rewards: b.rewards, values: b.values, terminated, lastValues, gamma: g, lambda: l };
          const got = lambdaReturns({ ...base, out });
          const general = lambdaReturns({ ...base, truncated: new Uint8Array(T), finalValues: b.values });
          expectSameBits(got.returns, general.returns);
          const want = lambdaReturnsRef({ T, N: 1, rewards: b.rewards, values: b.values, terminated, lastValues, gamma: g, lambda: l });
          expectClose(got.returns, want, 1e-5, 1e-4);
        },
      ),
      { numRuns: 60 },
    );
  });

  // Scalar γ and λ take constant coefficients (Coefs16::Masked in simd_scan.h, the lean loops of
  // lambda_returns.cc): bit for bit the per-step path given the same values, for lambdaReturns and gae.
  it('scalar γ, λ give the same bits as per-step arrays of the same values (lambdaReturns, gae)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 150 }), fc.constantFrom(1, 2, 1023, 1024)),
        fc.oneof(fc.constantFrom(1, 16, 17, 32, 48, 64, 600), fc.integer({ min: 1, max: 70 })),
        fc.integer(),
        flagProbArb,
        flagProbArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (T, N, seed, pTerm, pTrunc, gamma, lambda, withTerm, withTrunc, withLast) => {
          // Without truncations (the usual call), scalar γ, λ take the lean loops of lambda_returns.cc.
          const full = batch(T, N, seed, pTerm, pTrunc);
          const b = {
            rewards: full.rewards,
            values: full.values,
            terminated: withTerm ? full.terminated : undefined,
            truncated: withTrunc ? full.truncated : undefined,
            finalValues: withTrunc ? full.finalValues : undefined,
            lastValues: withLast ? full.lastValues : undefined,
          };
          const g = Math.fround(gamma), l = Math.fround(lambda);
          const gs = new Float32Array(T).fill(g), ls = new Float32Array(T).fill(l);
          expectSameBits(lambdaReturns({ shape: [T, N], ...b, gamma: g, lambda: l }).returns, lambdaReturns({ shape: [T, N], ...b, gamma: gs, lambda: ls }).returns);
          const x = gae({ shape: [T, N], ...b, gamma: g, lambda: l }), y = gae({ shape: [T, N], ...b, gamma: gs, lambda: ls });
          expectSameBits(x.advantages, y.advantages);
          expectSameBits(x.returns, y.returns);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('lambdaReturns: NaN and Inf (README, NaN/Inf policy)', () => {
  // Without truncations and nextValues (scalar γ, λ), one column and small batches of 16 columns
  // or more take the lean paths; with them, the general ones.
  it('stay in their episode: earlier episodes are finite and as in a clean run (reference too; 1 and 2 threads)', () => {
    const check = ([T, N]: [number, number], seed: number, gamma: number, lambda: number, next: boolean, trunc: boolean) => {
      const { ends, clean, poisoned } = isolationBatches(T, N, seed, { next, trunc });
      expectIsolated(lambdaReturnsRef({ T, N, ...poisoned, gamma, lambda }), lambdaReturnsRef({ T, N, ...clean, gamma, lambda }), T, N, ends);
      withThreads(() => {
        const want = lambdaReturns({ shape: [T, N], ...clean, gamma, lambda });
        expectIsolated(lambdaReturns({ shape: [T, N], ...poisoned, gamma, lambda }).returns, want.returns, T, N, ends);
      });
    };
    fc.assert(fc.property(isolationShapeArb, fc.integer(), unitArb, unitArb, fc.boolean(), fc.boolean(), check), { numRuns: 40 });
    check([40_000, 2], 1, 0.99, 0.95, false, true); // the pool's split of long columns over time
    check([40_000, 2], 2, 0.99, 0.95, true, false);
    check([600, 256], 3, 0.99, 0.95, false, true); // 16-column row order
    check([1100, 1000], 4, 0.99, 0.95, false, false); // streamed row order
  });

  it('propagate to every earlier step of their episode, however the scan groups the steps', () => {
    expectPropagatesWithinEpisode((T, N, rewards) => lambdaReturns({ shape: [T, N], rewards, values: new Float32Array(T * N), gamma: 1, lambda: 0.5 }).returns);
  });
});
