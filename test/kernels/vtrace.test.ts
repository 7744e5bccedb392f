import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gae, lambdaReturns, RlcoreError, setNumThreads, vtrace, vtraceAsync } from '../../src/index.js';
import { native } from '../../src/native.js';
import { vtraceRef } from '../reference/vtrace.js';
import { vtraceBatch, cudaPresent, expectClose, flagProbArb, randomF32, rng, shapeArb } from '../helpers.js';

const batch = vtraceBatch;

const clips = { clipRho: 1, clipC: 1, clipPgRho: 1 };

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

// Episode isolation: NaN and ±Inf in a later episode (rewards, values, log-ratios, nextValues,
// finalValues, lastValues; the next value of a terminated step) must leave every earlier step's
// outputs finite and equal to the clean run's, and the later episodes must be the reference's.
function checkIsolation(T: number, N: number, kind: 'term' | 'trunc' | 'next' | 'perStep', device: 'cpu' | 'cuda'): void {
  const poisons = [NaN, Infinity, -Infinity];
  const seed = T * 7 + N + kind.length;
  const rand = rng(seed);
  const b = batch(T, N, seed, 0.002, kind === 'term' ? 0 : 0.002);
  const nextValues = kind === 'next' ? randomF32(T * N, rand) : undefined;
  const truncated = kind === 'term' ? undefined : b.truncated;
  const gamma = kind === 'perStep' ? Float32Array.from({ length: T }, () => 0.9 + 0.1 * rand()) : Math.fround(0.99);
  // The episode of column n that is poisoned starts after step ends[n] (terminated there, or
  // truncated in every other column where truncations are given).
  const ends = Array.from({ length: N }, () => Math.floor(rand() * (T - 1)));
  for (let n = 0; n < N; n++) {
    const i = ends[n] * N + n;
    const trunc = truncated !== undefined && n % 2 === 1;
    b.terminated[i] = trunc ? 0 : 1;
    if (truncated) truncated[i] = trunc ? 1 : 0;
  }
  const clean = { shape: [T, N] as [number, number], ...b, truncated, nextValues, gamma, lambda: 0.95, clipRhoThreshold: 1.5, device };
  const dirty = {
    ...clean,
    rewards: b.rewards.slice(), values: b.values.slice(), logRhos: b.logRhos.slice(), finalValues: b.finalValues.slice(),
    lastValues: b.lastValues.slice(), nextValues: nextValues?.slice(),
  };
  for (let n = 0; n < N; n++) {
    const e = ends[n], after = () => (e + 1 + Math.floor(rand() * (T - 1 - e))) * N + n;
    for (const arr of [dirty.rewards, dirty.values, dirty.logRhos, dirty.finalValues, dirty.nextValues]) {
      if (arr) for (let k = 0; k < 3; k++) arr[after()] = poisons[Math.floor(rand() * 3)];
    }
    dirty.values[(e + 1) * N + n] = poisons[n % 3]; // v' of step e when it is not given: not read there
    if (dirty.nextValues && b.terminated[e * N + n]) dirty.nextValues[e * N + n] = NaN; // not read at a termination
    dirty.lastValues[n] = NaN;
  }
  const want = vtrace(clean), got = vtrace(dirty);
  for (let n = 0; n < N; n++) {
    for (let t = 0; t <= ends[n]; t++) {
      const i = t * N + n;
      for (const [g, w] of [[got.vs[i], want.vs[i]], [got.pgAdvantages[i], want.pgAdvantages[i]]]) {
        if (!(Number.isFinite(g) && Math.abs(g - w) <= 1e-4 + 1e-5 * Math.abs(w))) {
          expect.fail(`${kind} T=${T} N=${N}: step ${t} column ${n} (episode end ${ends[n]}): ${g}, clean ${w}`);
        }
      }
    }
  }
  const ref = vtraceRef({ T, N, ...dirty, gamma, lambda: Math.fround(0.95), clipRho: Math.fround(1.5), clipC: 1, clipPgRho: 1 });
  // (Equal infinities count as equal.)
  for (const [g, w] of [[got.vs, ref.vs], [got.pgAdvantages, ref.pgAdvantages]] as const) {
    expectClose(Array.from(g, (x, i) => (x === w[i] ? 0 : x)), Array.from(w, (x, i) => (x === g[i] ? 0 : x)), 1e-5, 1e-4);
  }
}

const isolationKinds = ['term', 'trunc', 'next', 'perStep'] as const;

describe('vtrace', () => {
  it('matches the reference on random shapes, flags, ratios, thresholds and parameters', () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer(),
        flagProbArb,
        flagProbArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('scalar', 'perStep', 'perStepAndEnv'),
        fc.tuple(fc.double({ min: 0.05, max: 5, noNaN: true }), fc.double({ min: 0.05, max: 5, noNaN: true }), fc.double({ min: 0.05, max: 5, noNaN: true })),
        ([T, N], seed, pTerm, pTrunc, gamma, lambda, kind, [rho, c, pg]) => {
          const b = batch(T, N, seed, pTerm, pTrunc);
          const rand = rng(seed ^ 0x5bd1e995);
          const g = kind === 'scalar' ? Math.fround(gamma) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const l = kind === 'scalar' ? Math.fround(lambda) : Float32Array.from({ length: kind === 'perStep' ? T : T * N }, () => rand());
          const [clipRho, clipC, clipPgRho] = [rho, c, pg].map(Math.fround);
          const got = vtrace({ shape: [T, N], ...b, gamma: g, lambda: l, clipRhoThreshold: clipRho, clipCThreshold: clipC, clipPgRhoThreshold: clipPgRho });
          const want = vtraceRef({ T, N, ...b, gamma: g, lambda: l, clipRho, clipC, clipPgRho });
          expectClose(got.vs, want.vs, 1e-5, 1e-4);
          expectClose(got.pgAdvantages, want.pgAdvantages, 1e-5, 1e-4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees with a hand computation', () => {
    // One env, T = 2, γ = 0.5, V = [0.5, 1], V(s_2) = 3, ratios [2, 0.5] (ρ = [1, 0.5], c = [1, 0.5]).
    const out = vtrace({
      shape: [2, 1],
      rewards: new Float32Array([1, 2]),
      values: new Float32Array([0.5, 1]),
      logRhos: new Float32Array([Math.log(2), Math.log(0.5)]),
      lastValues: new Float32Array([3]),
      gamma: 0.5,
    });
    // t=1: δ = 0.5 (2 + 1.5 - 1) = 1.25, vs = 2.25. t=0: δ = 1 (1 + 0.5 - 0.5) = 1, vs = 0.5 + 1 + 0.5*1.25 = 2.125.
    // pg_0 = 1 (1 + 0.5*2.25 - 0.5) = 1.625; pg_1 = 0.5 (2 + 0.5*3 - 1) = 1.25.
    const want = [2.125, 2.25], wantPg = [1.625, 1.25];
    for (let t = 0; t < 2; t++) {
      expect(out.vs[t]).toBeCloseTo(want[t], 6);
      expect(out.pgAdvantages[t]).toBeCloseTo(wantPg[t], 6);
    }
  });

  it('on-policy: vs equals λ = 1 returns and pgAdvantages equal λ = 1 GAE advantages', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, fc.double({ min: 1, max: 4, noNaN: true }), ([T, N], seed, pTerm, pTrunc, clip) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const opts = { shape: [T, N] as [number, number], ...b, gamma: 0.95 };
        const got = vtrace({ ...opts, logRhos: new Float32Array(T * N), lambda: 1, clipRhoThreshold: clip, clipCThreshold: clip, clipPgRhoThreshold: clip });
        expectClose(got.vs, lambdaReturns({ ...opts, lambda: 1 }).returns, 1e-5, 1e-4);
        expectClose(got.pgAdvantages, gae({ ...opts, lambda: 1 }).advantages, 1e-5, 1e-4);
      }),
      { numRuns: 40 },
    );
  });

  it('λ scales the traces: λ = 0 gives vs = V + ρ δ', () => {
    const T = 30, N = 4;
    const b = batch(T, N, 8, 0.1, 0.1);
    const got = vtrace({ shape: [T, N], ...b, lambda: 0, gamma: 0.9, clipRhoThreshold: 2 });
    for (let i = 0; i < T * N; i++) {
      const t = Math.floor(i / N);
      const vNext = b.truncated[i] ? b.finalValues[i] : t + 1 < T ? b.values[i + N] : b.lastValues[i % N];
      const rho = Math.min(Math.fround(2), Math.exp(b.logRhos[i]));
      const delta = rho * (b.rewards[i] + (b.terminated[i] ? 0 : 0.9 * vNext) - b.values[i]);
      expect(got.vs[i]).toBeCloseTo(b.values[i] + delta, 5);
    }
  });

  it('clips huge log-ratios (e^x overflowing) to the thresholds', () => {
    const T = 3, N = 1;
    const b = batch(T, N, 2, 0, 0);
    const logRhos = new Float32Array([1000, 88, -1000]);
    const got = vtrace({ shape: [T, N], ...b, logRhos, clipRhoThreshold: 3, clipCThreshold: 2, clipPgRhoThreshold: 1.5 });
    const want = vtraceRef({ T, N, ...b, logRhos, gamma: Math.fround(0.99), lambda: 1, clipRho: 3, clipC: 2, clipPgRho: 1.5 });
    expect(got.vs.every(Number.isFinite)).toBe(true);
    expectClose(got.vs, want.vs, 1e-5, 1e-5);
    expectClose(got.pgAdvantages, want.pgAdvantages, 1e-5, 1e-5);
  });

  it('handles long columns and many columns (threaded paths)', () => {
    for (const [T, N] of [[100_000, 1], [100_003, 3], [20_000, 12], [64, 4099]] as const) {
      const b = batch(T, N, T + N, 0.001, 0.001);
      const got = vtrace({ shape: [T, N], ...b, gamma: 0.999, lambda: 0.98 });
      const want = vtraceRef({ T, N, ...b, gamma: Math.fround(0.999), lambda: Math.fround(0.98), ...clips });
      expectClose(got.vs, want.vs, 1e-4, 1e-3);
      expectClose(got.pgAdvantages, want.pgAdvantages, 1e-4, 1e-3);
    }
  });

  it('is the same with 1 thread and with the pool (column and row paths)', () => {
    for (const [T, N] of [[50_000, 2], [10_000, 12]] as const) {
      const b = batch(T, N, 11, 0.0005, 0.0005);
      const pooled = vtrace({ shape: [T, N], ...b });
      setNumThreads(1);
      try {
        const single = vtrace({ shape: [T, N], ...b });
        expectClose(single.vs, pooled.vs, 1e-6, 1e-5);
        expectClose(single.pgAdvantages, pooled.pgAdvantages, 1e-6, 1e-5);
      } finally {
        setNumThreads(2);
      }
    }
  });

  // Shapes that reach the one-column block scan (lean and general, streamed), the time-split and
  // Column paths, 16-column blocks with remainders, and rows.
  it('keeps NaN and Inf of a later episode out of every earlier episode, in every path', () => {
    for (const [T, N] of [[40, 1], [1000, 1], [100_003, 1], [1_048_583, 1], [40, 3], [20_000, 3], [300, 21], [2000, 16], [64, 4099]] as const) {
      for (const kind of isolationKinds) checkIsolation(T, N, kind, 'cpu');
    }
  });

  it('writes into caller-provided outputs; async gives the same', async () => {
    const T = 8, N = 4;
    const b = batch(T, N, 5, 0.2, 0.2);
    const out = { vs: new Float32Array(T * N), pgAdvantages: new Float32Array(T * N) };
    const res = vtrace({ shape: [T, N], ...b, out });
    expect(res.vs).toBe(out.vs);
    expect(res.pgAdvantages).toBe(out.pgAdvantages);
    const asyncRes = await vtraceAsync({ shape: [T, N], ...b });
    expect(Array.from(asyncRes.vs)).toEqual(Array.from(out.vs));
    expect(Array.from(asyncRes.pgAdvantages)).toEqual(Array.from(out.pgAdvantages));
  });

  it('rejects bad input with typed errors', () => {
    const T = 4, N = 2;
    const b = batch(T, N, 1, 0, 0);
    const base = { shape: [T, N] as [number, number], rewards: b.rewards, values: b.values, logRhos: b.logRhos };
    expect(code(() => vtrace({ ...base, logRhos: undefined as unknown as Float32Array }))).toBe('ERR_ARG');
    expect(code(() => vtrace({ ...base, logRhos: new Float64Array(8) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(code(() => vtrace({ ...base, logRhos: new Float32Array(4) }))).toBe('ERR_SHAPE');
    for (const name of ['clipRhoThreshold', 'clipCThreshold', 'clipPgRhoThreshold'] as const) {
      expect(code(() => vtrace({ ...base, [name]: 0 }))).toBe('ERR_RANGE');
      expect(code(() => vtrace({ ...base, [name]: -1 }))).toBe('ERR_RANGE');
      expect(code(() => vtrace({ ...base, [name]: Infinity }))).toBe('ERR_RANGE');
      expect(code(() => vtrace({ ...base, [name]: NaN }))).toBe('ERR_RANGE');
      expect(code(() => vtrace({ ...base, [name]: '1' as unknown as number }))).toBe('ERR_ARG');
    }
    expect(code(() => vtrace({ ...base, gamma: 2 }))).toBe('ERR_RANGE');
    expect(code(() => vtrace({ ...base, lambda: new Float32Array([1, 1, 1, 1.5]) }))).toBe('ERR_RANGE');
    expect(code(() => vtrace({ ...base, lambda: new Float32Array(6) }))).toBe('ERR_SHAPE');
    expect(code(() => vtrace({ ...base, truncated: new Uint8Array(8) }))).toBe('ERR_ARG');
    expect(code(() => vtrace({ ...base, values: new Float32Array(2) }))).toBe('ERR_SHAPE');
    expect(code(() => vtrace({ ...base, out: { vs: b.logRhos } }))).toBe('ERR_ARG');
    const shared = new Float32Array(T * N);
    expect(code(() => vtrace({ ...base, out: { vs: shared, pgAdvantages: shared } }))).toBe('ERR_ARG');
    expect(code(() => vtrace({ ...base, out: { pgAdvantages: new Float32Array(3) } }))).toBe('ERR_SHAPE');
    expect(code(() => vtrace({ ...base, device: 'metal' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(code(() => vtrace({ ...base, shape: undefined as unknown as [number, number] }))).toBe('ERR_SHAPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().vtrace;
    const f = new Float32Array(4);
    const vs = new Float32Array(4), pg = new Float32Array(4);
    const ok = (i: number, v: unknown) => {
      const a: unknown[] = [2, 2, f, f, null, null, null, null, null, f, 0.9, 1, 1, 1, 1, vs, pg];
      a[i] = v;
      return a;
    };
    const attempts: unknown[][] = [
      [],
      [2, 2, f, f],
      [2 ** 40, 2 ** 40, f, f],
      ok(9, null),
      ok(9, new Float32Array(3)),
      ok(12, 0),
      ok(13, -1),
      ok(14, Infinity),
      ok(14, 1e39),
      ok(12, 'x'),
      ok(15, new Float32Array(3)),
      ok(16, vs),
      ok(15, f),
      ok(5, new Uint8Array(4)),
      [...ok(0, 2), true],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
    expect(() => raw(...ok(0, 2))).not.toThrow();
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), flagProbArb, flagProbArb, ([T, N], seed, pTerm, pTrunc) => {
        const b = batch(T, N, seed, pTerm, pTrunc);
        const got = vtrace({ shape: [T, N], ...b, device: 'cuda' });
        const want = vtraceRef({ T, N, ...b, gamma: Math.fround(0.99), lambda: 1, ...clips });
        expectClose(got.vs, want.vs, 1e-5, 1e-4);
        expectClose(got.pgAdvantages, want.pgAdvantages, 1e-5, 1e-4);
      }),
      { numRuns: 50 },
    );
    for (const [T, N] of [[300, 1], [100_003, 1], [300, 21], [64, 4099]] as const) {
      for (const kind of isolationKinds) checkIsolation(T, N, kind, 'cuda');
    }
    const T = 1_000_000;
    const b = batch(T, 1, 1, 0, 0);
    const got = vtrace({ shape: [T, 1], ...b, device: 'cuda' });
    expectClose(got.vs, vtraceRef({ T, N: 1, ...b, gamma: Math.fround(0.99), lambda: 1, ...clips }).vs, 1e-4, 1e-3);
  });
});
