import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gae, gaeAsync, RlcoreError, setNumThreads } from '../../src/index.js';
import { native } from '../../src/native.js';
import { gaeRef } from '../reference/gae.js';
import { bootstrapBatch, cudaPresent, expectClose, flagProbArb, rng, shapeArb } from '../helpers.js';
import { expectIsolated, expectPropagatesWithinEpisode, isolationBatches, isolationShapeArb, unitArb, withThreads } from '../episode_isolation.js';

const batch = bootstrapBatch;

describe('gae', () => {
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
        ([T, N], seed, pTerm, pTrunc, gamma, lambda, paramKind) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x5bd1e995);
          const g =
            paramKind === 'scalar' ? Math.fround(gamma)
            : Float32Array.from({ length: paramKind === 'perStep' ? T : T * N }, () => rand());
          const l = Math.fround(lambda);
          const got = gae({ shape: [T, N], ...b, gamma: g, lambda: l });
          const want = gaeRef({ T, N, ...b, gamma: g, lambda: l });
          expectClose(got.advantages, want.advantages, 1e-5, 1e-4);
          expectClose(got.returns, want.returns, 1e-5, 1e-4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees with a hand computation', () => {
    // One env, T = 3, γ = 0.5, λ = 0.5; step 1 terminates.
    const out = gae({
      shape: [3, 1],
      rewards: new Float32Array([1, 2, 3]),
      values: new Float32Array([0.5, 1, 2]),
      terminated: new Uint8Array([0, 1, 0]),
      lastValues: new Float32Array([4]),
      gamma: 0.5,
      lambda: 0.5,
    });
    // t=2: δ = 3 + 0.5*4 - 2 = 3, A = 3. t=1: δ = 2 - 1 = 1, A = 1 (terminated: no trace).
    // t=0: δ = 1 + 0.5*1 - 0.5 = 1, A = 1 + 0.25*1 = 1.25.
    expect(Array.from(out.advantages)).toEqual([1.25, 1, 3]);
    expect(Array.from(out.returns)).toEqual([1.75, 2, 5]);
  });

  it('bootstraps a truncated step from the final observation and cuts the trace', () => {
    const out = gae({
      shape: [2, 1],
      rewards: new Float32Array([1, 1]),
      values: new Float32Array([0, 10]),
      truncated: new Uint8Array([1, 0]),
      finalValues: new Float32Array([2, 0]),
      lastValues: new Float32Array([0]),
      gamma: 0.5,
      lambda: 1,
    });
    // t=0 truncated: δ = 1 + 0.5*2 - 0 = 2 and A_1 is not added.
    expect(out.advantages[0]).toBe(2);
  });

  it('λ = 1 gives discounted returns minus values; λ = 0 gives one-step TD errors', () => {
    const T = 64, N = 5, gamma = 0.9;
    const b = batch(T, N, 7, 0.05, 0);
    const one = gae({ shape: [T, N], rewards: b.rewards, values: b.values, terminated: b.terminated, lastValues: b.lastValues, gamma, lambda: 1 });
    const zero = gae({ shape: [T, N], rewards: b.rewards, values: b.values, terminated: b.terminated, lastValues: b.lastValues, gamma, lambda: 0 });
    for (let n = 0; n < N; n++) {
      let G = b.lastValues[n];
      for (let t = T - 1; t >= 0; t--) {
        const i = t * N + n;
        const notDone = b.terminated[i] ? 0 : 1;
        const vNext = t + 1 < T ? b.values[i + N] : b.lastValues[n];
        G = b.rewards[i] + gamma * notDone * G;
        expect(one.advantages[i]).toBeCloseTo(G - b.values[i], 4);
        expect(zero.advantages[i]).toBeCloseTo(b.rewards[i] + gamma * notDone * vNext - b.values[i], 5);
      }
    }
  });

  it('nextValues given in full equals the derived next values', () => {
    const T = 50, N = 9;
    const b = batch(T, N, 3, 0.1, 0.1);
    const nextValues = new Float32Array(T * N);
    for (let t = 0; t < T; t++)
      for (let n = 0; n < N; n++) {
        const i = t * N + n;
        nextValues[i] = b.truncated[i] ? b.finalValues[i] : t + 1 < T ? b.values[i + N] : b.lastValues[n];
      }
    const derived = gae({ shape: [T, N], ...b });
    const given = gae({ shape: [T, N], rewards: b.rewards, values: b.values, terminated: b.terminated, truncated: b.truncated, nextValues });
    expect(Array.from(given.advantages)).toEqual(Array.from(derived.advantages));
  });

  it('handles T >= 100 000 and many columns (threaded paths)', () => {
    for (const [T, N] of [[100_000, 1], [100_003, 3], [64, 4099]] as const) {
      const b = batch(T, N, T + N, 0.001, 0.001);
      const got = gae({ shape: [T, N], ...b, gamma: 0.999, lambda: 0.98 });
      const want = gaeRef({ T, N, ...b, gamma: 0.999, lambda: 0.98 });
      expectClose(got.advantages, want.advantages, 1e-4, 1e-3);
    }
  });

  it('is identical with 1 thread and with the pool', () => {
    const T = 4096, N = 3;
    const b = batch(T, N, 11, 0.01, 0.01);
    const pooled = gae({ shape: [T, N], ...b });
    setNumThreads(1);
    try {
      const single = gae({ shape: [T, N], ...b });
      expectClose(single.advantages, pooled.advantages, 1e-6, 1e-5);
    } finally {
      setNumThreads(2);
    }
  });

  it('writes into caller-provided outputs without allocating them', async () => {
    const T = 8, N = 4;
    const b = batch(T, N, 5, 0.2, 0.2);
    const out = { advantages: new Float32Array(T * N), returns: new Float32Array(T * N) };
    const res = gae({ shape: [T, N], ...b, out });
    expect(res.advantages).toBe(out.advantages);
    expect(res.returns).toBe(out.returns);
    const asyncRes = await gaeAsync({ shape: [T, N], ...b });
    expect(Array.from(asyncRes.advantages)).toEqual(Array.from(out.advantages));
  });

  it('rejects bad input with typed errors', () => {
    const T = 4, N = 2;
    const b = batch(T, N, 1, 0, 0);
    const base = { shape: [T, N] as [number, number], rewards: b.rewards, values: b.values };
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(RlcoreError);
        return (e as RlcoreError).code;
      }
      return 'no error';
    };
    expect(code(() => gae({ ...base, rewards: new Float64Array(8) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(code(() => gae({ ...base, values: new Float32Array(7) }))).toBe('ERR_SHAPE');
    expect(code(() => gae({ ...base, shape: [0, 2] }))).toBe('ERR_SHAPE');
    expect(code(() => gae({ ...base, shape: [-1, 2] }))).toBe('ERR_SHAPE');
    expect(code(() => gae({ ...base, gamma: NaN }))).toBe('ERR_RANGE');
    expect(code(() => gae({ ...base, lambda: 1.5 }))).toBe('ERR_RANGE');
    expect(code(() => gae({ ...base, gamma: new Float32Array([0.9, 0.9, 2, 0.9]) }))).toBe('ERR_RANGE');
    expect(code(() => gae({ ...base, gamma: new Float32Array(5) }))).toBe('ERR_SHAPE');
    expect(code(() => gae({ ...base, truncated: new Uint8Array(8) }))).toBe('ERR_ARG');
    expect(code(() => gae({ ...base, terminated: new Int32Array(8) as unknown as Uint8Array }))).toBe('ERR_DTYPE');
    expect(code(() => gae({ ...base, out: { advantages: b.rewards } }))).toBe('ERR_ARG');
    expect(code(() => gae({ ...base, device: 'tpu' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(code(() => gae(undefined as unknown as Parameters<typeof gae>[0]))).toBe('ERR_SHAPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().gae;
    const f = new Float32Array(4);
    const attempts: unknown[][] = [
      [],
      [2, 2],
      [2, 2, f, f, null, null, null, null, null, 0.9, 0.9, new Float32Array(3)],
      [2, 2, f, f, null, null, null, null, null, 2, 0.9, new Float32Array(4)],
      [2 ** 50, 2, f, f],
      [2 ** 40, 2 ** 24, new Float32Array(0), new Float32Array(0), null, null, null, null, null, 0.9, 0.9, new Float32Array(0), new Float32Array(0)],
      [2, 2, 'x', f],
      [2, 2, f, f, null, new Uint8Array(4), null, null, null, 0.9, 0.9, new Float32Array(4)],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });

  it('reads the raw binding\'s numbers and flags with the same codes (one napi call each)', async () => {
    const raw = native().gae;
    const f = () => new Float32Array(4);
    const args = (over: Record<number, unknown>) => {
      const a: unknown[] = [2, 2, f(), f(), null, null, null, null, null, 0.9, 0.9, f(), f(), false, false];
      for (const [k, v] of Object.entries(over)) a[Number(k)] = v;
      return a;
    };
    const rawCode = (a: unknown[]) => {
      try {
        raw(...a);
      } catch (e) {
        expect(e).toBeInstanceOf(RlcoreError);
        return (e as RlcoreError).code;
      }
      return 'no error';
    };
    expect(rawCode(args({ 0: '2' }))).toBe('ERR_ARG');
    expect(rawCode(args({ 1: undefined }))).toBe('ERR_ARG');
    expect(rawCode(args({ 0: 1.5 }))).toBe('ERR_SHAPE');
    expect(rawCode(args({ 9: 'x' }))).toBe('ERR_DTYPE'); // not a number: read as a Float32Array of steps
    expect(rawCode(args({ 9: 1.5 }))).toBe('ERR_RANGE');
    expect(rawCode(args({ 10: Number.NaN }))).toBe('ERR_RANGE');
    expect(rawCode(args({ 11: [0, 0, 0, 0] }))).toBe('ERR_DTYPE');
    expect(rawCode(args({ 11: new Float64Array(4) }))).toBe('ERR_DTYPE');
    // Flags follow JS truthiness: booleans, and anything else.
    expect(raw(...args({ 13: 0, 14: 0 }))).toBeUndefined();
    expect(raw(...args({ 13: null, 14: '' }))).toBeUndefined();
    const pending = raw(...args({ 14: 1 }));
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(rawCode(args({ 13: 'yes' }))).toBe('ERR_DEVICE'); // truthy: CUDA asked of a CPU-only addon
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, ([T, N], seed, pTerm, pTrunc) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const got = gae({ shape: [T, N], ...b, device: 'cuda' });
        const want = gaeRef({ T, N, ...b, gamma: Math.fround(0.99), lambda: Math.fround(0.95) });
        expectClose(got.advantages, want.advantages, 1e-5, 1e-4);
      }),
      { numRuns: 50 },
    );
    const T = 1_000_000;
    const b = batch(T, 1, 1, 0, 0);
    const got = gae({ shape: [T, 1], ...b, device: 'cuda' });
    expectClose(got.advantages, gaeRef({ T, N: 1, ...b, gamma: Math.fround(0.99), lambda: Math.fround(0.95) }).advantages, 1e-4, 1e-3);
  });
});

describe('gae with scalar γ and λ', () => {
  // The vector path forms γλ once per call for scalar parameters; per-step arrays of the same
  // values take the general path, which forms it per element with the same float32 product.
  const unitArb = fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })).map(Math.fround);
  it('equals the per-step path bit for bit, and the reference', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, unitArb, unitArb, ([T, N], seed, pTerm, pTrunc, gamma, lambda) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const scalar = gae({ shape: [T, N], ...b, gamma, lambda, device: 'cpu' });
        const perStep = gae({ shape: [T, N], ...b, gamma: new Float32Array(T).fill(gamma), lambda: new Float32Array(T).fill(lambda), device: 'cpu' });
        expect(scalar.advantages).toEqual(perStep.advantages);
        expect(scalar.returns).toEqual(perStep.returns);
        const want = gaeRef({ T, N, ...b, gamma, lambda });
        expectClose(scalar.advantages, want.advantages, 1e-4, 1e-4);
      }),
      { numRuns: 60 },
    );
  });
});

describe('gae: NaN and Inf (README, NaN/Inf policy)', () => {
  it('stay in their episode: earlier episodes are finite and as in a clean run (reference too; 1 and 2 threads)', () => {
    const check = ([T, N]: [number, number], seed: number, gamma: number, lambda: number, next: boolean, trunc: boolean) => {
      const { ends, clean, poisoned } = isolationBatches(T, N, seed, { next, trunc });
      expectIsolated(gaeRef({ T, N, ...poisoned, gamma, lambda }).advantages, gaeRef({ T, N, ...clean, gamma, lambda }).advantages, T, N, ends);
      withThreads(() => {
        const want = gae({ shape: [T, N], ...clean, gamma, lambda });
        const got = gae({ shape: [T, N], ...poisoned, gamma, lambda });
        expectIsolated(got.advantages, want.advantages, T, N, ends);
        expectIsolated(got.returns, want.returns, T, N, ends);
      });
    };
    fc.assert(fc.property(isolationShapeArb, fc.integer(), unitArb, unitArb, fc.boolean(), fc.boolean(), check), { numRuns: 40 });
    check([40_000, 2], 1, 0.99, 0.95, false, true); // the pool's split of long columns over time
    check([40_000, 2], 2, 0.99, 0.95, true, true);
    check([600, 256], 3, 0.99, 0.95, false, true); // 16-column row order
    check([1100, 1000], 4, 0.99, 0.95, false, true); // streamed row order
  });

  it('propagate to every earlier step of their episode, however the scan groups the steps', () => {
    expectPropagatesWithinEpisode((T, N, rewards) => gae({ shape: [T, N], rewards, values: new Float32Array(T * N), gamma: 1, lambda: 0.5 }).advantages);
  });
});
