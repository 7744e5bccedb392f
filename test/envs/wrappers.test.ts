// Wrappers, running statistics (native) against plain-loop references, and the registry.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Box, CartPoleEnv, ClipAction, ClipObservation, ClipReward, Discrete, make, makeEnv, NativeVectorEnv, NormalizeObservation,
  NormalizeReward, register, registeredEnvs, RescaleAction, RlcoreError, RunningMeanStd, SyncVectorEnv, TimeLimit,
  type Env, type StepResult,
} from '../../src/index.js';
import { expectClose, randomF32, rng } from '../helpers.js';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

/** Plain-loop running mean / variance over every sample, starting from count 1e-4, mean 0, var 1. */
function rmsRef(batches: Float32Array[], B: number[], D: number) {
  let n = 1e-4;
  const mean = new Array(D).fill(0), v = new Array(D).fill(1);
  batches.forEach((x, k) => {
    for (let d = 0; d < D; d++) {
      let m = 0;
      for (let b = 0; b < B[k]; b++) m += x[b * D + d];
      m /= B[k];
      let s = 0;
      for (let b = 0; b < B[k]; b++) s += (x[b * D + d] - m) ** 2;
      const bv = s / B[k], tot = n + B[k], delta = m - mean[d];
      const M2 = v[d] * n + bv * B[k] + (delta * delta * n * B[k]) / tot;
      mean[d] += (delta * B[k]) / tot;
      v[d] = M2 / tot;
    }
    n += B[k];
  });
  return { mean, var: v, count: n };
}

describe('RunningMeanStd', () => {
  it('matches the plain loop on random batch sequences; normalize clamps', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }), fc.integer(), (D, Bs, seed) => {
        const rand = rng(seed);
        const batches = Bs.map((B) => randomF32(B * D, rand, 5).map((v) => v + 3));
        const rms = new RunningMeanStd(D);
        batches.forEach((x, k) => rms.update(x, Bs[k]));
        const want = rmsRef(batches, Bs, D);
        expectClose(rms.mean, want.mean, 1e-9, 1e-9);
        expectClose(rms.var, want.var, 1e-9, 1e-9);
        expect(rms.count).toBeCloseTo(want.count, 9);
        const x = batches[0], out = new Float32Array(x.length);
        rms.normalize(x, Bs[0], out, 1e-8, 1.5);
        for (let i = 0; i < x.length; i++) {
          const d = i % D;
          const z = Math.max(-1.5, Math.min(1.5, (x[i] - want.mean[d]) / Math.sqrt(want.var[d] + 1e-8)));
          expect(out[i]).toBeCloseTo(z, 4);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('saves and restores its state; rejects bad states and inputs', () => {
    const a = new RunningMeanStd(2);
    a.update(Float32Array.from([1, 2, 3, 4, 5, 7]), 3);
    const saved = JSON.parse(JSON.stringify(a.state()));
    const b = new RunningMeanStd(2);
    b.loadState(saved);
    expect(Array.from(b.mean)).toEqual(Array.from(a.mean));
    expect(Array.from(b.var)).toEqual(Array.from(a.var));
    expect(b.count).toBe(a.count);
    expect(codeOf(() => b.loadState({ mean: [0], var: [1], count: 1 }))).toBe('ERR_SHAPE');
    expect(codeOf(() => b.loadState({ mean: [0, 0], var: [1, -1], count: 1 }))).toBe('ERR_RANGE');
    expect(codeOf(() => b.loadState({ mean: [0, 0], var: [1, 1], count: -1 }))).toBe('ERR_RANGE');
    expect(codeOf(() => b.loadState(null as never))).toBe('ERR_ARG');
    expect(codeOf(() => b.update(new Float32Array(5), 3))).toBe('ERR_SHAPE');
    expect(codeOf(() => b.update(new Float64Array(6) as never, 3))).toBe('ERR_DTYPE');
    expect(codeOf(() => new RunningMeanStd(0))).toBe('ERR_SHAPE');
  });
});

describe('vector wrappers', () => {
  it('NormalizeObservation: running statistics of every batch; final observations use them too', () => {
    const raw = make('CartPole-v1', { numEnvs: 4, seed: 1 });
    const env = new NormalizeObservation(make('CartPole-v1', { numEnvs: 4, seed: 1 }));
    const batches: Float32Array[] = [];
    batches.push(Float32Array.from(raw.reset()));
    env.reset();
    const rand = rng(2);
    for (let t = 0; t < 50; t++) {
      const a = Array.from({ length: 4 }, () => (rand() < 0.5 ? 0 : 1));
      raw.step(a);
      env.step(a);
      batches.push(Float32Array.from(raw.observations));
      const want = rmsRef(batches, batches.map(() => 4), 4);
      for (let i = 0; i < 16; i++) {
        const d = i % 4;
        expect(env.observations[i]).toBeCloseTo((raw.observations[i] - want.mean[d]) / Math.sqrt(want.var[d] + 1e-8), 4);
        if (raw.terminated[i >> 2] || raw.truncated[i >> 2]) {
          expect(env.finalObservations[i]).toBeCloseTo((raw.finalObservations[i] - want.mean[d]) / Math.sqrt(want.var[d] + 1e-8), 4);
        }
      }
    }
    const frozen = env.state();
    env.training = false;
    env.step([0, 0, 0, 0]);
    expect(env.state()).toEqual(frozen);
    const fresh = new NormalizeObservation(make('CartPole-v1', { numEnvs: 4, seed: 1 }));
    fresh.loadState(frozen);
    expect(fresh.state()).toEqual(frozen);
  });

  it('NormalizeReward: rewards scaled by the running std of the discounted return', () => {
    const env = new NormalizeReward(make('Pendulum-v1', { numEnvs: 3, seed: 1, maxEpisodeSteps: 20 }), { gamma: 0.9 });
    const raw = make('Pendulum-v1', { numEnvs: 3, seed: 1, maxEpisodeSteps: 20 });
    env.reset();
    raw.reset();
    const G = [0, 0, 0], batches: Float32Array[] = [];
    for (let t = 0; t < 60; t++) {
      env.step([1, 0, -1]);
      raw.step([1, 0, -1]);
      const rets = new Float32Array(3);
      for (let i = 0; i < 3; i++) {
        G[i] = G[i] * 0.9 + raw.rewards[i];
        rets[i] = G[i];
        if (raw.truncated[i] || raw.terminated[i]) G[i] = 0;
      }
      batches.push(rets);
      const v = rmsRef(batches, batches.map(() => 3), 1).var[0];
      for (let i = 0; i < 3; i++) expect(env.rewards[i]).toBeCloseTo(raw.rewards[i] / Math.sqrt(v + 1e-8), 4);
    }
    expect(codeOf(() => new NormalizeReward(raw, { gamma: 2 }))).toBe('ERR_RANGE');
  });

  it('ClipObservation, ClipReward, ClipAction and RescaleAction', () => {
    const co = new ClipObservation(make('Pendulum-v1', { numEnvs: 2, seed: 1 }), -0.5, 0.5);
    co.reset();
    co.step([2, 2]);
    for (const v of co.observations) expect(Math.abs(v)).toBeLessThanOrEqual(0.5);
    expect(co.env.observations.some((v) => Math.abs(v) > 0.5)).toBe(true);
    const cr = new ClipReward(make('Pendulum-v1', { numEnvs: 2, seed: 1 }), -0.1, 0);
    cr.reset();
    cr.step([2, 2]);
    for (let i = 0; i < 2; i++) expect(cr.rewards[i]).toBe(Math.fround(Math.max(-0.1, cr.env.rewards[i])));
    expect(codeOf(() => new ClipReward(cr, 1, 0))).toBe('ERR_RANGE');

    // ClipAction: the reward of MountainCarContinuous uses the action it receives (clipped here).
    const ca = new ClipAction(make('MountainCarContinuous-v0', { numEnvs: 2, seed: 1 }));
    ca.reset();
    ca.step([5, -0.5]);
    expect(Array.from(ca.env.actions)).toEqual([1, -0.5]);
    expect(ca.rewards[0]).toBeCloseTo(-0.1, 6);
    expect(codeOf(() => ca.step([NaN, 0]))).toBe('ERR_RANGE');
    expect(codeOf(() => new ClipAction(make('CartPole-v1')))).toBe('ERR_ARG');

    // RescaleAction: [-1, 1] onto Pendulum's [-2, 2]; same transitions as the raw action.
    const rs = new RescaleAction(make('Pendulum-v1', { numEnvs: 2, seed: 3 }), -1, 1);
    const plain = make('Pendulum-v1', { numEnvs: 2, seed: 3 });
    expect((rs.singleActionSpace as Box).high[0]).toBe(1);
    rs.reset();
    plain.reset();
    rs.step([0.5, -1]);
    plain.step([1, -2]);
    expect(Array.from(rs.observations)).toEqual(Array.from(plain.observations));
    expect(codeOf(() => new RescaleAction(plain, 1, 1))).toBe('ERR_RANGE');
  });
});

describe('TimeLimit, registry and make', () => {
  it('TimeLimit truncates at the limit, also on a terminating step', () => {
    const env = new TimeLimit(new CartPoleEnv(), 3);
    env.reset({ seed: 0 });
    expect(env.step(1).truncated).toBe(false);
    expect(env.step(1).truncated).toBe(false);
    expect(env.step(1).truncated).toBe(true);
    env.reset();
    expect(env.elapsedSteps).toBe(0);
    const cp = makeEnv('CartPole-v1') as TimeLimit;
    expect(cp.maxEpisodeSteps).toBe(500);
    expect(codeOf(() => makeEnv('Pendulum-v1'))).toBe('ERR_ARG');
    expect(codeOf(() => makeEnv('CartPole-v1', { foo: 1 }))).toBe('ERR_ARG');
  });

  it('user environments join the registry and are vectorised with SyncVectorEnv', () => {
    // A counter: observation = steps so far, reward = action, terminates at 4.
    class Counter implements Env<number> {
      readonly observationSpace = new Box(0, 100, [1]);
      readonly actionSpace = new Discrete(2);
      n = 0;
      constructor(readonly bonus: number) {}
      reset() {
        this.n = 0;
        return { observation: Float32Array.from([0]), info: {} };
      }
      step(a: number): StepResult {
        this.n++;
        return { observation: Float32Array.from([this.n]), reward: a + this.bonus, terminated: this.n === 4, truncated: false, info: {} };
      }
    }
    register('Counter-v0', { entryPoint: (o) => new Counter((o.bonus as number) ?? 0), maxEpisodeSteps: 3 });
    expect(registeredEnvs()).toContain('Counter-v0');
    expect(registeredEnvs()).toContain('Acrobot-v1');
    const vec = make('Counter-v0', { numEnvs: 2, bonus: 10 });
    expect(vec).toBeInstanceOf(SyncVectorEnv);
    vec.reset();
    vec.step([1, 0]);
    expect(Array.from(vec.rewards)).toEqual([11, 10]);
    vec.step([1, 0]);
    vec.step([1, 0]);
    expect(Array.from(vec.truncated)).toEqual([1, 1]); // the 3-step limit comes first
    expect(Array.from(vec.finalObservations)).toEqual([3, 3]);
    expect(Array.from(vec.observations)).toEqual([0, 0]);
    const longer = make('Counter-v0', { numEnvs: 1, maxEpisodeSteps: 10 });
    longer.reset();
    for (let t = 0; t < 4; t++) longer.step([0]);
    expect(longer.terminated[0]).toBe(1);
    expect(codeOf(() => vec.step([2, 0]))).toBe('ERR_RANGE');
    expect(codeOf(() => register('', { entryPoint: () => new Counter(0) }))).toBe('ERR_ARG');
    expect(codeOf(() => register('X', {} as never))).toBe('ERR_ARG');
  });

  it('make passes environment options and picks the native backend by default', () => {
    const g2 = make('Pendulum-v1', { numEnvs: 1, seed: 1, g: 2 }) as NativeVectorEnv;
    const g10 = make('Pendulum-v1', { numEnvs: 1, seed: 1 }) as NativeVectorEnv;
    g2.reset();
    g10.reset();
    g2.setState(0, [1, 0, 0]);
    g10.setState(0, [1, 0, 0]);
    g2.step([0]);
    g10.step([0]);
    expect(g2.getState(0)[1]).toBeCloseTo(1.5 * 2 * Math.sin(1) * 0.05, 12);
    expect(g10.getState(0)[1]).toBeCloseTo(1.5 * 10 * Math.sin(1) * 0.05, 12);
    expect(make('CartPole-v1', { numEnvs: 2 })).toBeInstanceOf(NativeVectorEnv);
  });
});
