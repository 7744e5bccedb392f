import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setNumThreads } from '../../src/device.js';
import { RlcoreError } from '../../src/errors.js';
import { tdLoss, tdLossAsync } from '../../src/losses/td.js';
import { native } from '../../src/native.js';
import { tdRef } from '../reference/losses.js';
import { expectClose, randomF32, randomFlags, rng } from '../helpers.js';
import { errorCode, expectGradient, randomInts } from '../dist/util.js';

const dimsArb = fc.tuple(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 300 })), fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 18 })));

function batch(B: number, A: number, seed: number) {
  const rand = rng(seed);
  return {
    q: randomF32(B * A, rand, 5),
    actions: randomInts(B, A, rand),
    rewards: randomF32(B, rand),
    dones: randomFlags(B, rand, 0.2),
    nextQAll: randomF32(B * A, rand, 5),
    nextQSelect: randomF32(B * A, rand, 5),
    nextQ1: randomF32(B, rand, 5),
    targets: randomF32(B, rand, 5),
    weights: Float32Array.from({ length: B }, () => rand()),
    gammas: Float32Array.from({ length: B }, () => rand()),
  };
}

describe('tdLoss', () => {
  it('matches the float64 reference (targets given, DQN max, Double DQN, given bootstrap; weights; mse / huber)', () => {
    fc.assert(
      fc.property(dimsArb, fc.integer(), fc.constantFrom('targets', 'max', 'double', 'value'), fc.boolean(), fc.boolean(), fc.boolean(), ([B, A], seed, mode, weighted, huber, perSampleGamma) => {
        const b = batch(B, A, seed);
        const gamma = perSampleGamma ? b.gammas : Math.fround(0.97);
        const common = { B, A, q: b.q, actions: A > 1 || seed % 2 ? b.actions : undefined, weights: weighted ? b.weights : undefined, delta: huber ? 1 : 0 };
        const spec =
          mode === 'targets' ? { targets: b.targets }
          : { rewards: b.rewards, dones: b.dones, gamma, nextQ: mode === 'value' ? b.nextQ1 : b.nextQAll, nextQSelect: mode === 'double' ? b.nextQSelect : undefined };
        const want = tdRef({ ...common, ...spec });
        const got = tdLoss({ shape: [B, A], q: b.q, actions: common.actions, weights: common.weights, kind: huber ? 'huber' : 'mse', ...spec });
        expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-5 * (1 + want.loss));
        expect(Math.abs(got.meanQ - want.meanQ)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want.meanQ)));
        expect(Math.abs(got.meanAbsTd - want.meanAbsTd)).toBeLessThanOrEqual(1e-5 * (1 + want.meanAbsTd));
        expect(Math.abs(got.meanTarget - want.meanTarget)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want.meanTarget)));
        expectClose(got.grad, want.grad, 1e-5, 1e-7);
        expectClose(got.tdAbs, want.tdAbs, 1e-5, 1e-5);
        expectClose(got.targets, want.targets, 1e-6, 1e-6);
      }),
      { numRuns: 150 },
    );
  });

  it('reference gradient w.r.t. Q agrees with finite differences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer(), fc.boolean(), (B, A, seed, huber) => {
        const b = batch(B, A, seed);
        const q = Array.from(b.q, Number);
        const o = { B, A, actions: b.actions, targets: Array.from(b.targets, Number), weights: Array.from(b.weights, Number), delta: huber ? 1 : 0 };
        for (let i = 0; i < B; i++) if (Math.abs(Math.abs(q[i * A + b.actions[i]] - o.targets[i]) - 1) < 1e-4) return;
        expectGradient(() => tdRef({ ...o, q }).loss, q, tdRef({ ...o, q }).grad);
      }),
      { numRuns: 60 },
    );
  });

  it('agrees with a hand computation; Double DQN picks the online argmax; dones cut the bootstrap', () => {
    // Two transitions, A = 2, γ = 0.5.
    const q = new Float32Array([1, 2, 3, 4]), actions = new Int32Array([1, 0]);
    const rewards = new Float32Array([1, 1]), dones = new Uint8Array([0, 1]);
    const nextQ = new Float32Array([10, 6, 8, 8]), nextQSelect = new Float32Array([0, 1, 0, 0]);
    const dqn = tdLoss({ shape: [2, 2], q, actions, rewards, dones, nextQ, gamma: 0.5 });
    // y = [1 + 0.5·10, 1] = [6, 1]; δ = [2 − 6, 3 − 1] = [−4, 2]; L = (8 + 2) / 2 = 5.
    expect(Array.from(dqn.targets)).toEqual([6, 1]);
    expect(dqn.loss).toBe(5);
    expect(Array.from(dqn.grad)).toEqual([0, -2, 1, 0]);
    expect(Array.from(dqn.tdAbs)).toEqual([4, 2]);
    const ddqn = tdLoss({ shape: [2, 2], q, actions, rewards, dones, nextQ, nextQSelect, gamma: 0.5 });
    expect(ddqn.targets[0]).toBe(4); // online argmax is action 1: 1 + 0.5·6
    const w = tdLoss({ shape: [2, 2], q, actions, targets: new Float32Array([6, 1]), weights: new Float32Array([0.5, 0]), kind: 'huber' });
    // Huber(−4) = 3.5, weighted 0.5 → 1.75 / 2; the zero-weight sample has no gradient.
    expect(w.loss).toBe(0.875);
    expect(Array.from(w.grad)).toEqual([0, -0.25, 0, 0]);
  });

  it('A = 1 critic: actions optional; grad equals the value-loss gradient of (Q − y)', () => {
    const B = 64, b = batch(B, 1, 3);
    const r = tdLoss({ shape: [B, 1], q: b.q, targets: b.targets });
    expectClose(r.grad, Array.from(b.q, (v, i) => (v - b.targets[i]) / B), 1e-6, 1e-7);
  });

  it('is identical with 1 thread and with the pool; async agrees', async () => {
    const B = 50_000, A = 6, b = batch(B, A, 9);
    const o = { shape: [B, A] as [number, number], q: b.q, actions: b.actions, rewards: b.rewards, dones: b.dones, nextQ: b.nextQAll, nextQSelect: b.nextQSelect, weights: b.weights };
    const pooled = tdLoss(o);
    setNumThreads(1);
    try {
      const single = tdLoss(o);
      expect(single.loss).toBe(pooled.loss);
      expect(Array.from(single.grad)).toEqual(Array.from(pooled.grad));
    } finally {
      setNumThreads(2);
    }
    expect((await tdLossAsync(o)).loss).toBe(pooled.loss);
    // The async call reads its own copy of the actions: changed while it runs, read in place,
    // they could take it out of bounds.
    const actions = Int32Array.from(b.actions), pending = tdLossAsync({ ...o, actions });
    actions.fill(A - 1 - (b.actions[0] % A));
    const got = await pending;
    expect(got.loss).toBe(pooled.loss);
    expect(Array.from(got.grad)).toEqual(Array.from(pooled.grad));
  });

  it('rejects bad input with typed errors and writes nothing', () => {
    const B = 2, A = 3, f = new Float32Array(B), q = new Float32Array(B * A);
    const base = { shape: [B, A] as [number, number], q, actions: new Int32Array([0, 2]), targets: f };
    const out = { grad: new Float32Array(B * A).fill(8), tdAbs: new Float32Array(B).fill(8) };
    expect(errorCode(() => tdLoss({ ...base, actions: new Int32Array([0, 3]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => tdLoss({ ...base, actions: new Int32Array([-1, 0]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => tdLoss({ ...base, weights: new Float32Array([1, -1]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => tdLoss({ ...base, weights: new Float32Array([1, NaN]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => tdLoss({ shape: [B, A], q, actions: base.actions, rewards: f, nextQ: f, gamma: NaN, out }))).toBe('ERR_RANGE');
    expect(errorCode(() => tdLoss({ shape: [B, A], q, actions: base.actions, rewards: f, nextQ: f, gamma: new Float32Array([0.9, 1.1]), out }))).toBe('ERR_RANGE');
    expect(Array.from(out.grad)).toEqual([8, 8, 8, 8, 8, 8]);
    expect(Array.from(out.tdAbs)).toEqual([8, 8]);
    expect(errorCode(() => tdLoss({ ...base, actions: undefined }))).toBe('ERR_ARG');
    expect(errorCode(() => tdLoss({ ...base, rewards: f, nextQ: f }))).toBe('ERR_ARG');
    expect(errorCode(() => tdLoss({ shape: [B, A], q, actions: base.actions, rewards: f }))).toBe('ERR_ARG');
    expect(errorCode(() => tdLoss({ shape: [B, A], q, actions: base.actions, rewards: f, nextQ: f, nextQSelect: q }))).toBe('ERR_ARG');
    expect(errorCode(() => tdLoss({ shape: [B, A], q, actions: base.actions, rewards: f, nextQ: new Float32Array(5) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => tdLoss({ ...base, q: new Float32Array(5) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => tdLoss({ ...base, kind: 'huber', delta: -1 }))).toBe('ERR_RANGE');
    expect(errorCode(() => tdLoss({ ...base, out: { grad: q } }))).toBe('ERR_ARG');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().tdLoss;
    const f = new Float32Array(2), q = new Float32Array(4), s = new Float64Array(4), i = new Int32Array([0, 1]);
    const g = () => new Float32Array(4);
    const attempts: unknown[][] = [
      [],
      [2 ** 40, 2 ** 40, new Float32Array(4)],
      [2 ** 21, 2 ** 21, new Float32Array(4)],
      [2, 2, q],
      [2, 2, q, new Int32Array([0, 2]), f, null, null, null, null, 0.9, null, 0, g(), null, null, s],
      [2, 2, q, i, f, f, null, f, null, 0.9, null, 0, g(), null, null, s],
      [2, 2, q, i, null, f, null, null, null, 0.9, null, 0, g(), null, null, s],
      [2, 2, q, i, null, f, null, f, null, 2, null, 0, g(), null, null, s],
      [2, 2, q, i, null, f, null, new Float32Array(3), null, 0.9, null, 0, g(), null, null, s],
      [2, 2, q, i, f, null, null, null, null, 0.9, new Float32Array([1, -1]), 0, g(), null, null, s],
      [2, 2, q, i, f, null, null, null, null, 0.9, null, NaN, g(), null, null, s],
      [2, 2, q, i, f, null, null, null, null, 0.9, null, 0, q, null, null, s],
      [2, 2, q, i, f, null, null, null, null, 0.9, null, 0, g(), null, null, new Float64Array(3)],
      [2, 2, q, i, null, f, null, f, q, 0.9, null, 0, g(), null, null, s],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });
});
