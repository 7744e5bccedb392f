// The streaming-store and 16-column paths of the scan kernels (native/core/simd_scan.h): batches
// of at least 2^20 elements, with column counts that leave remainders, per-step parameters, and
// output arrays that start off a 64-byte boundary (where streaming stores must fall back); wide
// column blocks (native/core/scan.h, kStreamColumns: more than 512 columns, and more than 4096 on
// one thread) with per-column parameters and nextValues (prefetched inputs); tokenGae's staged
// streaming stores (native/kernels/token_gae.cc) on many sequences of odd lengths.
import { describe, expect, it } from 'vitest';
import { discountedReturns, gae, lambdaReturns, setNumThreads, tokenGae, vtrace } from '../../src/index.js';
import { discountedReturnsRef } from '../reference/discounted_returns.js';
import { gaeRef } from '../reference/gae.js';
import { lambdaReturnsRef } from '../reference/lambda_returns.js';
import { tokenGaeRef } from '../reference/token_gae.js';
import { vtraceRef } from '../reference/vtrace.js';
import { bootstrapBatch, expectClose, randomF32, rng, vtraceBatch } from '../helpers.js';

const batch = (T: number, N: number, seed: number) => bootstrapBatch(T, N, seed, 0.002, 0.002);

/** A view of n floats starting `offset` elements into a fresh buffer (offset 1: misaligned). */
function outView(n: number, offset: number): Float32Array {
  return new Float32Array(n + offset).subarray(offset);
}

describe('scan kernels on large batches (streamed outputs)', () => {
  for (const [T, N, offset] of [[16_400, 64, 0], [8_193, 131, 0], [16_400, 64, 1]] as const) {
    it(`T=${T} N=${N}, outputs offset by ${offset}`, () => {
      const b = batch(T, N, T + N + offset);
      const gamma = randomF32(T, rng(5)).map((x) => 0.9 + 0.1 * x);
      const lambda = 0.9;
      const g = gae({ shape: [T, N], ...b, gamma, lambda, out: { advantages: outView(T * N, offset), returns: outView(T * N, offset) } });
      const gRef = gaeRef({ T, N, ...b, gamma, lambda });
      expectClose(g.advantages, gRef.advantages, 1e-4, 1e-4);
      expectClose(g.returns, gRef.returns, 1e-4, 1e-4);
      const l = lambdaReturns({ shape: [T, N], ...b, gamma, lambda, out: { returns: outView(T * N, offset) } });
      expectClose(l.returns, lambdaReturnsRef({ T, N, ...b, gamma, lambda }), 1e-4, 1e-4);
      const d = discountedReturns({ shape: [T, N], ...b, gamma, out: { returns: outView(T * N, offset) } });
      expectClose(d.returns, discountedReturnsRef({ T, N, ...b, gamma }), 1e-4, 1e-4);
    });
  }
});

describe('scan kernels on wide streamed batches (whole-row column blocks, prefetched inputs)', () => {
  // [T, N, threads, output offset]: N > 512 with a remainder, N > 4096 on one thread (two blocks).
  for (const [T, N, threads, offset] of [[1_030, 1_021, 2, 1], [260, 4_133, 1, 0], [130, 8_200, 2, 3]] as const) {
    it(`T=${T} N=${N} on ${threads} thread(s), outputs offset by ${offset}`, () => {
      setNumThreads(threads);
      try {
        const b = vtraceBatch(T, N, T * 7 + N, 0.003, 0.003);
        const rand = rng(N);
        // Per-column parameters and nextValues: the optional inputs that Prefetch16 hints.
        const gamma = Float32Array.from({ length: T * N }, () => 0.9 + 0.1 * rand());
        const lambda = Float32Array.from({ length: T * N }, () => rand());
        const nextValues = randomF32(T * N, rand);
        const g = gae({ shape: [T, N], ...b, nextValues, gamma, lambda, out: { advantages: outView(T * N, offset), returns: outView(T * N, offset) } });
        const gRef = gaeRef({ T, N, ...b, nextValues, gamma, lambda });
        expectClose(g.advantages, gRef.advantages, 1e-4, 1e-4);
        expectClose(g.returns, gRef.returns, 1e-4, 1e-4);
        const l = lambdaReturns({ shape: [T, N], ...b, gamma, lambda: 0.9, out: { returns: outView(T * N, offset) } });
        expectClose(l.returns, lambdaReturnsRef({ T, N, ...b, gamma, lambda: 0.9 }), 1e-4, 1e-4);
        const d = discountedReturns({ shape: [T, N], ...b, gamma: 0.99 });
        expectClose(d.returns, discountedReturnsRef({ T, N, ...b, gamma: Math.fround(0.99) }), 1e-4, 1e-4);
        const th = { clipRhoThreshold: Math.fround(1.3), clipCThreshold: Math.fround(0.9), clipPgRhoThreshold: Math.fround(2) };
        const v = vtrace({ shape: [T, N], ...b, gamma, lambda, ...th, out: { vs: outView(T * N, offset), pgAdvantages: outView(T * N, offset) } });
        const vRef = vtraceRef({ T, N, ...b, gamma, lambda, clipRho: th.clipRhoThreshold, clipC: th.clipCThreshold, clipPgRho: th.clipPgRhoThreshold });
        expectClose(v.vs, vRef.vs, 1e-4, 1e-4);
        expectClose(v.pgAdvantages, vRef.pgAdvantages, 1e-4, 1e-4);
      } finally {
        setNumThreads(2);
      }
    });
  }

  it('gives bit-identical results on 1 and 2 threads', () => {
    const T = 300, N = 4_500;
    const b = bootstrapBatch(T, N, 11, 0.01, 0.01);
    const twice = gae({ shape: [T, N], ...b, gamma: 0.99, lambda: 0.95 });
    setNumThreads(1);
    try {
      const once = gae({ shape: [T, N], ...b, gamma: 0.99, lambda: 0.95 });
      expect(Buffer.compare(Buffer.from(once.advantages.buffer), Buffer.from(twice.advantages.buffer))).toBe(0);
    } finally {
      setNumThreads(2);
    }
  });
});

describe('tokenGae on streamed batches (staged streaming stores)', () => {
  // >= 2^20 tokens: sequences of random lengths (0 to 3000, any alignment), with and without
  // rewards and returns, outputs offset so their rows start anywhere within a line.
  for (const [seed, offset, withRewards, withReturns] of [[1, 0, true, true], [2, 1, false, true], [3, 2, true, false]] as const) {
    it(`seed ${seed}, outputs offset by ${offset}, rewards ${withRewards}, returns ${withReturns}`, () => {
      const rand = rng(seed);
      const lens: number[] = [];
      let total = 0;
      while (total < 1_100_000) {
        const len = rand() < 0.05 ? 0 : Math.floor(rand() * 3000);
        lens.push(len);
        total += len;
      }
      const lengths = Int32Array.from(lens);
      const values = randomF32(total, rand), rewards = withRewards ? randomF32(total, rand, 0.01) : undefined;
      const terminalRewards = randomF32(lens.length, rand);
      const o = { lengths, values, rewards, terminalRewards, gamma: 0.999, lambda: 0.95 };
      const out = { advantages: outView(total, offset), returns: withReturns ? outView(total, offset) : undefined };
      const got = tokenGae({ ...o, out });
      const want = tokenGaeRef(o);
      expectClose(got.advantages, want.advantages, 1e-4, 1e-4);
      if (withReturns) expectClose(got.returns!, want.returns, 1e-4, 1e-4);
    });
  }
});
