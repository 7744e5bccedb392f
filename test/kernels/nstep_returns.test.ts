import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gae, lambdaReturns, nstepReturns, nstepReturnsAsync, RlcoreError, setNumThreads } from '../../src/index.js';
import { native } from '../../src/native.js';
import { nstepReturnsRef } from '../reference/nstep_returns.js';
import { bootstrapBatch, cudaPresent, expectClose, flagProbArb, rng, shapeArb } from '../helpers.js';

const batch = bootstrapBatch;

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

describe('nstepReturns', () => {
  it('matches the reference on random shapes, flags, n and γ', () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer(),
        flagProbArb,
        flagProbArb,
        fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 400 })),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        ([T, N], seed, pTerm, pTrunc, n, gamma, kind) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x5bd1e995);
          const g = kind === 'scalar' ? Math.fround(gamma) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const got = nstepReturns({ shape: [T, N], ...b, gamma: g, n });
          expectClose(got.returns, nstepReturnsRef({ T, N, ...b, gamma: g, n }), 1e-5, 1e-4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees with a hand computation', () => {
    // One env, T = 4, γ = 0.5, n = 2; step 2 terminates; V = [10, 20, 30, 40], V(s_4) = 50.
    const out = nstepReturns({
      shape: [4, 1],
      rewards: new Float32Array([1, 2, 4, 8]),
      values: new Float32Array([10, 20, 30, 40]),
      terminated: new Uint8Array([0, 0, 1, 0]),
      lastValues: new Float32Array([50]),
      gamma: 0.5,
      n: 2,
    });
    // G_0 = 1 + 0.5*2 + 0.25*V(s_2)=30 -> 9.5; G_1 = 2 + 0.5*4 (window ends at the termination) = 4;
    // G_2 = 4 (terminated); G_3 = 8 + 0.5*50 = 33 (batch end).
    expect(Array.from(out.returns)).toEqual([9.5, 4, 4, 33]);
  });

  it('bootstraps a window that ends at a truncation from the final observation', () => {
    const out = nstepReturns({
      shape: [3, 1],
      rewards: new Float32Array([1, 1, 1]),
      values: new Float32Array([0, 0, 100]),
      truncated: new Uint8Array([0, 1, 0]),
      finalValues: new Float32Array([0, 4, 0]),
      gamma: 0.5,
      n: 3,
    });
    // G_0 = 1 + 0.5*1 + 0.25*4 = 2.5; G_1 = 1 + 0.5*4 = 3; G_2 = 1 (lastValues omitted: 0).
    expect(Array.from(out.returns)).toEqual([2.5, 3, 1]);
  });

  it('n = 1 gives one-step TD targets (gae λ = 0 returns)', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, ([T, N], seed, pTerm, pTrunc) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const got = nstepReturns({ shape: [T, N], ...b, gamma: 0.9, n: 1 });
        expectClose(got.returns, gae({ shape: [T, N], ...b, gamma: 0.9, lambda: 0 }).returns, 1e-5, 1e-5);
      }),
      { numRuns: 40 },
    );
  });

  it('n >= T gives the λ = 1 returns (with and without episode ends)', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), fc.constantFrom(0, 0.05), fc.integer({ min: 0, max: 5 }), ([T, N], seed, p, extra) => {
        const b = batch(T, N, seed, p, p);
        const got = nstepReturns({ shape: [T, N], ...b, gamma: 0.95, n: T + extra });
        expectClose(got.returns, lambdaReturns({ shape: [T, N], ...b, gamma: 0.95, lambda: 1 }).returns, 1e-5, 1e-4);
      }),
      { numRuns: 40 },
    );
  });

  it('keeps NaN and Inf from after an episode end out of the window', () => {
    const out = nstepReturns({
      shape: [4, 1],
      rewards: new Float32Array([1, 1, NaN, 1]),
      values: new Float32Array([0, 0, Infinity, 0]),
      terminated: new Uint8Array([0, 1, 0, 0]),
      gamma: 0.5,
      n: 4,
    });
    expect(Array.from(out.returns.subarray(0, 2))).toEqual([1.5, 1]);
  });

  it('handles long columns and many columns (threaded paths)', () => {
    for (const [T, N, n] of [[100_000, 1, 7], [30_001, 3, 20], [64, 4099, 5]] as const) {
      const b = batch(T, N, T + N, 0.001, 0.001);
      const got = nstepReturns({ shape: [T, N], ...b, gamma: 0.999, n });
      expectClose(got.returns, nstepReturnsRef({ T, N, ...b, gamma: Math.fround(0.999), n }), 1e-4, 1e-3);
    }
  });

  it('few columns with windows of up to T steps (and more) take time linear in T', () => {
    // A direct sum per window would take minutes here (T² / 2 = 4.5e10 steps per column); the
    // expected values are float64 prefix sums: with Π_t = γ_0 … γ_{t-1} and S_t = Σ_{s<t} Π_s r_s,
    // G_t = (S_{t+m} - S_t) / Π_t + Π_{t+m} / Π_t · v'_{t+m-1}, m = min(n, T - t) (no episode
    // ends; γ in [0.99999, 1] keeps Π >= e^-3 well away from underflow).
    const T = 300_000;
    const rand = rng(31);
    const gamma = Float32Array.from({ length: T }, () => 1 - 1e-5 * rand());
    const prod = new Float64Array(T + 1).fill(1);
    for (let t = 0; t < T; t++) prod[t + 1] = prod[t] * gamma[t];
    for (const N of [1, 3]) {
      const b = batch(T, N, 5 + N, 0, 0);
      const sums = new Float64Array((T + 1) * N);
      for (let t = 0; t < T; t++) for (let c = 0; c < N; c++) sums[(t + 1) * N + c] = sums[t * N + c] + prod[t] * b.rewards[t * N + c];
      for (const n of [T, T + 7, 100_003, 40]) {
        const got = nstepReturns({ shape: [T, N], ...b, gamma, n }).returns;
        const want = new Float64Array(T * N);
        for (let t = 0; t < T; t++) {
          const m = Math.min(n, T - t);
          for (let c = 0; c < N; c++) {
            const next = t + m < T ? b.values[(t + m) * N + c] : b.lastValues[c];
            want[t * N + c] = (sums[(t + m) * N + c] - sums[t * N + c] + prod[t + m] * next) / prod[t];
          }
        }
        expectClose(got, want, 1e-5, 1e-4);
      }
    }
  });

  it('is identical with 1 thread and with the pool (narrow and row paths)', () => {
    for (const [T, N] of [[20_000, 3], [5_000, 12]] as const) {
      const b = batch(T, N, 11, 0.01, 0.01);
      const pooled = nstepReturns({ shape: [T, N], ...b, n: 8 });
      setNumThreads(1);
      try {
        expect(Array.from(nstepReturns({ shape: [T, N], ...b, n: 8 }).returns)).toEqual(Array.from(pooled.returns));
      } finally {
        setNumThreads(2);
      }
    }
  });

  it('writes into a caller-provided output; async gives the same', async () => {
    const T = 8, N = 4;
    const b = batch(T, N, 5, 0.2, 0.2);
    const out = { returns: new Float32Array(T * N) };
    const res = nstepReturns({ shape: [T, N], ...b, n: 3, out });
    expect(res.returns).toBe(out.returns);
    const asyncRes = await nstepReturnsAsync({ shape: [T, N], ...b, n: 3 });
    expect(Array.from(asyncRes.returns)).toEqual(Array.from(out.returns));
  });

  it('rejects bad input with typed errors', () => {
    const T = 4, N = 2;
    const b = batch(T, N, 1, 0, 0);
    const base = { shape: [T, N] as [number, number], rewards: b.rewards, values: b.values, n: 2 };
    expect(code(() => nstepReturns({ ...base, n: 0 }))).toBe('ERR_RANGE');
    expect(code(() => nstepReturns({ ...base, n: 1.5 }))).toBe('ERR_RANGE');
    expect(code(() => nstepReturns({ ...base, n: Infinity }))).toBe('ERR_RANGE');
    expect(code(() => nstepReturns({ ...base, n: undefined as unknown as number }))).toBe('ERR_ARG');
    expect(code(() => nstepReturns({ ...base, n: '3' as unknown as number }))).toBe('ERR_ARG');
    expect(code(() => nstepReturns({ ...base, rewards: new Uint8Array(8) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(code(() => nstepReturns({ ...base, values: new Float32Array(9) }))).toBe('ERR_SHAPE');
    expect(code(() => nstepReturns({ ...base, shape: [4, -2] }))).toBe('ERR_SHAPE');
    expect(code(() => nstepReturns({ ...base, gamma: 1.01 }))).toBe('ERR_RANGE');
    expect(code(() => nstepReturns({ ...base, gamma: new Float32Array([0.9, 0.9, 0.9, -1]) }))).toBe('ERR_RANGE');
    expect(code(() => nstepReturns({ ...base, truncated: new Uint8Array(8) }))).toBe('ERR_ARG');
    expect(code(() => nstepReturns({ ...base, nextValues: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(code(() => nstepReturns({ ...base, out: { returns: b.rewards.subarray(2) } }))).toBe('ERR_SHAPE');
    expect(code(() => nstepReturns({ ...base, out: { returns: b.values } }))).toBe('ERR_ARG');
    expect(code(() => nstepReturns({ ...base, device: 'x' as 'cpu' }))).toBe('ERR_DEVICE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().nstepReturns;
    const f = new Float32Array(4);
    const out = new Float32Array(4);
    const attempts: unknown[][] = [
      [],
      [2, 2, f, f],
      [2 ** 40, 2 ** 40, f, f],
      [2, 2, f, f, null, null, null, null, null, 0.9, 2, new Float32Array(3)],
      [2, 2, f, f, null, null, null, null, null, 0.9, 0, out],
      [2, 2, f, f, null, null, null, null, null, 0.9, 2.5, out],
      [2, 2, f, f, null, null, null, null, null, 0.9, '2', out],
      [2, 2, f, f, null, null, null, null, null, 0.9, 2 ** 41, out],
      [2, 2, f, f, null, new Uint8Array(4), null, null, null, 0.9, 2, out],
      [2, 2, f, f, null, null, null, null, null, 0.9, 2, f],
      [2, 2, f, f, null, null, null, null, null, 0.9, 2, out, true],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, fc.integer({ min: 1, max: 40 }), ([T, N], seed, pTerm, pTrunc, n) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const got = nstepReturns({ shape: [T, N], ...b, n, device: 'cuda' });
        expectClose(got.returns, nstepReturnsRef({ T, N, ...b, gamma: Math.fround(0.99), n }), 1e-5, 1e-4);
      }),
      { numRuns: 50 },
    );
  });
});
