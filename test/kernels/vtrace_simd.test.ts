// The vectorised paths of vtrace (native/kernels/vtrace.cc, simd_scan.h): 16-column blocks with
// remainder columns (strips in cache, rows with streaming stores out of cache), one-column
// batches scanned 8 steps per vector, pgAdvantages fused into the scan, float32 ratios (NaN and
// overflow edges), and outputs that start off a 64-byte boundary.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vtrace } from '../../src/index.js';
import { vtraceRef } from '../reference/vtrace.js';
import { expectClose, expectSameBits, randomF32, rng, vtraceBatch } from '../helpers.js';

const batch = vtraceBatch;

/** A view of n floats starting `offset` elements into a fresh buffer (offset 1: misaligned). */
function outView(n: number, offset: number): Float32Array {
  return new Float32Array(n + offset).subarray(offset);
}

describe('vtrace vectorised paths', () => {
  it('matches the reference with 16-column blocks and remainders, one-column batches, all parameter kinds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.oneof(fc.constant(1), fc.constant(16), fc.constant(17), fc.constant(31), fc.constant(48), fc.integer({ min: 1, max: 70 })),
        fc.integer(),
        fc.constantFrom(0, 0.05, 0.5),
        fc.constantFrom(0, 0.05, 0.5),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        fc.boolean(),
        fc.constantFrom(0, 1, 3),
        (T, N, seed, pTerm, pTrunc, kind, nextGiven, offset) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x2545f491);
          const g = kind === 'scalar' ? Math.fround(0.97) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const l = kind === 'scalar' ? Math.fround(0.9) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const nextValues = nextGiven ? randomF32(T * N, rand) : undefined;
          const out = { vs: outView(T * N, offset), pgAdvantages: outView(T * N, offset) };
          const th = { clipRhoThreshold: Math.fround(1.3), clipCThreshold: Math.fround(0.9), clipPgRhoThreshold: Math.fround(2) };
          const got = vtrace({ shape: [T, N], ...b, nextValues, gamma: g, lambda: l, ...th, out });
          const want = vtraceRef({ T, N, ...b, nextValues, gamma: g, lambda: l, clipRho: th.clipRhoThreshold, clipC: th.clipCThreshold, clipPgRho: th.clipPgRhoThreshold });
          expectClose(got.vs, want.vs, 1e-5, 1e-4);
          expectClose(got.pgAdvantages, want.pgAdvantages, 1e-5, 1e-4);
        },
      ),
      { numRuns: 120 },
    );
  });

  // 2^20 elements and more: rows with streaming stores (N >= 16) and the streamed one-column scan.
  for (const [T, N, offset] of [[16_400, 67, 1], [8_193, 128, 0], [1_048_583, 1, 1], [1_048_576, 1, 0]] as const) {
    it(`streamed outputs: T=${T} N=${N}, outputs offset by ${offset}`, () => {
      const b = batch(T, N, T + N + offset, 0.002, 0.002);
      const gamma = randomF32(T, rng(5)).map((x) => 0.9 + 0.1 * x);
      const out = { vs: outView(T * N, offset), pgAdvantages: outView(T * N, offset) };
      const got = vtrace({ shape: [T, N], ...b, gamma, lambda: 0.95, out });
      const want = vtraceRef({ T, N, ...b, gamma, lambda: Math.fround(0.95), clipRho: 1, clipC: 1, clipPgRho: 1 });
      expectClose(got.vs, want.vs, 1e-4, 1e-4);
      expectClose(got.pgAdvantages, want.pgAdvantages, 1e-4, 1e-4);
    });
  }

  it('a NaN log-ratio gives NaN at its step and before it in the episode; huge ratios clip to any threshold', () => {
    for (const N of [1, 3, 16, 21]) {
      const T = 40;
      const b = batch(T, N, 77 + N, 0, 0);
      const logRhos = b.logRhos.slice();
      logRhos[20 * N + (N - 1)] = NaN;
      logRhos[30 * N] = 1000;
      logRhos[31 * N] = 89;
      logRhos[32 * N] = -1000;
      // Above e^88: an overflowing ratio must still clip to it (with small TD errors there, so
      // that ρ δ stays a float32).
      const clip = 2e38;
      for (let t = 30; t < 34; t++) (b.rewards[t * N] = 0), (b.values[t * N] = 0.5), (b.terminated[t * N] = 0), (b.truncated[t * N] = 0);
      const got = vtrace({ shape: [T, N], ...b, logRhos, clipRhoThreshold: clip, clipCThreshold: 1, clipPgRhoThreshold: 1 });
      const want = vtraceRef({ T, N, ...b, logRhos, gamma: Math.fround(0.99), lambda: 1, clipRho: Math.fround(clip), clipC: 1, clipPgRho: 1 });
      expect(Number.isNaN(got.vs[20 * N + (N - 1)])).toBe(true);
      expect(Number.isNaN(got.vs[19 * N + (N - 1)])).toBe(true);
      expect(Number.isNaN(got.pgAdvantages[20 * N + (N - 1)])).toBe(true);
      expectClose(got.vs, want.vs, 1e-5, 1e-4);
      expectClose(got.pgAdvantages, want.pgAdvantages, 1e-5, 1e-4);
    }
  });

  // One-column batches with scalar γ, λ and no truncations take a lean interior loop (vtrace.cc,
  // VtraceColumn): it must match the reference and be bit for bit the general path (forced here
  // by an all-zero truncated array), NaN and overflowing ratios included.
  it('one-column lean path: matches the reference and the general path bit for bit', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 600 }), fc.constantFrom(1_048_576, 1_048_583)),
        fc.integer(),
        fc.constantFrom(0, 0.01, 0.5, 1),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(0, 1, 3),
        fc.boolean(),
        (T, seed, pTerm, withTerm, withLast, offset, edges) => {
          const b = batch(T, 1, seed, pTerm, 0);
          const logRhos = b.logRhos.slice();
          if (edges) for (const [k, x] of [[0.3, NaN], [0.5, 1000], [0.6, 89], [0.7, -1000]] as const) logRhos[Math.floor(k * T)] = x;
          const terminated = withTerm ? b.terminated : undefined;
          const lastValues = withLast ? b.lastValues : undefined;
          const th = { clipRhoThreshold: Math.fround(1.3), clipCThreshold: Math.fround(0.9), clipPgRhoThreshold: Math.fround(2) };
          const out = { vs: outView(T, offset), pgAdvantages: outView(T, offset) };
          const base = { shape: [T, 1] as [number, number], rewards: b.rewards, values: b.values, logRhos, terminated, lastValues, gamma: 0.97, lambda: 0.9, ...th };
          const got = vtrace({ ...base, out });
          const general = vtrace({ ...base, truncated: new Uint8Array(T), finalValues: b.values });
          expectSameBits(got.vs, general.vs);
          expectSameBits(got.pgAdvantages, general.pgAdvantages);
          if (!edges) {
            const want = vtraceRef({ T, N: 1, rewards: b.rewards, values: b.values, logRhos, terminated, lastValues, gamma: Math.fround(0.97), lambda: Math.fround(0.9), clipRho: th.clipRhoThreshold, clipC: th.clipCThreshold, clipPgRho: th.clipPgRhoThreshold });
            expectClose(got.vs, want.vs, 1e-5, 1e-4);
            expectClose(got.pgAdvantages, want.pgAdvantages, 1e-5, 1e-4);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
