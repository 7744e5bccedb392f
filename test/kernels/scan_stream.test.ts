// The streaming-store and 16-column paths of the scan kernels (native/core/simd_scan.h): batches
// of at least 2^20 elements, with column counts that leave remainders, per-step parameters, and
// output arrays that start off a 64-byte boundary (where streaming stores must fall back).
import { describe, it } from 'vitest';
import { discountedReturns, gae, lambdaReturns } from '../../src/index.js';
import { discountedReturnsRef } from '../reference/discounted_returns.js';
import { gaeRef } from '../reference/gae.js';
import { lambdaReturnsRef } from '../reference/lambda_returns.js';
import { bootstrapBatch, expectClose, randomF32, rng } from '../helpers.js';

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
