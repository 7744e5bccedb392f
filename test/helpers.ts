// Shared test utilities: random batches from fast-check seeds, and tolerant comparisons.
import fc from 'fast-check';
import { expect } from 'vitest';
import { backends, setNumThreads } from '../src/index.js';

/** Deterministic PRNG (mulberry32) so a fast-check seed fixes a whole batch. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(length: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(length);
  for (let i = 0; i < length; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** Flags set with probability p (p = 0: none, p = 1: all). */
export function randomFlags(length: number, rand: () => number, p: number): Uint8Array {
  const a = new Uint8Array(length);
  for (let i = 0; i < length; i++) a[i] = rand() < p ? 1 : 0;
  return a;
}

/** Asserts that two float arrays hold the same bits. */
export function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  expect(bytes(actual).equals(bytes(expected))).toBe(true);
}

/** Asserts |a - b| <= atol + rtol * |b| element-wise, reporting the first mismatch. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], b = expected[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
      expect.fail(`element ${i}: received ${a}, expected ${b} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/** Shape arbitrary that includes the edge cases T = 1 and N = 1. */
export const shapeArb = fc.tuple(
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 300 })),
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 70 })),
);

/** Probability of an episode end: none, all, or something in between. */
export const flagProbArb = fc.oneof(
  fc.constant(0),
  fc.constant(1),
  fc.integer({ min: 1, max: 60 }).map((p) => p / 100), // fc.double leans to 0: integers spread the rate
);

/** Whether the CUDA backend can run here (parity tests are skipped, and reported, elsewhere). */
export function cudaPresent(): boolean {
  const b = backends();
  return b.cuda.built && b.cuda.devices.length > 0;
}

function batchFrom(rand: () => number, T: number, N: number, pTerm: number, pTrunc: number) {
  return {
    rewards: randomF32(T * N, rand),
    values: randomF32(T * N, rand),
    terminated: randomFlags(T * N, rand, pTerm),
    truncated: randomFlags(T * N, rand, pTrunc),
    lastValues: randomF32(N, rand),
    finalValues: randomF32(T * N, rand),
  };
}

/** A random time-major [T, N] batch for the bootstrapped return estimators (episode ends with the given probabilities). */
export function bootstrapBatch(T: number, N: number, seed: number, pTerm: number, pTrunc: number) {
  return batchFrom(rng(seed), T, N, pTerm, pTrunc);
}

/** {@link bootstrapBatch} plus V-trace's log importance ratios. */
export function vtraceBatch(T: number, N: number, seed: number, pTerm: number, pTrunc: number) {
  const rand = rng(seed);
  return { ...batchFrom(rand, T, N, pTerm, pTrunc), logRhos: randomF32(T * N, rand, 2) };
}

/** f() run with one thread (the tests' pool has 2), e.g. to check that a result does not depend on the thread count. */
export function onOneThread<R>(f: () => R): R {
  setNumThreads(1);
  try {
    return f();
  } finally {
    setNumThreads(2);
  }
}
