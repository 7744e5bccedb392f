import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { discountedReturns, discountedReturnsAsync, RlcoreError, setNumThreads } from '../../src/index.js';
import { native } from '../../src/native.js';
import { discountedReturnsRef } from '../reference/discounted_returns.js';
import { cudaPresent, expectClose, flagProbArb, randomF32, randomFlags, rng, shapeArb } from '../helpers.js';
import { expectIsolated, expectPropagatesWithinEpisode, isolationBatches, isolationShapeArb, unitArb, withThreads } from '../episode_isolation.js';

function batch(T: number, N: number, seed: number, pTerm: number, pTrunc: number) {
  const rand = rng(seed);
  return {
    rewards: randomF32(T * N, rand),
    terminated: randomFlags(T * N, rand, pTerm),
    truncated: randomFlags(T * N, rand, pTrunc),
    lastValues: randomF32(N, rand),
    finalValues: randomF32(T * N, rand),
  };
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

describe('discountedReturns', () => {
  it('one long column with a scalar γ (16-step block path): reference, and NaN stays in its episode', () => {
    for (const T of [15, 16, 17, 1000, 100_003]) {
      for (const gamma of [0, 0.5, 0.99, 1]) {
        for (const [pTerm, pTrunc] of [[0, 0], [0.02, 0], [0.01, 0.01], [0.5, 0.2]]) {
          const b = batch(T, 1, T + pTerm * 100, pTerm, pTrunc);
          for (const withFinal of [true, false]) {
            const o = { ...b, finalValues: withFinal ? b.finalValues : undefined, gamma: Math.fround(gamma) };
            const got = discountedReturns({ shape: [T, 1], ...o });
            expectClose(got.returns, discountedReturnsRef({ T, N: 1, ...o }), 1e-5, gamma === 1 ? 1e-3 : 1e-4);
          }
        }
      }
    }
    // A NaN reward reaches the earlier steps of its episode and no others, as in the reference
    // (which restarts the sum at every episode end).
    const T = 200;
    const terminated = new Uint8Array(T);
    terminated[49] = 1;
    const rewards = new Float32Array(T).fill(1);
    rewards[120] = NaN;
    const got = discountedReturns({ shape: [T, 1], rewards, terminated, gamma: 0.9 }).returns;
    const want = discountedReturnsRef({ T, N: 1, rewards, terminated, gamma: Math.fround(0.9) });
    for (let t = 0; t < T; t++) {
      expect(Number.isNaN(got[t])).toBe(t >= 50 && t <= 120);
      expect(Number.isNaN(want[t])).toBe(t >= 50 && t <= 120);
    }
    // With γ = 0 each step is its own sum (c = 0: G_t = r_t, G_{t+1} not read).
    const alone = discountedReturns({ shape: [T, 1], rewards, gamma: 0 }).returns;
    for (let t = 0; t < T; t++) expect(Object.is(alone[t], rewards[t])).toBe(true);
  });

  it('matches the reference on random shapes, flags and parameters', () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer(),
        flagProbArb,
        flagProbArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        fc.boolean(),
        fc.boolean(),
        ([T, N], seed, pTerm, pTrunc, gamma, kind, withLast, withFinal) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x5bd1e995);
          const g = kind === 'scalar' ? Math.fround(gamma) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const o = { ...b, lastValues: withLast ? b.lastValues : undefined, finalValues: withFinal ? b.finalValues : undefined, gamma: g };
          const got = discountedReturns({ shape: [T, N], ...o });
          expectClose(got.returns, discountedReturnsRef({ T, N, ...o }), 1e-5, 1e-4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees with a hand computation', () => {
    // Two envs, T = 3, γ = 0.5. Env 0: step 0 terminates. Env 1: step 1 truncates, V(final) = 8.
    const out = discountedReturns({
      shape: [3, 2],
      rewards: new Float32Array([1, 1, 2, 2, 4, 4]),
      terminated: new Uint8Array([1, 0, 0, 0, 0, 0]),
      truncated: new Uint8Array([0, 0, 0, 1, 0, 0]),
      finalValues: new Float32Array([0, 0, 0, 8, 0, 0]),
      lastValues: new Float32Array([16, 0]),
      gamma: 0.5,
    });
    // Env 0: G_2 = 4 + 8 = 12, G_1 = 2 + 6 = 8, G_0 = 1 (terminated).
    // Env 1: G_2 = 4, G_1 = 2 + 0.5*8 = 6 (truncated: final obs, not G_2), G_0 = 1 + 3 = 4.
    expect(Array.from(out.returns)).toEqual([1, 4, 8, 6, 12, 4]);
  });

  it('without finalValues a truncated step bootstraps nothing; without lastValues the batch end bootstraps 0', () => {
    const out = discountedReturns({
      shape: [3, 1],
      rewards: new Float32Array([1, 2, 4]),
      truncated: new Uint8Array([0, 1, 0]),
      gamma: 0.5,
    });
    expect(Array.from(out.returns)).toEqual([2, 2, 4]);
  });

  it('equals the sum of discounted rewards to the episode end', () => {
    const T = 40, N = 3, gamma = 0.8;
    const b = batch(T, N, 4, 0.1, 0);
    const got = discountedReturns({ shape: [T, N], rewards: b.rewards, terminated: b.terminated, gamma });
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < T; t++) {
        let G = 0, d = 1;
        for (let s = t; s < T; s++) {
          G += d * b.rewards[s * N + n];
          d *= gamma;
          if (b.terminated[s * N + n]) break;
        }
        expect(got.returns[t * N + n]).toBeCloseTo(G, 5);
      }
    }
  });

  it('handles long columns and many columns (threaded paths)', () => {
    for (const [T, N] of [[100_000, 1], [100_003, 3], [20_000, 12], [64, 4099]] as const) {
      const b = batch(T, N, T + N, 0.001, 0.001);
      const got = discountedReturns({ shape: [T, N], ...b, gamma: 0.999 });
      expectClose(got.returns, discountedReturnsRef({ T, N, ...b, gamma: Math.fround(0.999) }), 1e-4, 1e-3);
    }
  });

  it('is the same with 1 thread and with the pool (column and row paths)', () => {
    for (const [T, N] of [[50_000, 2], [10_000, 12]] as const) {
      const b = batch(T, N, 11, 0.0005, 0.0005);
      const pooled = discountedReturns({ shape: [T, N], ...b });
      setNumThreads(1);
      try {
        expectClose(discountedReturns({ shape: [T, N], ...b }).returns, pooled.returns, 1e-6, 1e-5);
      } finally {
        setNumThreads(2);
      }
    }
  });

  it('writes into a caller-provided output; async gives the same', async () => {
    const T = 8, N = 4;
    const b = batch(T, N, 5, 0.2, 0.2);
    const out = { returns: new Float32Array(T * N) };
    const res = discountedReturns({ shape: [T, N], ...b, out });
    expect(res.returns).toBe(out.returns);
    const asyncRes = await discountedReturnsAsync({ shape: [T, N], ...b });
    expect(Array.from(asyncRes.returns)).toEqual(Array.from(out.returns));
  });

  it('rejects bad input with typed errors', () => {
    const T = 4, N = 2;
    const b = batch(T, N, 1, 0, 0);
    const base = { shape: [T, N] as [number, number], rewards: b.rewards };
    expect(code(() => discountedReturns({ ...base, rewards: new Float64Array(8) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(code(() => discountedReturns({ ...base, rewards: new Float32Array(7) }))).toBe('ERR_SHAPE');
    expect(code(() => discountedReturns({ ...base, rewards: undefined as unknown as Float32Array }))).toBe('ERR_ARG');
    expect(code(() => discountedReturns({ ...base, shape: [4] as unknown as [number, number] }))).toBe('ERR_SHAPE');
    expect(code(() => discountedReturns({ ...base, lastValues: new Float32Array(8) }))).toBe('ERR_SHAPE');
    expect(code(() => discountedReturns({ ...base, finalValues: new Float32Array(2) }))).toBe('ERR_SHAPE');
    expect(code(() => discountedReturns({ ...base, gamma: Infinity }))).toBe('ERR_RANGE');
    expect(code(() => discountedReturns({ ...base, gamma: new Float32Array([0.9, NaN, 0.9, 0.9]) }))).toBe('ERR_RANGE');
    expect(code(() => discountedReturns({ ...base, gamma: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(code(() => discountedReturns({ ...base, truncated: new Float32Array(8) as unknown as Uint8Array }))).toBe('ERR_DTYPE');
    expect(code(() => discountedReturns({ ...base, out: { returns: b.rewards } }))).toBe('ERR_ARG');
    expect(code(() => discountedReturns({ ...base, out: { returns: new Float64Array(8) as unknown as Float32Array } }))).toBe('ERR_DTYPE');
    expect(code(() => discountedReturns({ ...base, device: 'gpu' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(code(() => discountedReturns(null as unknown as Parameters<typeof discountedReturns>[0]))).toBe('ERR_SHAPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().discountedReturns;
    const f = new Float32Array(4);
    const out = new Float32Array(4);
    const attempts: unknown[][] = [
      [],
      [2, 2, f],
      [2, 2, f, null, null, null, null, 0.9, new Float32Array(3)],
      [2, 2, f, null, null, null, null, -1, out],
      [2, 2, f, null, null, null, null, {}, out],
      [NaN, 2, f, null, null, null, null, 0.9, out],
      [2 ** 40, 2 ** 40, f, f],
      [2, 2, f, new Uint8Array(3), null, null, null, 0.9, out],
      [2, 2, f, null, null, new Float32Array(4), null, 0.9, out],
      [2, 2, f, null, null, null, null, 0.9, f],
      [2, 2, f, null, null, null, null, 0.9, out, true],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, ([T, N], seed, pTerm, pTrunc) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const got = discountedReturns({ shape: [T, N], ...b, device: 'cuda' });
        expectClose(got.returns, discountedReturnsRef({ T, N, ...b, gamma: Math.fround(0.99) }), 1e-5, 1e-4);
      }),
      { numRuns: 50 },
    );
    const T = 1_000_000;
    const b = batch(T, 1, 1, 0, 0);
    const got = discountedReturns({ shape: [T, 1], ...b, device: 'cuda' });
    expectClose(got.returns, discountedReturnsRef({ T, N: 1, ...b, gamma: Math.fround(0.99) }), 1e-4, 1e-3);
  });
});

describe('discountedReturns: NaN and Inf (README, NaN/Inf policy)', () => {
  it('stay in their episode: earlier episodes are finite and as in a clean run (reference too; 1 and 2 threads)', () => {
    const check = ([T, N]: [number, number], seed: number, gamma: number, trunc: boolean, withFinal: boolean) => {
      // finalValues is read at every truncated step.
      const { ends, clean, poisoned } = isolationBatches(T, N, seed, { trunc, finalReadAt: (_, tr) => tr });
      const pick = (o: typeof clean) => ({ rewards: o.rewards, terminated: o.terminated, truncated: o.truncated, lastValues: o.lastValues, finalValues: withFinal ? o.finalValues : undefined, gamma });
      expectIsolated(discountedReturnsRef({ T, N, ...pick(poisoned) }), discountedReturnsRef({ T, N, ...pick(clean) }), T, N, ends);
      withThreads(() => {
        const want = discountedReturns({ shape: [T, N], ...pick(clean) });
        expectIsolated(discountedReturns({ shape: [T, N], ...pick(poisoned) }).returns, want.returns, T, N, ends);
      });
    };
    fc.assert(fc.property(isolationShapeArb, fc.integer(), unitArb, fc.boolean(), fc.boolean(), check), { numRuns: 40 });
    check([40_000, 2], 1, 0.99, true, true); // the pool's split of long columns over time
    check([600, 256], 3, 0.99, true, true); // 16-column row order
    check([1100, 1000], 4, 0.99, false, true); // streamed row order
  });

  it('propagate to every earlier step of their episode, however the scan groups the steps', () => {
    expectPropagatesWithinEpisode((T, N, rewards) => discountedReturns({ shape: [T, N], rewards, gamma: 0.5 }).returns);
  });
});
