import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupNormalize, groupNormalizeAsync, RlcoreError, setNumThreads, whiten, type GroupNormalizeMode } from '../../src/index.js';
import { native } from '../../src/native.js';
import { groupNormalizeRef } from '../reference/group_normalize.js';
import { cudaPresent, expectClose, expectSameBits, rng } from '../helpers.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

const modeArb = fc.constantFrom<GroupNormalizeMode>('grpo', 'mean', 'batchStd', 'rloo');

/** Non-decreasing ids from run lengths (0: an empty group). */
function idsOfRuns(lengths: number[]): Int32Array {
  const ids = new Int32Array(lengths.reduce((a, n) => a + n, 0));
  let i = 0;
  lengths.forEach((n, g) => {
    ids.fill(g, i, i + n);
    i += n;
  });
  return ids;
}

/** Rewards that are often binary (verifiable rewards) so that equal-reward groups happen. */
function rewardsOf(B: number, seed: number, binary: boolean): Float32Array {
  const rand = rng(seed);
  return Float32Array.from({ length: B }, () => (binary ? (rand() < 0.5 ? 1 : 0) : rand() * 4 - 2));
}

function check(got: ReturnType<typeof groupNormalize>, want: ReturnType<typeof groupNormalizeRef>): void {
  // grpo divides by σ + eps: with tiny σ the advantages are large, so compare relatively.
  expectClose(got.advantages, want.advantages, 2e-5, 1e-5);
  expect(Array.from(got.zeroGroups)).toEqual(want.zeroGroups);
  expect(got.zeroStdGroups).toBe(want.zeroStdGroups);
  expect(got.zeroStdFraction).toBeCloseTo(want.zeroStdFraction, 12);
  expectClose(got.groupMean!, want.groupMean, 1e-6, 1e-6);
  expectClose(got.groupStd!, want.groupStd, 1e-6, 1e-6);
}

describe('groupNormalize', () => {
  it('matches the reference with groupSize in every mode', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 16 })),
        fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 200 })),
        fc.integer(),
        fc.boolean(),
        modeArb,
        fc.boolean(),
        fc.constantFrom(1e-6, 1e-2),
        (G, numGroups, seed, binary, mode, unbiased, eps) => {
          const B = G * numGroups, rewards = rewardsOf(B, seed, binary);
          const got = groupNormalize({ rewards, groupSize: G, mode, unbiased, eps, groupStats: true });
          const groupIds = Int32Array.from({ length: B }, (_, i) => Math.floor(i / G));
          check(got, groupNormalizeRef({ rewards, groupIds, numGroups, mode, unbiased, eps }));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('matches the reference with scattered groupIds (empty groups included) in every mode', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 140_000, max: 200_000 })),
        fc.integer({ min: 1, max: 300 }),
        fc.integer(),
        fc.boolean(),
        modeArb,
        fc.boolean(),
        (B, numGroups, seed, binary, mode, unbiased) => {
          const rand = rng(seed ^ 0x9e3779b9);
          const rewards = rewardsOf(B, seed, binary);
          const groupIds = Int32Array.from({ length: B }, () => Math.floor(rand() * numGroups));
          const got = groupNormalize({ rewards, groupIds, numGroups, mode, unbiased, groupStats: true });
          check(got, groupNormalizeRef({ rewards, groupIds, numGroups, mode, unbiased, eps: 1e-6 }));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('matches the reference with scattered groupIds over many groups (bucketed), empty groups and groups of one included', () => {
    // More than 2^18 groups: the ids are counting-sorted into buckets of groups first.
    for (const [B, numGroups, seed, modes] of [
      [400_000, 300_001, 1, ['grpo', 'mean', 'batchStd', 'rloo']],
      [70_001, 1_000_000, 2, ['grpo', 'rloo']],
      [1_100_003, 270_000, 3, ['grpo']],
    ] as const) {
      const rand = rng(seed);
      const rewards = Float32Array.from({ length: B }, () => (rand() < 0.3 ? 1 : rand() * 4 - 2));
      const groupIds = Int32Array.from({ length: B }, () => Math.floor(rand() * numGroups));
      for (const mode of modes) {
        const got = groupNormalize({ rewards, groupIds, numGroups, mode, unbiased: seed !== 2, groupStats: true });
        check(got, groupNormalizeRef({ rewards, groupIds, numGroups, mode, unbiased: seed !== 2, eps: 1e-6 }));
      }
    }
  });

  it('matches the reference with sorted groupIds (runs of any length, empty groups anywhere) in every mode', () => {
    // Run lengths: 0 (an empty group), short runs (eight at a time across the vector lanes: up to
    // 8, 9 to 16), long ones (one at a time); some long batches cross the 32768-element chunks.
    const lengthArb = fc.oneof(
      { weight: 1, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.constant(1) },
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 16 }) },
      { weight: 1, arbitrary: fc.integer({ min: 17, max: 70 }) },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.array(lengthArb, { minLength: 1, maxLength: 60 }), fc.array(lengthArb, { minLength: 1000, maxLength: 12_000 })),
        fc.integer(),
        fc.boolean(),
        modeArb,
        fc.boolean(),
        fc.constantFrom(1e-6, 1e-2),
        (lengths, seed, binary, mode, unbiased, eps) => {
          if (!lengths.some((n) => n > 0)) lengths[0] = 1;
          const groupIds = idsOfRuns(lengths), numGroups = lengths.length, B = groupIds.length;
          const rewards = rewardsOf(B, seed, binary);
          const got = groupNormalize({ rewards, groupIds, numGroups, mode, unbiased, eps, groupStats: true });
          check(got, groupNormalizeRef({ rewards, groupIds, numGroups, mode, unbiased, eps }));
          if (lengths[lengths.length - 1] > 0) {
            // Without numGroups (max id + 1): the same result.
            expect(Array.from(groupNormalize({ rewards, groupIds, mode, unbiased, eps }).advantages)).toEqual(Array.from(got.advantages));
          }
        },
      ),
      { numRuns: 150 },
    );
    // Every run length 0..40 next to every other, a single group, and empty groups at both ends.
    // ... and over a million rewards (streamed out).
    const lengths = Array.from({ length: 41 * 41 }, (_, k) => (k % 2 ? k % 41 : Math.floor(k / 41)));
    const big = Array.from({ length: 110_000 }, (_, k) => 1 + ((k * 7919) % 19));
    for (const ls of [lengths, [5], [1], [0, 0, 3, 0], [0, 200_000, 0], big]) {
      const groupIds = idsOfRuns(ls), rewards = rewardsOf(groupIds.length, ls.length, false);
      for (const mode of ['grpo', 'rloo'] as const) {
        const got = groupNormalize({ rewards, groupIds, numGroups: ls.length, mode, groupStats: true });
        check(got, groupNormalizeRef({ rewards, groupIds, numGroups: ls.length, mode, unbiased: true, eps: 1e-6 }));
      }
    }
  });

  it('sorted groupIds give the groups given shuffled, and exactly what groupSize gives for runs of G', () => {
    const rand = rng(17);
    const lengths = Array.from({ length: 3000 }, () => Math.floor(rand() * 20));
    const sorted = idsOfRuns(lengths), B = sorted.length, numGroups = lengths.length;
    const rewards = rewardsOf(B, 4, false);
    // The same groups with their members scattered: permute (ids, rewards) together.
    const perm = Array.from({ length: B }, (_, i) => i);
    for (let i = B - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const shuffledIds = Int32Array.from(perm, (i) => sorted[i]), shuffledRewards = Float32Array.from(perm, (i) => rewards[i]);
    for (const mode of ['grpo', 'mean', 'batchStd', 'rloo'] as const) {
      const a = groupNormalize({ rewards, groupIds: sorted, numGroups, mode, groupStats: true });
      const b = groupNormalize({ rewards: shuffledRewards, groupIds: shuffledIds, numGroups, mode, groupStats: true });
      expectClose(Array.from(perm, (i) => a.advantages[i]), b.advantages, 2e-5, 1e-5);
      expect(Array.from(a.zeroGroups)).toEqual(Array.from(b.zeroGroups));
      expect([a.zeroStdGroups, a.zeroStdFraction]).toEqual([b.zeroStdGroups, b.zeroStdFraction]);
      expectClose(a.groupMean!, b.groupMean!, 1e-6, 1e-6);
      expectClose(a.groupStd!, b.groupStd!, 1e-6, 1e-6);
    }
    // Runs of G share the per-group arithmetic of groupSize (vectorised for G <= 16): bit for bit.
    // Rewards over 60 binary orders of magnitude, so that float64 sums in another order would
    // round differently.
    const wide = rng(23);
    for (const G of [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 33]) {
      for (const numGroups of [5, 8, 1001]) {
        const B = G * numGroups, rewards = Float32Array.from({ length: B }, () => (wide() - 0.5) * 2 ** Math.floor(wide() * 60 - 30));
        const groupIds = Int32Array.from({ length: B }, (_, i) => Math.floor(i / G));
        for (const mode of ['grpo', 'rloo'] as const) {
          for (const unbiased of [true, false]) {
            // ids[i] = i / G are reduced as groupSize G; with one more (empty) group they are not,
            // and the runs go through the sorted-ids path.
            const a = groupNormalize({ rewards, groupIds, mode, unbiased, groupStats: true });
            const b = groupNormalize({ rewards, groupSize: G, mode, unbiased, groupStats: true });
            const c = groupNormalize({ rewards, groupIds, numGroups: numGroups + 1, mode, unbiased, groupStats: true });
            for (const got of [a, c]) {
              expectSameBits(got.advantages, b.advantages);
              expectSameBits(got.groupMean!.subarray(0, numGroups), b.groupMean!);
              expectSameBits(got.groupStd!.subarray(0, numGroups), b.groupStd!);
              expect(Array.from(got.zeroGroups.subarray(0, numGroups))).toEqual(Array.from(b.zeroGroups));
            }
          }
        }
      }
    }
  });

  it('ids that are the groups of G except at one place match the reference (not taken for groupSize G)', () => {
    const rand = rng(29);
    for (const G of [3, 8, 16]) {
      for (const numGroups of G === 8 ? [700, (1 << 17) + 5] : [700]) { // 2^20 + 40 rewards: streamed outputs
        const B = G * numGroups, rewards = rewardsOf(B, G + numGroups, false), k = Math.floor(rand() * (numGroups - 2)) + 1;
        const uniform = Int32Array.from({ length: B }, (_, i) => Math.floor(i / G));
        const variants: [Int32Array, number][] = [
          [uniform.map((g, i) => (i === k * G ? g - 1 : g)), numGroups], // one run boundary moved
          [uniform.map((g, i) => (i >= k * G ? g + 1 : g)), numGroups + 1], // an empty group in the middle
          [uniform.map((g) => g + 1), numGroups + 1], // group 0 empty
          [uniform.map((g) => Math.min(g, numGroups - 2)), numGroups], // the last group empty, the one before of 2 G
        ];
        for (const [groupIds, n] of variants) {
          check(groupNormalize({ rewards, groupIds, numGroups: n, groupStats: true }), groupNormalizeRef({ rewards, groupIds, numGroups: n, mode: 'grpo', unbiased: true, eps: 1e-6 }));
        }
      }
    }
  });

  it('groups of 8 and 16 (vectorised across groups) match the reference, with leftover groups and streamed outputs', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(8, 16),
        fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 8, max: 300 })),
        fc.integer(),
        fc.boolean(),
        modeArb,
        fc.boolean(),
        (G, numGroups, seed, binary, mode, unbiased) => {
          const B = G * numGroups, rewards = rewardsOf(B, seed, binary);
          const got = groupNormalize({ rewards, groupSize: G, mode, unbiased, groupStats: true });
          const groupIds = Int32Array.from({ length: B }, (_, i) => Math.floor(i / G));
          check(got, groupNormalizeRef({ rewards, groupIds, numGroups, mode, unbiased, eps: 1e-6 }));
        },
      ),
      { numRuns: 80 },
    );
    const B = (1 << 20) + 8 * 13, rewards = rewardsOf(B, 11, true);
    const groupIds = Int32Array.from({ length: B }, (_, i) => i >> 3);
    check(groupNormalize({ rewards, groupSize: 8, groupStats: true }), groupNormalizeRef({ rewards, groupIds, numGroups: B / 8, mode: 'grpo', unbiased: true, eps: 1e-6 }));
  });

  it('flags a group as all-equal exactly as the reference does (NaN never equal, Inf equal to Inf, -0 to 0)', () => {
    for (const G of [3, 8, 16]) {
      const groups = [[1, NaN], [NaN, NaN], [Infinity, Infinity], [-Infinity, Infinity], [0, -0], [2, 2], [2, 3], [5, Infinity]];
      const rewards = new Float32Array(groups.length * G);
      groups.forEach((v, g) => {
        for (let i = 0; i < G; i++) rewards[g * G + i] = v[i === G - 1 ? 1 : 0];
      });
      const want = [0, 0, 1, 0, 1, 1, 0, 0];
      expect(Array.from(groupNormalize({ rewards, groupSize: G }).zeroGroups)).toEqual(want);
      const groupIds = Int32Array.from({ length: rewards.length }, (_, i) => Math.floor(i / G));
      expect(Array.from(groupNormalize({ rewards, groupIds }).zeroGroups)).toEqual(want);
      const ref = groupNormalizeRef({ rewards, groupIds, numGroups: groups.length, mode: 'mean', unbiased: true, eps: 1e-6 });
      expect(ref.zeroGroups).toEqual(want);
    }
  });

  it('agrees with a hand computation', () => {
    // Groups [1, 2, 3] and [5, 5, 5]; group 0: mean 2, unbiased std 1.
    const rewards = new Float32Array([1, 2, 3, 5, 5, 5]);
    const grpo = groupNormalize({ rewards, groupSize: 3, eps: 1e-6, groupStats: true });
    expectClose(grpo.advantages, [-1 / (1 + 1e-6), 0, 1 / (1 + 1e-6), 0, 0, 0], 1e-7, 0);
    expect(Array.from(grpo.zeroGroups)).toEqual([0, 1]);
    expect([grpo.zeroStdGroups, grpo.zeroStdFraction]).toEqual([1, 0.5]);
    expect(Array.from(grpo.groupMean!)).toEqual([2, 5]);
    expect(Array.from(grpo.groupStd!)).toEqual([1, 0]);
    expect(Array.from(groupNormalize({ rewards, groupSize: 3, mode: 'mean' }).advantages)).toEqual([-1, 0, 1, 0, 0, 0]);
    // rloo: 1 - (2 + 3)/2 = -1.5, 2 - 2 = 0, 3 - 1.5 = 1.5.
    expect(Array.from(groupNormalize({ rewards, groupSize: 3, mode: 'rloo' }).advantages)).toEqual([-1.5, 0, 1.5, 0, 0, 0]);
    // batchStd: biased std of all six rewards = sqrt(mean of squares - mean^2).
    const m = 21 / 6, sd = Math.sqrt((1 + 4 + 9 + 75) / 6 - m * m);
    const bs = groupNormalize({ rewards, groupSize: 3, mode: 'batchStd', unbiased: false, eps: 1e-6 });
    expectClose(bs.advantages, [-1 / (sd + 1e-6), 0, 1 / (sd + 1e-6), 0, 0, 0], 1e-6, 0);
    // Groups of one: rloo gives 0 and every group is flagged.
    const ones = groupNormalize({ rewards: new Float32Array([3, -2]), groupSize: 1, mode: 'rloo' });
    expect([...ones.advantages, ...ones.zeroGroups]).toEqual([0, 0, 1, 1]);
  });

  it("'grpo' on one group equals (r - mean) / (std + eps); whiten agrees; rloo = n/(n-1) 'mean'", () => {
    const rewards = rewardsOf(64, 5, false);
    let mean = 0;
    for (const r of rewards) mean += r / 64;
    let ss = 0;
    for (const r of rewards) ss += (r - mean) ** 2;
    const std = Math.sqrt(ss / 63);
    const g = groupNormalize({ rewards, groupSize: 64, eps: 1e-6 });
    expectClose(g.advantages, Array.from(rewards, (r) => (r - mean) / (std + 1e-6)), 1e-6, 1e-6);
    expectClose(g.advantages, whiten({ x: rewards, eps: 1e-6 }).out, 1e-6, 1e-6);
    const rloo = groupNormalize({ rewards, groupSize: 8, mode: 'rloo' });
    const meanMode = groupNormalize({ rewards, groupSize: 8, mode: 'mean' });
    expectClose(rloo.advantages, Array.from(meanMode.advantages, (a) => (a * 8) / 7), 1e-6, 1e-6);
    // groupIds in order equal groupSize.
    const ids = Int32Array.from({ length: 64 }, (_, i) => i >> 3);
    expect(Array.from(groupNormalize({ rewards, groupIds: ids }).advantages)).toEqual(Array.from(groupNormalize({ rewards, groupSize: 8 }).advantages));
  });

  it('is independent of the thread count on large inputs', () => {
    const B = 1 << 20, rewards = rewardsOf(B, 3, false);
    const ids = Int32Array.from({ length: B }, (_, i) => (i * 7919) % 1000);
    const sorted = Int32Array.from({ length: B }, (_, i) => Math.floor(i / 7) + (i >> 12));
    const many = Int32Array.from({ length: B }, (_, i) => (i * 7919) % 400_009); // more than 2^18 groups: bucketed
    const a = groupNormalize({ rewards, groupIds: ids, mode: 'batchStd' });
    const b = groupNormalize({ rewards, groupSize: 16 });
    const c = groupNormalize({ rewards, groupIds: sorted });
    const d = groupNormalize({ rewards, groupIds: many, groupStats: true });
    setNumThreads(1);
    try {
      expect(Array.from(groupNormalize({ rewards, groupIds: ids, mode: 'batchStd' }).advantages)).toEqual(Array.from(a.advantages));
      expect(Array.from(groupNormalize({ rewards, groupSize: 16 }).advantages)).toEqual(Array.from(b.advantages));
      expect(Array.from(groupNormalize({ rewards, groupIds: sorted }).advantages)).toEqual(Array.from(c.advantages));
      const d1 = groupNormalize({ rewards, groupIds: many, groupStats: true });
      expect(Array.from(d1.advantages)).toEqual(Array.from(d.advantages));
      expect(Array.from(d1.groupStd!)).toEqual(Array.from(d.groupStd!));
    } finally {
      setNumThreads(2);
    }
  });

  it('writes into caller-provided outputs; the async variant agrees', async () => {
    const rewards = rewardsOf(32, 9, true);
    const out = { advantages: new Float32Array(32), zeroGroups: new Uint8Array(4), groupMean: new Float32Array(4) };
    const r = groupNormalize({ rewards, groupSize: 8, out });
    expect(r.advantages).toBe(out.advantages);
    expect(r.zeroGroups).toBe(out.zeroGroups);
    expect(r.groupMean).toBe(out.groupMean);
    expect(r.groupStd).toBeUndefined();
    const a = await groupNormalizeAsync({ rewards, groupSize: 8 });
    expect(Array.from(a.advantages)).toEqual(Array.from(out.advantages));
    expect(a.zeroStdGroups).toBe(r.zeroStdGroups);
  });

  it('async calls in flight together, with group ids of every kind, each get their own scratch and ids', async () => {
    const rand = rng(31), B = 300_000;
    const sorted = idsOfRuns(Array.from({ length: 60_000 }, () => Math.floor(rand() * 15))).subarray(0, B);
    const kinds = [
      { groupIds: sorted, numGroups: sorted[B - 1] + 1 }, // sorted runs
      { groupIds: Int32Array.from({ length: B }, () => Math.floor(rand() * 1000)), numGroups: 1000 }, // per-group tables
      { groupIds: Int32Array.from({ length: B }, () => Math.floor(rand() * 300_000)), numGroups: 300_000 }, // counting sort
    ];
    const calls = [...kinds, ...kinds].map((k, c) => ({ rewards: rewardsOf(B, 40 + c, false), ...k, groupStats: true }));
    const wants = calls.map((o) => groupNormalize(o));
    const pending = calls.map((o) => groupNormalizeAsync(o));
    // The calls read their own copies of the ids: changed in the caller's arrays while the calls
    // run, read in place, they could take a call out of bounds.
    for (const k of kinds) k.groupIds.fill(0);
    const got = await Promise.all(pending);
    calls.forEach((o, c) => {
      const want = wants[c];
      expectSameBits(got[c].advantages, want.advantages);
      expectSameBits(got[c].groupStd!, want.groupStd!);
    });
  });

  it('rejects bad input with typed errors, before writing anything', () => {
    const rewards = new Float32Array(6);
    const out = { advantages: new Float32Array(6).fill(7) };
    expect(code(() => groupNormalize({ rewards, groupSize: 4 }))).toBe('ERR_SHAPE');
    expect(code(() => groupNormalize({ rewards, groupIds: new Int32Array([0, 1, 2, -1, 0, 0]), out }))).toBe('ERR_RANGE');
    expect(code(() => groupNormalize({ rewards, groupIds: new Int32Array([0, 1, 2, 3, 0, 0]), numGroups: 3, out }))).toBe('ERR_RANGE');
    expect(code(() => groupNormalize({ rewards, groupIds: new Int32Array([0, 1, -2, 1, 0, 0]), numGroups: 3, out }))).toBe('ERR_RANGE');
    expect(() => groupNormalize({ rewards, groupIds: new Int32Array([0, 1, 2, -7, 0, 0]), numGroups: 3, out })).toThrow('groupIds[3] must be >= 0; received -7');
    // Sorted ids are range-checked like any others.
    expect(code(() => groupNormalize({ rewards, groupIds: new Int32Array([0, 0, 1, 1, 2, 3]), numGroups: 3, out }))).toBe('ERR_RANGE');
    expect(code(() => groupNormalize({ rewards, groupIds: new Int32Array([-2, -1, 0, 0, 1, 1]), numGroups: 3, out }))).toBe('ERR_RANGE');
    expect(Array.from(out.advantages)).toEqual([7, 7, 7, 7, 7, 7]);
    expect(code(() => groupNormalize({ rewards }))).toBe('ERR_ARG');
    expect(code(() => groupNormalize({ rewards, groupSize: 3, groupIds: new Int32Array(6) }))).toBe('ERR_ARG');
    expect(code(() => groupNormalize({ rewards, groupSize: 3, numGroups: 2 }))).toBe('ERR_ARG');
    expect(code(() => groupNormalize({ rewards, groupSize: 0 }))).toBe('ERR_SHAPE');
    expect(code(() => groupNormalize({ rewards, groupSize: 1.5 }))).toBe('ERR_SHAPE');
    expect(code(() => groupNormalize({ rewards, groupIds: new Int32Array(5) }))).toBe('ERR_SHAPE');
    expect(code(() => groupNormalize({ rewards, groupIds: new Uint8Array(6) as unknown as Int32Array }))).toBe('ERR_DTYPE');
    expect(code(() => groupNormalize({ rewards: new Float32Array(0), groupSize: 1 }))).toBe('ERR_SHAPE');
    expect(code(() => groupNormalize({ rewards: [1, 2] as unknown as Float32Array, groupSize: 1 }))).toBe('ERR_DTYPE');
    expect(code(() => groupNormalize({ rewards, groupSize: 3, mode: 'ppo' as 'grpo' }))).toBe('ERR_ARG');
    expect(code(() => groupNormalize({ rewards, groupSize: 3, eps: 0 }))).toBe('ERR_RANGE');
    expect(code(() => groupNormalize({ rewards, groupSize: 3, out: { zeroGroups: new Uint8Array(3) } }))).toBe('ERR_SHAPE');
    expect(code(() => groupNormalize({ rewards, groupSize: 3, out: { advantages: rewards } }))).toBe('ERR_ARG');
    expect(code(() => groupNormalize({ rewards, groupSize: 3, device: 'tpu' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(code(() => groupNormalize(null as unknown as Parameters<typeof groupNormalize>[0]))).toBe('ERR_ARG');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().groupNormalize;
    const r = new Float32Array(4), adv = new Float32Array(4), s = new Float64Array(2);
    const attempts: unknown[][] = [
      [],
      [r],
      [r, 2, null, null, 'grpo', 1e-6, true, adv, new Uint8Array(2)],
      [r, 3, null, null, 'grpo', 1e-6, true, adv, new Uint8Array(1), null, null, s],
      [r, 2, null, null, 'nope', 1e-6, true, adv, new Uint8Array(2), null, null, s],
      [r, 2, null, null, 7, 1e-6, true, adv, new Uint8Array(2), null, null, s],
      [r, null, new Int32Array([0, 1, 5, 0]), 2, 'grpo', 1e-6, true, adv, new Uint8Array(2), null, null, s],
      [r, null, new Int32Array([0, 1, -5, 0]), null, 'grpo', 1e-6, true, adv, new Uint8Array(2), null, null, s],
      [r, 2, new Int32Array(4), null, 'grpo', 1e-6, true, adv, new Uint8Array(2), null, null, s],
      [r, 2, null, null, 'grpo', -1, true, adv, new Uint8Array(2), null, null, s],
      [r, 2, null, null, 'grpo', 1e-6, true, r, new Uint8Array(2), null, null, s],
      [r, 2, null, null, 'grpo', 1e-6, true, adv, new Uint8Array(2), new Float32Array(3), null, s],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });

  it.skipIf(!cudaPresent())('CUDA matches the reference', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 500 }), fc.integer(), modeArb, (G, n, seed, mode) => {
        const rewards = rewardsOf(G * n, seed, seed % 2 === 0);
        const groupIds = Int32Array.from({ length: G * n }, (_, i) => Math.floor(i / G));
        const got = groupNormalize({ rewards, groupSize: G, mode, device: 'cuda', groupStats: true });
        check(got, groupNormalizeRef({ rewards, groupIds, numGroups: n, mode, unbiased: true, eps: 1e-6 }));
      }),
      { numRuns: 30 },
    );
  });
});
