import { describe, expect, it } from 'vitest';
import { RlcoreError } from '../../src/index.js';
import { ppo, ppoDefaults, PpoRun, type PpoConfig } from '../../src/algos/ppo.js';
import { a2c } from '../../src/algos/a2c.js';
import { ALGORITHMS } from '../../src/algos/registry.js';
import { parseSafetensors, serializeSafetensors } from '../../src/nn/safetensors.js';
import type { RunState } from '../../src/algos/base.js';

function train(config: PpoConfig, steps = config.totalSteps): { run: PpoRun; returns: number[] } {
  const run = new PpoRun(config);
  const returns: number[] = [];
  while (run.globalStep < steps) {
    run.iterate();
    returns.push(...run.drainEpisodes().returns);
  }
  return { run, returns };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

// A checkpoint as it goes through the files: safetensors bytes and JSON text.
function throughFiles(s: RunState): RunState {
  return { tensors: parseSafetensors(serializeSafetensors(s.tensors)).tensors, state: JSON.parse(JSON.stringify(s.state)) };
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

describe('ppo learns', () => {
  it('CartPole-v1 with the defaults: well above random (≈ 22) within 80k steps', () => {
    const { returns } = train({ ...ppoDefaults('CartPole-v1'), seed: 1, totalSteps: 80_000 });
    expect(mean(returns.slice(-50))).toBeGreaterThan(150);
  });

  it('CartPole-v1 with a shared actor-critic network (and reward scaling, so that value gradients do not swamp the trunk)', () => {
    const { returns } = train({ ...ppoDefaults('CartPole-v1'), seed: 2, totalSteps: 80_000, sharedNetwork: true, normalizeReward: true });
    expect(mean(returns.slice(-50))).toBeGreaterThan(150);
  });

  it('Pendulum-v1 with a Gaussian policy and normalisation: well above random (≈ −1200) within 100k steps', () => {
    const { returns } = train({ ...ppoDefaults('Pendulum-v1'), seed: 1, totalSteps: 100_000 });
    expect(mean(returns.slice(-20))).toBeGreaterThan(-700);
  });

  it('A2C (a PPO configuration) learns CartPole-v1', () => {
    const run = a2c.create({ ...a2c.defaults('CartPole-v1'), seed: 1, totalSteps: 100_000 });
    const returns: number[] = [];
    while (run.globalStep < 100_000) {
      run.iterate();
      returns.push(...run.drainEpisodes().returns);
    }
    expect(mean(returns.slice(-50))).toBeGreaterThan(80);
  });
});

describe('ppo runs', () => {
  it('are registered for the command line', () => {
    expect(ALGORITHMS.get('ppo')).toBe(ppo);
    expect(ALGORITHMS.get('a2c')).toBe(a2c);
  });

  it('are deterministic per seed', () => {
    const c = { ...ppoDefaults('CartPole-v1'), numEnvs: 4, numSteps: 64, totalSteps: 2048 };
    const a = train({ ...c, seed: 5 }).run, b = train({ ...c, seed: 5 }).run, d = train({ ...c, seed: 6 }).run;
    expect(b.actor.params).toEqual(a.actor.params);
    expect(b.critic.params).toEqual(a.critic.params);
    expect(d.actor.params).not.toEqual(a.actor.params);
  });

  for (const [env, extra] of [
    ['CartPole-v1', { numEnvs: 4, numSteps: 64 }],
    ['Acrobot-v1', { numEnvs: 3, numSteps: 50, numMinibatches: 3, targetKl: 0.001 }],
    ['Pendulum-v1', { numEnvs: 2, numSteps: 256, numMinibatches: 8, updateEpochs: 3 }],
  ] as const) {
    it(`${env}: stopped and resumed from a checkpoint, ends bit for bit where an uninterrupted run ends`, () => {
      const c: PpoConfig = { ...ppoDefaults(env), seed: 3, totalSteps: 40_000, ...extra };
      const k = c.numEnvs * c.numSteps;
      const whole = train(c, 10 * k);
      const first = train(c, 4 * k);
      const saved = throughFiles(first.run.checkpoint());
      first.run.iterate(); // the first run moves on: the checkpoint must not share its buffers
      first.run.close();
      const second = new PpoRun(c);
      second.restore(saved);
      const returns = [...first.returns];
      returns.length = first.returns.length; // episodes drained up to the checkpoint
      while (second.globalStep < 10 * k) {
        second.iterate();
        returns.push(...second.drainEpisodes().returns);
      }
      expect(second.globalStep).toBe(whole.run.globalStep);
      expect(second.actor.params).toEqual(whole.run.actor.params);
      expect(second.critic.params).toEqual(whole.run.critic.params);
      expect(second.logStd).toEqual(whole.run.logStd);
      expect(returns).toEqual(whole.returns);
      const a = second.checkpoint(), b = whole.run.checkpoint();
      for (const name of Object.keys(b.tensors)) expect(a.tensors[name].data, name).toEqual(b.tensors[name].data);
      expect(a.state).toEqual(b.state);
    });
  }

  it('with separate networks, the fused native rollout step and update give what the kernels one by one give, bit for bit', () => {
    for (const [env, extra] of [
      ['CartPole-v1', { numEnvs: 4, numSteps: 32 }],
      ['Acrobot-v1', { numEnvs: 3, numSteps: 20, numMinibatches: 60, normAdv: false, clipVloss: false }],
      ['Pendulum-v1', { numEnvs: 2, numSteps: 64, numMinibatches: 4, updateEpochs: 2 }],
    ] as const) {
      const c: PpoConfig = { ...ppoDefaults(env), seed: 7, totalSteps: 10_000, ...extra };
      const fused = new PpoRun(c), plain = new PpoRun(c);
      (plain as unknown as { fused: null }).fused = null; // the unfused path (the one a shared network takes)
      for (let i = 0; i < 3; i++) expect(fused.iterate(), env).toEqual(plain.iterate());
      expect(fused.actor.params).toEqual(plain.actor.params);
      expect(fused.critic.params).toEqual(plain.critic.params);
      expect(fused.logStd).toEqual(plain.logStd);
      expect(fused.drainEpisodes()).toEqual(plain.drainEpisodes());
    }
  });

  it('refuses a checkpoint of another configuration, changing nothing', () => {
    const run = new PpoRun({ ...ppoDefaults('CartPole-v1'), numEnvs: 2, numSteps: 16, totalSteps: 1000 });
    const other = new PpoRun({ ...ppoDefaults('CartPole-v1'), numEnvs: 2, numSteps: 16, totalSteps: 1000, hiddenSizes: [32] });
    const before = Float32Array.from(run.actor.params);
    expect(code(() => run.restore(other.checkpoint()))).toBe('ERR_IO');
    expect(code(() => run.restore({ tensors: {}, state: null }))).toBe('ERR_IO');
    const s = run.checkpoint();
    expect(code(() => run.restore({ ...s, state: { ...(s.state as object), resets: [1] } }))).toBe('ERR_IO');
    expect(run.actor.params).toEqual(before);
  });

  it('checks its configuration', () => {
    const c = ppoDefaults('CartPole-v1');
    expect(code(() => new PpoRun({ ...c, numMinibatches: 3 }))).toBe('ERR_ARG');
    expect(code(() => new PpoRun({ ...c, learningRate: -1 }))).toBe('ERR_RANGE');
    expect(code(() => new PpoRun({ ...c, numEnvs: 0 }))).toBe('ERR_RANGE');
    expect(code(() => new PpoRun({ ...c, annealLr: 'yes' as never }))).toBe('ERR_ARG');
    expect(code(() => new PpoRun({ ...c, activation: 'gelu' as never }))).toBe('ERR_ARG');
    expect(code(() => new PpoRun({ ...c, envId: 'Nope-v0' }))).toBe('ERR_ARG');
  });

  it('acts greedily or by sampling, within the action bounds', () => {
    const d = new PpoRun({ ...ppoDefaults('CartPole-v1'), numEnvs: 2, numSteps: 8, totalSteps: 100 });
    const obs = new Float32Array(5 * 4).map((_, i) => Math.sin(i));
    const a = d.act(obs, 5, true);
    expect(a).toBeInstanceOf(Int32Array);
    expect(a.length).toBe(5);
    expect(d.act(obs, 5, true)).toEqual(a);
    for (const v of d.act(obs, 5, false)) expect([0, 1]).toContain(v);
    const p = new PpoRun({ ...ppoDefaults('Pendulum-v1'), numEnvs: 1, numSteps: 64, numMinibatches: 4, totalSteps: 100, initLogStd: 3 });
    const x = p.act(new Float32Array(50 * 3).map((_, i) => Math.cos(i)), 50, false);
    expect(x).toBeInstanceOf(Float32Array);
    for (const v of x) expect(Math.abs(v)).toBeLessThanOrEqual(2);
  });
});
