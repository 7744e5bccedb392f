// The vectorised paths of vtrace (native/kernels/vtrace.cc, simd_scan.h): 16-column blocks with
// remainder columns (strips in cache, rows with streaming stores out of cache), one-column
// batches scanned 8 steps per vector, pgAdvantages fused into the scan, float32 ratios (NaN and
// overflow edges), and outputs that start off a 64-byte boundary.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vtrace } from '../../src/index.js';
import { vtraceRef } from '../reference/vtrace.js';
import { vtraceBatch, expectClose, randomF32, rng } from '../helpers.js';

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
});
