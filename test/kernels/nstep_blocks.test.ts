// The block decomposition of nstepReturns (native/kernels/nstep_returns.cc, NstepBlocks and its
// row-order AVX-512 form NstepRows16): windows composed from per-block suffix and prefix maps, on
// random episode patterns, window lengths (1, around T, above T, not dividing T, above 2^15 with
// the prefixes kept in pieces), column counts with remainders, panels of 4096 columns, one-column
// batches (8 windows per vector: NstepColumnShift for n <= 8, NstepColumn8 up to 64), thread
// splits over columns and over time, and NaN/Inf beyond episode ends on every path; and the
// direct window sums for n <= 8 and at least 16 columns (NstepWindows16: every n with its groups
// of steps, γ kinds, optional inputs, masked first and last chunks, splits over steps and columns).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nstepReturns, setNumThreads } from '../../src/index.js';
import { nstepReturnsRef } from '../reference/nstep_returns.js';
import { bootstrapBatch, expectClose, onOneThread, randomF32, rng } from '../helpers.js';

const batch = bootstrapBatch;

/**
 * A batch whose column c has one episode end at step ends[c] (terminated in even columns,
 * truncated in odd ones) and no other, and a copy of it in which every input of the later episode
 * is `bad` (NaN or Inf): rewards and final values after the end, values from the step after it
 * (v' of the end, read only where truncated, from finalValues), nextValues after it (and at it
 * where terminated), lastValues.
 */
function episodePair(T: number, N: number, seed: number, bad: number, next: boolean) {
  const rand = rng(seed);
  const clean = { ...batch(T, N, seed, 0, 0), nextValues: next ? randomF32(T * N, rand) : undefined };
  const ends = Array.from({ length: N }, () => Math.floor(rand() * (T - 1)));
  ends.forEach((e, c) => ((c % 2 === 0 ? clean.terminated : clean.truncated)[e * N + c] = 1));
  const dirty = {
    ...clean,
    rewards: clean.rewards.slice(),
    values: clean.values.slice(),
    finalValues: clean.finalValues.slice(),
    nextValues: clean.nextValues?.slice(),
    lastValues: new Float32Array(N).fill(bad),
  };
  ends.forEach((e, c) => {
    for (let t = e + 1; t < T; t++) {
      const i = t * N + c;
      dirty.rewards[i] = dirty.values[i] = dirty.finalValues[i] = bad;
      if (dirty.nextValues) dirty.nextValues[i] = bad;
    }
    if (dirty.nextValues && c % 2 === 0) dirty.nextValues[e * N + c] = bad;
  });
  return { clean, dirty, ends };
}

/** Outputs at the steps of each column's first episode (t <= ends[c]). */
function firstEpisodes(x: ArrayLike<number>, N: number, ends: number[]): number[] {
  const out: number[] = [];
  ends.forEach((e, c) => {
    for (let t = 0; t <= e; t++) out.push(x[t * N + c]);
  });
  return out;
}

/** Runs `run` with 1, 2 and 3 threads: the first result matches `want`, the others it bit for bit. */
function expectSameAcrossThreads(run: () => Float32Array, want: ArrayLike<number>): void {
  const runs = [1, 2, 3].map((threads) => {
    setNumThreads(threads);
    try {
      return run();
    } finally {
      setNumThreads(2);
    }
  });
  expectClose(runs[0], want, 1e-5, 1e-4);
  expect(Array.from(runs[1])).toEqual(Array.from(runs[0]));
  expect(Array.from(runs[2])).toEqual(Array.from(runs[0]));
}

describe('nstepReturns block decomposition', () => {
  it('matches the direct window sums on random shapes, episode patterns, n and γ kinds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 150 }),
        fc.oneof(fc.constant(1), fc.constant(2), fc.constant(16), fc.constant(19), fc.integer({ min: 1, max: 40 })),
        fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 200 })),
        fc.integer(),
        fc.constantFrom(0, 0.03, 0.3, 1),
        fc.constantFrom(0, 0.03, 0.3),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        fc.boolean(),
        (T, N, n, seed, pTerm, pTrunc, kind, nextGiven) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x6c078965);
          const gamma = kind === 'scalar' ? Math.fround(0.93) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const nextValues = nextGiven ? randomF32(T * N, rand) : undefined;
          const got = nstepReturns({ shape: [T, N], ...b, nextValues, gamma, n });
          expectClose(got.returns, nstepReturnsRef({ T, N, ...b, nextValues, gamma, n }), 1e-5, 1e-5);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('long columns and wide batches, split over time and over columns, are identical with 1 thread', () => {
    for (const [T, N, n] of [[200_003, 1, 5], [50_001, 3, 64], [4_099, 67, 5], [2_000, 600, 7], [700, 33, 1000]] as const) {
      const b = batch(T, N, T + N + n, 0.01, 0.005);
      const pooled = nstepReturns({ shape: [T, N], ...b, gamma: 0.99, n }).returns;
      expectClose(pooled, nstepReturnsRef({ T, N, ...b, gamma: Math.fround(0.99), n }), 1e-5, 1e-4);
      const single = onOneThread(() => nstepReturns({ shape: [T, N], ...b, gamma: 0.99, n }).returns);
      expect(Array.from(single)).toEqual(Array.from(pooled));
    }
  });

  it('blocks longer than 2^15 steps (prefixes kept in pieces) match the reference, identical with 1 thread', () => {
    // Two pieces and a short last block, and one block; episode ends about every 170 steps keep
    // the reference's direct sums short (nstep_returns.test.ts has long windows without ends).
    for (const [T, N, n] of [[70_001, 3, 33_000], [40_000, 2, 40_000]] as const) {
      const b = batch(T, N, T + n, 0.003, 0.003);
      const rand = rng(n);
      const gamma = Float32Array.from({ length: T }, () => 0.999 + 0.001 * rand());
      const pooled = nstepReturns({ shape: [T, N], ...b, gamma, n }).returns;
      expectClose(pooled, nstepReturnsRef({ T, N, ...b, gamma, n }), 1e-5, 1e-4);
      expect(Array.from(onOneThread(() => nstepReturns({ shape: [T, N], ...b, gamma, n }).returns))).toEqual(Array.from(pooled));
    }
  });

  it('keeps NaN beyond an episode end out of every window, in every column path', () => {
    for (const N of [1, 3, 16, 21]) {
      const T = 37, n = 6;
      const b = batch(T, N, 90 + N, 0, 0);
      const rand = rng(N);
      for (let k = 0; k < 12; k++) {
        const t = 1 + Math.floor(rand() * (T - 2)), c = Math.floor(rand() * N);
        b.terminated[t * N + c] = 1;
        b.rewards[(t + 1) * N + c] = NaN;
        b.values[(t + 1) * N + c] = Infinity; // v'_t: not read at a termination
      }
      const got = nstepReturns({ shape: [T, N], ...b, gamma: 0.9, n });
      const want = nstepReturnsRef({ T, N, ...b, gamma: Math.fround(0.9), n });
      expectClose(got.returns, want, 1e-5, 1e-5);
    }
  });

  it('16-column strips with streamed outputs (T·N >= 2^20), with and without leftover columns, match the reference', () => {
    for (const [T, N, n] of [[1024, 1024, 5], [701, 1517, 3], [67, 15_661, 12]] as const) {
      const b = batch(T, N, T ^ N ^ n, 0.02, 0.01);
      const rand = rng(T + n);
      const gamma = Float32Array.from({ length: T * N }, () => 0.5 + 0.5 * rand());
      const got = nstepReturns({ shape: [T, N], ...b, gamma, n }).returns;
      expectClose(got, nstepReturnsRef({ T, N, ...b, gamma, n }), 1e-5, 1e-4);
      expect(Array.from(onOneThread(() => nstepReturns({ shape: [T, N], ...b, gamma, n }).returns))).toEqual(Array.from(got));
    }
  });

  it('one column: vector windows of 8 steps match the reference for every n around the vector limit, optional input and batch end', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 60, max: 70 })),
        fc.integer(),
        fc.constantFrom(0, 0.03, 0.3),
        fc.constantFrom(0, 0.03, 0.3),
        fc.constantFrom('scalar', 'perStep'),
        fc.constantFrom('none', 'last', 'final', 'next'),
        (T, n, seed, pTerm, pTrunc, kind, opt) => {
          const b = batch(T, 1, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x2545f491);
          const gamma = kind === 'scalar' ? Math.fround(0.95) : Float32Array.from({ length: T }, () => rand());
          const o = {
            rewards: b.rewards,
            values: b.values,
            terminated: b.terminated,
            truncated: opt === 'final' || opt === 'next' ? b.truncated : undefined,
            finalValues: opt === 'final' ? b.finalValues : undefined,
            nextValues: opt === 'next' ? randomF32(T, rand) : undefined,
            lastValues: opt === 'last' ? b.lastValues : undefined,
          };
          const got = nstepReturns({ shape: [T, 1], ...o, gamma, n });
          expectClose(got.returns, nstepReturnsRef({ T, N: 1, ...o, gamma, n }), 1e-5, 1e-5);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('one column: the same results with 1, 2 and 3 threads (splits at multiples of 8 steps)', () => {
    for (const [T, n] of [[100_003, 5], [65_541, 64], [40_000, 65], [9, 1], [20, 13]] as const) {
      const b = batch(T, 1, T + n, 0.01, 0.005);
      const want = nstepReturnsRef({ T, N: 1, ...b, gamma: Math.fround(0.99), n });
      expectSameAcrossThreads(() => nstepReturns({ shape: [T, 1], ...b, gamma: 0.99, n }).returns, want);
    }
  });

  it('wide rows: several panels, leftover columns and absent optional inputs (zero rows wider than 512 columns)', () => {
    for (const [T, N, n, kind] of [[30, 4500, 3, 'scalar'], [21, 8211, 5, 'perStep'], [12, 1040, 4, 'perStepAndEnv']] as const) {
      const b = batch(T, N, T * N + n, 0.02, 0);
      const rand = rng(N);
      const gamma = kind === 'scalar' ? Math.fround(0.97) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
      const o = { rewards: b.rewards, values: b.values, terminated: b.terminated };
      const want = nstepReturnsRef({ T, N, ...o, gamma, n });
      expectSameAcrossThreads(() => nstepReturns({ shape: [T, N], ...o, gamma, n }).returns, want);
    }
  });

  it('n <= 8 (direct window sums over a ring of maps): every n, γ kind and optional input, leftover columns and batch ends', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.oneof(fc.constant(16), fc.constant(33), fc.integer({ min: 16, max: 90 })),
        fc.integer({ min: 1, max: 8 }),
        fc.integer(),
        fc.constantFrom(0, 0.05, 0.4),
        fc.constantFrom(0, 0.05, 0.4),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        fc.constantFrom('none', 'last', 'final', 'next'),
        (T, N, n, seed, pTerm, pTrunc, kind, opt) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x5bd1e995);
          const gamma = kind === 'scalar' ? Math.fround(0.91) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const o = {
            rewards: b.rewards,
            values: b.values,
            terminated: b.terminated,
            truncated: opt === 'final' || opt === 'next' ? b.truncated : undefined,
            finalValues: opt === 'final' ? b.finalValues : undefined,
            nextValues: opt === 'next' ? randomF32(T * N, rand) : undefined,
            lastValues: opt === 'last' ? b.lastValues : undefined,
          };
          const got = nstepReturns({ shape: [T, N], ...o, gamma, n });
          expectClose(got.returns, nstepReturnsRef({ T, N, ...o, gamma, n }), 1e-5, 1e-5);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('n <= 8: truncations with NaN beyond them, panels and time splits give the same results with 1, 2 and 3 threads', () => {
    for (const [T, N, n, kind] of [[3000, 40, 8, 'perStepAndEnv'], [257, 2750, 8, 'scalar'], [600, 130, 2, 'perStep'], [64, 17, 1, 'scalar'], [20, 22_000, 8, 'perStep']] as const) {
      const b = batch(T, N, T + N + n, 0.02, 0.02);
      const rand = rng(T ^ N);
      // NaN rewards right after each episode end: only the windows that start there see them.
      for (let i = 0; i + N < T * N; i++) if (b.terminated[i] || b.truncated[i]) b.rewards[i + N] = NaN;
      const gamma = kind === 'scalar' ? Math.fround(0.98) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
      const want = nstepReturnsRef({ T, N, ...b, gamma, n });
      expectSameAcrossThreads(() => nstepReturns({ shape: [T, N], ...b, gamma, n }).returns, want);
    }
  });
  it('NaN and Inf in a later episode leave every earlier output unchanged, on every path and thread count', () => {
    // [T, N, n]: one long column (8 windows per vector for n <= 8, NstepColumn8 up to 64, then
    // NstepNarrow), a few columns (NstepNarrow), and many (NstepWindows16 split over steps and over
    // columns for n <= 8, the block composition above), with and without nextValues, γ per step.
    const cases = [[100_003, 1, 5], [50_001, 1, 12], [3_001, 1, 70], [20_000, 3, 6], [300, 4099, 5], [40, 4099, 8], [2_000, 600, 3], [600, 130, 20], [97, 37, 1]] as const;
    cases.forEach(([T, N, n], k) => {
      for (const next of [false, true]) {
        const { clean, dirty, ends } = episodePair(T, N, 7 * k + (next ? 1 : 0), k % 2 ? Infinity : NaN, next);
        const gamma = k % 3 === 2 ? Float32Array.from({ length: T }, (_, t) => 0.9 + 0.1 * ((t * 7) % 10) / 10) : 0.97;
        const want = firstEpisodes(nstepReturns({ shape: [T, N], ...clean, gamma, n }).returns, N, ends);
        expect(want.every(Number.isFinite)).toBe(true);
        for (const threads of [1, 2, 3]) {
          setNumThreads(threads);
          try {
            const got = firstEpisodes(nstepReturns({ shape: [T, N], ...dirty, gamma, n }).returns, N, ends);
            expect(got).toEqual(want);
          } finally {
            setNumThreads(2);
          }
        }
        if (T * N * n <= 2e6) {
          const ref = firstEpisodes(nstepReturnsRef({ T, N, ...dirty, gamma, n }), N, ends);
          expect(ref.every(Number.isFinite)).toBe(true);
          expectClose(want, ref, 1e-5, 1e-4);
        }
      }
    });
  });
});
