// Episode isolation checks for the return estimators (README, NaN/Inf policy): NaN and Inf placed
// in a later episode of a column must leave every earlier step's outputs finite and unchanged.
import fc from 'fast-check';
import { expect } from 'vitest';
import { setNumThreads } from '../src/index.js';
import { bootstrapBatch, rng } from './helpers.js';

/**
 * Shapes that reach the vector paths: one long column (the one-column scans, T >= 1000) or many
 * columns (the 16-column scans, N >= 32).
 */
export const isolationShapeArb = fc.oneof(
  fc.tuple(fc.integer({ min: 1000, max: 2500 }), fc.constant(1)),
  fc.tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 32, max: 70 })),
);

/** γ or λ: 0, 1 or anything in between, as float32. */
export const unitArb = fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })).map(Math.fround);

/**
 * Sets an episode end (terminated or, given truncated, truncated at random) at a random step e of
 * every column and returns e per column.
 */
export function markEpisodeEnds(T: number, N: number, rand: () => number, terminated: Uint8Array, truncated?: Uint8Array): Int32Array {
  const ends = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const e = Math.min(T - 1, Math.floor(rand() * T));
    ends[n] = e;
    (truncated && rand() < 0.5 ? truncated : terminated)[e * N + n] = 1;
  }
  return ends;
}

const poisons = [NaN, Infinity, -Infinity];

/**
 * A copy of the [T, N] array `a` with NaN or ±Inf at step from(n) of every column n (when < T)
 * and at random later steps.
 */
export function poisonFrom(a: Float32Array, T: number, N: number, rand: () => number, from: (n: number) => number): Float32Array {
  const out = a.slice();
  for (let n = 0; n < N; n++) {
    for (let t = from(n); t < T; t++) {
      if (t === from(n) || rand() < 0.2) out[t * N + n] = poisons[Math.floor(rand() * poisons.length)];
    }
  }
  return out;
}

/** A copy of the [N] array `a` (the values after the last step), all NaN or ±Inf. */
export function poisonAll(a: Float32Array, rand: () => number): Float32Array {
  return a.map(() => poisons[Math.floor(rand() * poisons.length)]);
}

/**
 * Asserts that the outputs of steps t <= ends[n] are finite and equal to `clean` (the same bits but
 * for a zero's sign: the vector scans redo a block that meets NaN or Inf with selects, see
 * native/core/simd_scan.h).
 */
export function expectIsolated(got: ArrayLike<number>, clean: ArrayLike<number>, T: number, N: number, ends: Int32Array): void {
  for (let n = 0; n < N; n++) {
    for (let t = 0; t <= ends[n]; t++) {
      const i = t * N + n;
      if (!Number.isFinite(got[i]) || got[i] !== clean[i]) {
        expect.fail(`step ${t} of column ${n} (episode end at ${ends[n]}): ${got[i]}, clean run ${clean[i]}`);
      }
    }
  }
}

/** Runs f with 1 thread and with 2 (the tests' default pool size). */
export function withThreads(f: (threads: number) => void): void {
  for (const threads of [1, 2]) {
    setNumThreads(threads);
    try {
      f(threads);
    } finally {
      setNumThreads(2);
    }
  }
}

export interface IsolationOptions {
  /** Give nextValues (derived from the batch). */
  next?: boolean;
  /** Give truncations (else terminations only, truncated absent: the lean paths of some kernels). */
  trunc?: boolean;
  /** Whether finalValues is read at a step (default: truncated and not terminated, as gae's v'_t). */
  finalReadAt?: (term: boolean, trunc: boolean) => boolean;
}

/**
 * A bootstrapped batch (bootstrapBatch) with an episode end at ends[n] of every column n, as `clean`,
 * and `poisoned`: the same with NaN / ±Inf in the rewards, values and next values after the end,
 * in lastValues, and in nextValues / finalValues at the end itself where they are not read there.
 */
export function isolationBatches(T: number, N: number, seed: number, options: IsolationOptions = {}) {
  const { next = false, trunc = true, finalReadAt = (te: boolean, tr: boolean) => tr && !te } = options;
  const b = bootstrapBatch(T, N, seed, 0.01, trunc ? 0.01 : 0);
  const rand = rng(seed ^ 0x2545f491);
  const ends = markEpisodeEnds(T, N, rand, b.terminated, trunc ? b.truncated : undefined);
  let nextValues: Float32Array | undefined;
  if (next) {
    nextValues = new Float32Array(T * N);
    for (let i = 0; i < T * N; i++) nextValues[i] = b.truncated[i] ? b.finalValues[i] : i + N < T * N ? b.values[i + N] : b.lastValues[i % N];
  }
  const at = (n: number) => ends[n] * N + n;
  const after = (n: number) => ends[n] + 1;
  const nextFrom = (n: number) => ends[n] + (b.terminated[at(n)] ? 0 : 1);
  const finalFrom = (n: number) => ends[n] + (finalReadAt(!!b.terminated[at(n)], !!b.truncated[at(n)]) ? 1 : 0);
  const clean = { ...b, truncated: trunc ? b.truncated : undefined, nextValues };
  const poisoned = {
    ...clean,
    rewards: poisonFrom(b.rewards, T, N, rand, after),
    values: poisonFrom(b.values, T, N, rand, after),
    lastValues: poisonAll(b.lastValues, rand),
    finalValues: poisonFrom(b.finalValues, T, N, rand, finalFrom),
    nextValues: nextValues && poisonFrom(nextValues, T, N, rand, nextFrom),
  };
  return { ends, clean, poisoned };
}

/**
 * Checks that NaN (column 0) and +Inf (the others) in the reward of the last step reach every
 * earlier step of a column without episode ends, with 1 and 2 threads: with c_t = 1/2 the products
 * of c over the pool's time chunks ([40000, 2]: ~10^4 steps; [4096, 32]: ~1200) underflow to 0,
 * which must not act as an episode end. run(T, N, rewards) returns the kernel's output.
 */
export function expectPropagatesWithinEpisode(run: (T: number, N: number, rewards: Float32Array) => Float32Array): void {
  for (const [T, N] of [[40_000, 2], [4096, 32]] as const) {
    const rewards = bootstrapBatch(T, N, T, 0, 0).rewards;
    rewards[(T - 1) * N] = NaN;
    for (let n = 1; n < N; n++) rewards[(T - 1) * N + n] = Infinity;
    withThreads((threads) => {
      const out = run(T, N, rewards);
      for (let i = 0; i < T * N; i++) {
        const want = i % N === 0 ? NaN : Infinity;
        if (!Object.is(out[i], want)) expect.fail(`[${T}, ${N}] on ${threads} thread(s): element ${i} is ${out[i]}, expected ${want}`);
      }
    });
  }
}
