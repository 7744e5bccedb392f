import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RlcoreError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { Mlp } from '../../src/nn/mlp.js';
import { Adam } from '../../src/nn/optim.js';
import { PpoUpdate, type PpoRollout } from '../../src/nn/ppo_update.js';
import { categoricalBackward, categoricalLogProb, categoricalSample } from '../../src/dist/categorical.js';
import { gaussianBackward, gaussianLogProb, gaussianSample } from '../../src/dist/gaussian.js';
import { ppoLoss } from '../../src/losses/ppo.js';
import { valueLoss } from '../../src/losses/value.js';
import { whiten } from '../../src/kernels/normalize.js';
import { gatherRows } from '../../src/kernels/permutation.js';
import { randomF32, rng } from '../helpers.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RlcoreError) return e.code;
    return `not RlcoreError: ${String(e)}`;
  }
  return 'no error';
}

interface Setup {
  D: number;
  A: number;
  B: number;
  M: number;
  discrete: boolean;
  hidden: readonly number[];
  clipVloss: boolean;
  normAdv: boolean;
  maxGradNorm: number;
  entCoef: number;
}

// Two identical actor-critic pairs (same seeds) and a random rollout.
function build(s: Setup, seed: number) {
  const r = rng(seed);
  const pair = () => {
    const actor = new Mlp({ inputSize: s.D, hiddenSizes: [...s.hidden], outputSize: s.A, outputInit: { gain: 0.5 }, seed: seed + 1 });
    const critic = new Mlp({ inputSize: s.D, hiddenSizes: [...s.hidden], outputSize: 1, seed: seed + 2 });
    const logStd = new Float32Array(s.discrete ? 0 : s.A).fill(-0.3);
    const logStdGrad = new Float32Array(logStd.length);
    const opts = { lr: 1e-2, eps: 1e-5 };
    return { actor, critic, logStd, logStdGrad, aOpt: new Adam(actor, opts), cOpt: new Adam(critic, opts), sOpt: new Adam({ params: logStd, grads: logStdGrad }, opts) };
  };
  const actions = s.discrete ? Int32Array.from({ length: s.B }, () => Math.floor(r() * s.A)) : randomF32(s.B * s.A, r, 2);
  const rollout: PpoRollout = {
    obs: randomF32(s.B * s.D, r, 2), actions, logProbs: randomF32(s.B, r, 1).map((x) => x - 1),
    values: randomF32(s.B, r, 1), returns: randomF32(s.B, r, 2), advantages: randomF32(s.B, r, 3),
  };
  const indices = Int32Array.from({ length: s.M }, () => Math.floor(r() * s.B));
  return { fused: pair(), ref: pair(), rollout, indices };
}

// The same update through the kernels one by one (what PpoRun does for a shared network).
function referenceStep(s: Setup, n: ReturnType<typeof build>['ref'], ro: PpoRollout, idx: Int32Array, lr: number) {
  const { D, A, B, M } = s, aw = s.discrete ? 1 : A;
  const obs = gatherRows({ shape: [B, D], x: ro.obs, indices: idx });
  const act = gatherRows({ shape: [B, aw], x: ro.actions, indices: idx });
  const oldLp = gatherRows({ shape: [B, 1], x: ro.logProbs, indices: idx });
  const oldV = gatherRows({ shape: [B, 1], x: ro.values, indices: idx });
  const ret = gatherRows({ shape: [B, 1], x: ro.returns, indices: idx });
  const adv = s.normAdv ? whiten({ x: ro.advantages, indices: idx }).out : gatherRows({ shape: [B, 1], x: ro.advantages, indices: idx });
  n.actor.zeroGrad();
  n.critic.zeroGrad();
  const head = n.actor.forwardTrain(obs);
  const lp = s.discrete
    ? categoricalLogProb({ shape: [M, A], logits: head, actions: act as Int32Array })
    : gaussianLogProb({ shape: [M, A], mean: head, logStd: n.logStd, actions: act as Float32Array });
  const pg = ppoLoss({ shape: [M], newLogProb: lp.logProb, oldLogProb: oldLp, advantages: adv, entropy: lp.entropy, clipCoef: 0.2, entCoef: s.entCoef });
  const g = { gradLogProb: pg.gradLogProb, gradEntropy: pg.gradEntropy };
  const gh = s.discrete
    ? categoricalBackward({ shape: [M, A], logits: head, actions: act as Int32Array, ...g }).gradLogits
    : gaussianBackward({ shape: [M, A], mean: head, logStd: n.logStd, actions: act as Float32Array, ...g, out: { gradStd: n.logStdGrad } }).gradMean;
  const v = n.critic.forwardTrain(obs);
  const vl = valueLoss({ shape: [M], values: v, returns: ret, oldValues: s.clipVloss ? oldV : undefined, clipCoef: 0.2 });
  for (let i = 0; i < M; i++) vl.grad[i] *= 0.5;
  n.actor.backward(gh);
  n.critic.backward(vl.grad);
  // Global clipping as PpoRun.clipGradients does it.
  const clip = native().nnClipGradNorm, norm = new Float64Array(1);
  clip(n.actor.grads, 3.4e38, norm, false, false);
  const na = norm[0];
  clip(n.critic.grads, 3.4e38, norm, false, false);
  const nc = norm[0];
  let ns = 0;
  for (const x of n.logStdGrad) ns += x * x;
  const total = Math.sqrt(na * na + nc * nc + ns);
  if (total > s.maxGradNorm) {
    const f = s.maxGradNorm / (total + 1e-6);
    clip(n.actor.grads, f * (na + 1e-6), norm, false, false);
    clip(n.critic.grads, f * (nc + 1e-6), norm, false, false);
    for (let i = 0; i < n.logStdGrad.length; i++) n.logStdGrad[i] *= f;
  }
  n.aOpt.step(lr);
  n.cOpt.step(lr);
  if (!s.discrete) n.sOpt.step(lr);
  return { pg, vl, total };
}

const setupArb = fc.record({
  D: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 12 })),
  A: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 6 })),
  B: fc.integer({ min: 1, max: 300 }),
  M: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 160 })),
  discrete: fc.boolean(),
  hidden: fc.constantFrom([64, 64], [7], [16, 5, 9]),
  clipVloss: fc.boolean(),
  normAdv: fc.boolean(),
  maxGradNorm: fc.constantFrom(0.5, 1e-3, 1e9),
  entCoef: fc.constantFrom(0.01, 0, -0.2),
});

describe('PpoUpdate', () => {
  it('matches the unfused kernels bit for bit over several minibatches (random shapes, both action kinds)', () => {
    fc.assert(
      fc.property(setupArb, fc.integer({ min: 0, max: 1_000_000 }), (s, seed) => {
        const b = build(s, seed);
        const f = b.fused;
        const upd = new PpoUpdate({
          actor: f.actor, critic: f.critic, actorOptimizer: f.aOpt, criticOptimizer: f.cOpt,
          logStd: s.discrete ? undefined : { params: f.logStd, grads: f.logStdGrad, optimizer: f.sOpt },
          minibatchSize: s.M, clipCoef: 0.2, entCoef: s.entCoef, vfCoef: 0.5, maxGradNorm: s.maxGradNorm, clipVloss: s.clipVloss, normAdv: s.normAdv,
        });
        for (let k = 0; k < 3; k++) {
          const lr = 1e-2 / (k + 1);
          const got = upd.step(b.rollout, b.indices, lr);
          const want = referenceStep(s, b.ref, b.rollout, b.indices, lr);
          expect(got.policyLoss).toBe(want.pg.policyLoss);
          expect(got.loss).toBe(want.pg.loss);
          expect(got.approxKl).toBe(want.pg.approxKl);
          expect(got.clipFraction).toBe(want.pg.clipFraction);
          expect(got.entropy).toBe(want.pg.entropy);
          expect(got.valueLoss).toBe(want.vl.loss);
          expect(got.gradNorm).toBe(want.total);
          b.indices.reverse();
        }
        expect(f.actor.params).toEqual(b.ref.actor.params);
        expect(f.critic.params).toEqual(b.ref.critic.params);
        expect(f.actor.grads).toEqual(b.ref.actor.grads);
        expect(f.logStd).toEqual(b.ref.logStd);
        expect(f.aOpt.m).toEqual(b.ref.aOpt.m);
        expect(f.cOpt.v).toEqual(b.ref.cOpt.v);
        expect(f.aOpt.stepCount).toBe(3);
        expect(f.sOpt.stepCount).toBe(s.discrete ? 0 : 3);
      }),
      { numRuns: 60 },
    );
  });

  it('acts as forward + sample would, clipping only what the environment gets', () => {
    fc.assert(
      fc.property(setupArb, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 2 ** 40 }), (s, N, seed) => {
        const b = build({ ...s, B: N }, seed % 1000);
        const f = b.fused;
        const upd = new PpoUpdate({
          actor: f.actor, critic: f.critic, actorOptimizer: f.aOpt, criticOptimizer: f.cOpt,
          logStd: s.discrete ? undefined : { params: f.logStd, grads: f.logStdGrad, optimizer: f.sOpt },
          minibatchSize: 1, clipCoef: 0.2, entCoef: 0, vfCoef: 0.5, maxGradNorm: 0.5, clipVloss: true, normAdv: true,
        });
        const A = s.A, aw = s.discrete ? 1 : A;
        const obs = b.rollout.obs;
        const Act = s.discrete ? Int32Array : Float32Array;
        const out = { actions: new Act(N * aw), logProb: new Float32Array(N), entropy: new Float32Array(N), values: new Float32Array(N) };
        const envActions = new Act(N * aw);
        const low = new Float32Array(A).fill(-0.5), high = new Float32Array(A).fill(0.7);
        upd.act(obs, seed, out, envActions, low, high);
        const head = f.actor.forward(obs);
        expect(out.values).toEqual(f.critic.forward(obs));
        if (s.discrete) {
          const want = categoricalSample({ shape: [N, A], logits: head, seed });
          expect(out.actions).toEqual(want.actions);
          expect(out.logProb).toEqual(want.logProb);
          expect(out.entropy).toEqual(want.entropy);
          expect(envActions).toEqual(want.actions);
        } else {
          const want = gaussianSample({ shape: [N, A], mean: head, logStd: f.logStd, seed });
          expect(out.actions).toEqual(want.actions);
          expect(out.logProb).toEqual(want.logProb);
          expect(envActions).toEqual(want.actions.map((v) => Math.min(0.7, Math.max(-0.5, v))));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('refuses bad arguments before changing anything', () => {
    const s: Setup = { D: 3, A: 2, B: 10, M: 4, discrete: true, hidden: [8], clipVloss: true, normAdv: true, maxGradNorm: 0.5, entCoef: 0.01 };
    const b = build(s, 1), f = b.fused;
    const opts = { actor: f.actor, critic: f.critic, actorOptimizer: f.aOpt, criticOptimizer: f.cOpt, minibatchSize: 4, clipCoef: 0.2, entCoef: 0.01, vfCoef: 0.5, maxGradNorm: 0.5, clipVloss: true, normAdv: true };
    expect(code(() => new PpoUpdate({ ...opts, critic: f.actor }))).toBe('ERR_ARG');
    expect(code(() => new PpoUpdate({ ...opts, criticOptimizer: f.aOpt }))).toBe('ERR_ARG');
    const wide = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 2 });
    expect(code(() => new PpoUpdate({ ...opts, critic: wide, criticOptimizer: new Adam(wide) }))).toBe('ERR_SHAPE');
    expect(code(() => new PpoUpdate({ ...opts, vfCoef: -1 }))).toBe('ERR_RANGE');
    const upd = new PpoUpdate(opts);
    const before = Float32Array.from(f.actor.params);
    expect(code(() => upd.step(b.rollout, Int32Array.of(0, 1, 2, 10), 1e-3))).toBe('ERR_RANGE');
    expect(code(() => upd.step(b.rollout, Int32Array.of(0, 1, 2), 1e-3))).toBe('ERR_SHAPE');
    expect(code(() => upd.step(b.rollout, b.indices, -1))).toBe('ERR_RANGE');
    expect(code(() => upd.step({ ...b.rollout, actions: new Float32Array(10) }, b.indices, 1e-3))).toBe('ERR_DTYPE');
    expect(code(() => upd.step({ ...b.rollout, returns: new Float32Array(9) }, b.indices, 1e-3))).toBe('ERR_SHAPE');
    // An infinite advantage makes the policy gradient infinite: refused, as categoricalBackward refuses it.
    const inf = Float32Array.from(b.rollout.advantages);
    inf[b.indices[0]] = Infinity;
    const raw = new PpoUpdate({ ...opts, normAdv: false });
    expect(code(() => raw.step({ ...b.rollout, advantages: inf }, b.indices, 1e-3))).toBe('ERR_RANGE');
    expect(f.actor.params).toEqual(before);
    expect(f.aOpt.stepCount).toBe(0);
    upd.step(b.rollout, b.indices, 1e-3);
    expect(f.actor.params).not.toEqual(before);
    expect(f.aOpt.stepCount).toBe(1);
  });
});
