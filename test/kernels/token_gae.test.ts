import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gae, RlcoreError, setNumThreads, tokenGae, tokenGaeAsync } from '../../src/index.js';
import { native } from '../../src/native.js';
import { tokenGaeRef } from '../reference/token_gae.js';
import { cudaPresent, expectClose, expectSameBits, randomF32, randomFlags, rng } from '../helpers.js';

const lengthsArb = fc.array(fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 1, max: 200 })), { minLength: 1, maxLength: 40 });
const paramArb = fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })).map(Math.fround);
const rewardKindArb = fc.constantFrom('tokens', 'terminal', 'both');
/** Probability that a token is valid: all, none, or clearly in between (holes everywhere). */
const validProbArb = fc.oneof(fc.constant(1), fc.constant(0), fc.integer({ min: 5, max: 95 }).map((k) => k / 100));

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

function offsetsOf(lengths: Int32Array): Int32Array {
  const o = new Int32Array(lengths.length + 1);
  for (let b = 0; b < lengths.length; b++) o[b + 1] = o[b] + lengths[b];
  return o;
}

describe('tokenGae', () => {
  it('matches the reference on random packed batches (lengths and offsets)', () => {
    fc.assert(
      fc.property(lengthsArb, fc.integer(), paramArb, paramArb, rewardKindArb, (lens, seed, gamma, lambda, kind) => {
        const lengths = Int32Array.from(lens);
        const total = lens.reduce((s, a) => s + a, 0);
        const rand = rng(seed);
        const values = randomF32(total, rand);
        const rewards = kind === 'terminal' ? undefined : randomF32(total, rand);
        const terminalRewards = kind === 'tokens' ? undefined : randomF32(lens.length, rand, 5);
        const want = tokenGaeRef({ lengths, rewards, terminalRewards, values, gamma, lambda });
        const a = tokenGae({ lengths, rewards, terminalRewards, values, gamma, lambda });
        expectClose(a.advantages, want.advantages, 1e-5, 1e-5);
        expectClose(a.returns, want.returns, 1e-5, 1e-5);
        const b = tokenGae({ offsets: offsetsOf(lengths), rewards, terminalRewards, values, gamma, lambda });
        expect(Array.from(b.advantages)).toEqual(Array.from(a.advantages));
      }),
      { numRuns: 150 },
    );
  });

  it('matches the reference on random padded batches with masks (garbage at masked tokens is ignored)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 150 }),
        fc.integer(),
        validProbArb,
        paramArb,
        paramArb,
        rewardKindArb,
        fc.boolean(),
        (B, L, seed, pValid, gamma, lambda, kind, withMask) => {
          const rand = rng(seed);
          const mask = withMask ? randomFlags(B * L, rand, pValid) : undefined;
          const values = randomF32(B * L, rand);
          const rewards = kind === 'terminal' ? undefined : randomF32(B * L, rand);
          const terminalRewards = kind === 'tokens' ? undefined : randomF32(B, rand, 5);
          const want = tokenGaeRef({ shape: [B, L], mask, rewards, terminalRewards, values, gamma, lambda });
          if (mask) {
            for (let i = 0; i < B * L; i++) {
              if (mask[i]) continue;
              values[i] = NaN;
              if (rewards) rewards[i] = Infinity;
            }
          }
          const got = tokenGae({ shape: [B, L], mask, rewards, terminalRewards, values, gamma, lambda });
          expectClose(got.advantages, want.advantages, 1e-5, 1e-5);
          for (let i = 0; i < B * L; i++) {
            if (mask && !mask[i]) expect(got.returns[i]).toBe(0);
            else expect(got.returns[i]).toBeCloseTo(want.returns[i], 4);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees with a hand computation', () => {
    // Two sequences: [1, 2] tokens; γ = 0.5, λ = 0.5.
    // Seq 0: one token, V = 1, r = 0, R = 3: A = 3 - 1 = 2.
    // Seq 1: V = [2, 4], r = [1, 0], R = 2. t=1: δ = 0 + 2 - 4 = -2, A = -2.
    //        t=0: δ = 1 + 0.5*4 - 2 = 1, A = 1 + 0.25*(-2) = 0.5.
    const out = tokenGae({
      lengths: new Int32Array([1, 2]),
      values: new Float32Array([1, 2, 4]),
      rewards: new Float32Array([0, 1, 0]),
      terminalRewards: new Float32Array([3, 2]),
      gamma: 0.5,
      lambda: 0.5,
    });
    expect(Array.from(out.advantages)).toEqual([2, 0.5, -2]);
    expect(Array.from(out.returns)).toEqual([3, 2.5, 2]);
    // The same as a padded row [2, 3] with one hole: the hole is skipped.
    const padded = tokenGae({
      shape: [2, 3],
      mask: new Uint8Array([1, 0, 0, 1, 0, 1]),
      values: new Float32Array([1, 9, 9, 2, 9, 4]),
      rewards: new Float32Array([0, 9, 9, 1, 9, 0]),
      terminalRewards: new Float32Array([3, 2]),
      gamma: 0.5,
      lambda: 0.5,
    });
    expect(Array.from(padded.advantages)).toEqual([2, 0, 0, 0.5, 0, -2]);
  });

  it('one sequence equals gae on [T, 1] terminated at the last token', () => {
    for (const T of [1, 7, 5000, 70_000]) {
      const rand = rng(T);
      const values = randomF32(T, rand), rewards = randomF32(T, rand);
      const R = 1.5;
      const terminated = new Uint8Array(T);
      terminated[T - 1] = 1;
      const withTerminal = Float32Array.from(rewards);
      withTerminal[T - 1] += R;
      const want = gae({ shape: [T, 1], rewards: withTerminal, values, terminated, gamma: 0.99, lambda: 0.95 });
      const got = tokenGae({ lengths: new Int32Array([T]), rewards, terminalRewards: new Float32Array([R]), values, gamma: 0.99, lambda: 0.95 });
      expectClose(got.advantages, want.advantages, 1e-5, 1e-5);
      expectClose(got.returns, want.returns, 1e-5, 1e-5);
    }
  });

  it('padded without a mask equals packed with equal lengths; right padding equals packed valid lengths', () => {
    const B = 6, L = 40, rand = rng(3);
    const values = randomF32(B * L, rand), rewards = randomF32(B * L, rand), terminalRewards = randomF32(B, rand);
    const padded = tokenGae({ shape: [B, L], values, rewards, terminalRewards });
    const packed = tokenGae({ lengths: new Int32Array(B).fill(L), values, rewards, terminalRewards });
    expect(Array.from(padded.advantages)).toEqual(Array.from(packed.advantages));
    const lens = [40, 1, 17, 0, 39, 25];
    const mask = new Uint8Array(B * L);
    const pv: number[] = [], pr: number[] = [];
    lens.forEach((n, b) => {
      for (let t = 0; t < n; t++) mask[b * L + t] = 1, pv.push(values[b * L + t]), pr.push(rewards[b * L + t]);
    });
    const right = tokenGae({ shape: [B, L], mask, values, rewards, terminalRewards });
    const compact = tokenGae({ lengths: Int32Array.from(lens), values: Float32Array.from(pv), rewards: Float32Array.from(pr), terminalRewards });
    const gathered = Array.from(right.advantages).filter((_, i) => mask[i]);
    expectClose(gathered, compact.advantages, 1e-6, 1e-6);
  });

  it('handles a sequence of 1 000 000 tokens, long masked rows and long sequences among short ones', () => {
    const T = 1_000_000, rand = rng(9);
    const values = randomF32(T, rand), rewards = randomF32(T, rand, 0.01);
    const one = { lengths: new Int32Array([T]), values, rewards, terminalRewards: new Float32Array([1]), gamma: 0.9999, lambda: 0.99 };
    expectClose(tokenGae(one).advantages, tokenGaeRef(one).advantages, 1e-4, 1e-4);
    const mixedLens = Int32Array.from([5, 100_000, 0, 3, 40_000, ...Array.from({ length: 200 }, (_, i) => i % 37)]);
    const n = mixedLens.reduce((s, a) => s + a, 0);
    const mixed = { lengths: mixedLens, values: values.subarray(0, n), rewards: rewards.subarray(0, n), gamma: 0.999, lambda: 0.95 };
    expectClose(tokenGae(mixed).advantages, tokenGaeRef(mixed).advantages, 1e-4, 1e-4);
    const L = 120_000;
    const masked = { shape: [2, L] as [number, number], mask: randomFlags(2 * L, rand, 0.7), values: values.subarray(0, 2 * L), terminalRewards: new Float32Array([1, -1]), gamma: 0.999, lambda: 0.95 };
    expectClose(tokenGae(masked).advantages, tokenGaeRef(masked).advantages, 1e-4, 1e-4);
  });

  it('with γλ = 0 each advantage is its own TD error: NaN or Inf at other tokens does not reach it', () => {
    // The scan's step y = a + c y' is y = a where c = 0 (README, NaN/Inf policy), on every path:
    // 16-token blocks (in pairs and alone), the last len % 16 tokens, the masked scan.
    const L = 100, rand = rng(9);
    const values = randomF32(3 * L, rand), rewards = randomF32(3 * L, rand);
    const o = { shape: [3, L] as [number, number], rewards, gamma: 0.9, lambda: 0 };
    for (const mask of [undefined, new Uint8Array(3 * L).fill(1)]) {
      const clean = tokenGae({ ...o, mask, values }).advantages;
      const bad = [L + 70, 2 * L + 97];
      const poisoned = values.slice();
      poisoned[bad[0]] = NaN;
      poisoned[bad[1]] = Infinity;
      const got = tokenGae({ ...o, mask, values: poisoned }).advantages;
      for (let i = 0; i < 3 * L; i++) {
        // δ_t = r_t + γ V_{t+1} - V_t reads V at t and t + 1.
        if (bad.includes(i) || bad.includes(i + 1)) expect(Number.isFinite(got[i])).toBe(false);
        else expect(Object.is(got[i], clean[i])).toBe(true);
      }
    }
  });

  it('gives the same result with 1 thread and with the pool', () => {
    const rand = rng(21);
    const lengths = Int32Array.from([200_000, ...Array.from({ length: 300 }, () => Math.floor(rand() * 300))]);
    const n = lengths.reduce((s, a) => s + a, 0);
    const o = { lengths, values: randomF32(n, rand), rewards: randomF32(n, rand), gamma: 0.999 };
    const pooled = tokenGae(o);
    setNumThreads(1);
    try {
      expectClose(tokenGae(o).advantages, pooled.advantages, 1e-6, 1e-6);
    } finally {
      setNumThreads(2);
    }
  });

  it('writes into caller-provided outputs; the async variant agrees', async () => {
    const lengths = new Int32Array([3, 4]), rand = rng(2);
    const values = randomF32(7, rand), rewards = randomF32(7, rand);
    const out = { advantages: new Float32Array(7), returns: new Float32Array(7) };
    const res = tokenGae({ lengths, values, rewards, out });
    expect(res.advantages).toBe(out.advantages);
    expect(res.returns).toBe(out.returns);
    const asyncRes = await tokenGaeAsync({ lengths, values, rewards });
    expect(Array.from(asyncRes.advantages)).toEqual(Array.from(out.advantages));
  });

  it('an async call reads its own copy of lengths and offsets: changing them before it settles changes nothing', async () => {
    // Read in place, offsets changed to garbage while the call runs could take it out of bounds.
    const rand = rng(5), B = 20_000;
    const lengths = Int32Array.from({ length: B }, () => Math.floor(rand() * 60));
    const total = lengths.reduce((a, n) => a + n, 0);
    const offsets = new Int32Array(B + 1);
    lengths.forEach((n, b) => (offsets[b + 1] = offsets[b] + n));
    const values = randomF32(total, rand), rewards = randomF32(total, rand);
    for (const layout of [{ lengths }, { offsets }]) {
      const want = tokenGae({ ...layout, values, rewards });
      const pending = tokenGaeAsync({ ...layout, values, rewards });
      (layout.lengths ?? layout.offsets!).fill(0);
      expectSameBits((await pending).advantages, want.advantages);
    }
  });

  it('rejects bad input with typed errors, before writing anything', () => {
    const values = new Float32Array(6), rewards = new Float32Array(6);
    const out = { advantages: new Float32Array(6).fill(7), returns: new Float32Array(6).fill(7) };
    const base = { values, rewards, out };
    expect(code(() => tokenGae({ ...base, lengths: new Int32Array([3, -1, 4]) }))).toBe('ERR_RANGE');
    expect(code(() => tokenGae({ ...base, lengths: new Int32Array([3, 2]) }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ ...base, lengths: new Int32Array([3, 4]) }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ ...base, offsets: new Int32Array([0, 4, 2, 6]) }))).toBe('ERR_RANGE');
    expect(code(() => tokenGae({ ...base, offsets: new Int32Array([1, 3, 6]) }))).toBe('ERR_RANGE');
    expect(code(() => tokenGae({ ...base, offsets: new Int32Array([0, 3, 5]) }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ ...base, offsets: new Int32Array([0]) }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ ...base, lengths: new Int32Array(0) }))).toBe('ERR_SHAPE');
    expect(Array.from(out.advantages)).toEqual([7, 7, 7, 7, 7, 7]);
    const ok = { lengths: new Int32Array([6]), values, rewards };
    expect(code(() => tokenGae({ ...ok, offsets: new Int32Array([0, 6]) }))).toBe('ERR_ARG');
    expect(code(() => tokenGae({ lengths: ok.lengths, values }))).toBe('ERR_ARG');
    expect(code(() => tokenGae({ ...ok, mask: new Uint8Array(6) }))).toBe('ERR_ARG');
    expect(code(() => tokenGae({ ...ok, shape: [1, 6] }))).toBe('ERR_ARG');
    expect(code(() => tokenGae({ values, rewards }))).toBe('ERR_ARG');
    expect(code(() => tokenGae({ ...ok, gamma: 1.5 }))).toBe('ERR_RANGE');
    expect(code(() => tokenGae({ ...ok, lambda: NaN }))).toBe('ERR_RANGE');
    expect(code(() => tokenGae({ ...ok, lengths: new Float32Array([6]) as unknown as Int32Array }))).toBe('ERR_DTYPE');
    expect(code(() => tokenGae({ ...ok, values: new Float64Array(6) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(code(() => tokenGae({ ...ok, rewards: new Float32Array(5) }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ ...ok, terminalRewards: new Float32Array(2) }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ ...ok, out: { advantages: rewards } }))).toBe('ERR_ARG');
    expect(code(() => tokenGae({ values, rewards, shape: [2, 4] }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ values, rewards, shape: [2, 3], mask: new Uint8Array(5) }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ values, rewards, shape: [0, 3] }))).toBe('ERR_SHAPE');
    expect(code(() => tokenGae({ ...ok, device: 'tpu' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(code(() => tokenGae(undefined as unknown as Parameters<typeof tokenGae>[0]))).toBe('ERR_ARG');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().tokenGae;
    const f = new Float32Array(4), l = new Int32Array([4]);
    const attempts: unknown[][] = [
      [],
      [l],
      [l, null, null, null, null, f, null, f, 0.9, 0.9, new Float32Array(3)],
      [l, null, null, null, null, null, null, f, 0.9, 0.9, new Float32Array(4)],
      [l, null, null, null, null, f, null, f, 2, 0.9, new Float32Array(4)],
      [new Int32Array([5]), null, null, null, null, f, null, f, 0.9, 0.9, new Float32Array(4)],
      [new Int32Array([-4, 8]), null, null, null, null, f, null, f, 0.9, 0.9, new Float32Array(4)],
      [null, new Int32Array([0, 5, 4]), null, null, null, f, null, f, 0.9, 0.9, new Float32Array(4)],
      [null, new Int32Array([0, 2147483647, 4]), null, null, null, f, null, f, 0.9, 0.9, new Float32Array(4)],
      [null, null, 2, 2, null, f, null, f, 0.9, 0.9, f],
      [null, null, 2 ** 50, 2, null, f, null, f, 0.9, 0.9, new Float32Array(4)],
      [null, null, 2 ** 40, 2 ** 24, null, new Float32Array(0), null, new Float32Array(0), 0.9, 0.9, new Float32Array(0)],
      [null, null, 2, 2, 'x', f, null, f, 0.9, 0.9, new Float32Array(4)],
      [l, l, null, null, null, f, null, f, 0.9, 0.9, new Float32Array(4)],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(lengthsArb, fc.integer(), (lens, seed) => {
        const lengths = Int32Array.from(lens), total = lens.reduce((s, a) => s + a, 0), rand = rng(seed);
        const o = { lengths, values: randomF32(total, rand), rewards: randomF32(total, rand), gamma: 1, lambda: 0.95 };
        expectClose(tokenGae({ ...o, device: 'cuda' }).advantages, tokenGaeRef(o).advantages, 1e-5, 1e-5);
      }),
      { numRuns: 50 },
    );
  });
});

describe('tokenGae 16-token blocks', () => {
  it('matches the reference for every length mod 16 and for long sequences with γλ = 1 (float64 carry)', () => {
    const rand = rng(7);
    // Lengths 0..40 cover every remainder mod 16 (the scalar head) with 0, 1 and 2 whole blocks.
    const lens = [...Array.from({ length: 41 }, (_, k) => k), 20_011, 65_536 + 5];
    const lengths = Int32Array.from(lens);
    const total = lens.reduce((s, a) => s + a, 0);
    const values = randomF32(total, rand);
    const rewards = randomF32(total, rand, 0.01);
    const terminalRewards = randomF32(lens.length, rand, 5);
    for (const [gamma, lambda] of [[1, 1], [1, 0.95], [0.99, 0], [0, 1]]) {
      const got = tokenGae({ lengths, rewards, terminalRewards, values, gamma, lambda, device: 'cpu' });
      const want = tokenGaeRef({ lengths, rewards, terminalRewards, values, gamma, lambda });
      expectClose(got.advantages, want.advantages, 1e-5, 1e-4);
      expectClose(got.returns, want.returns, 1e-5, 1e-4);
    }
  });
});
