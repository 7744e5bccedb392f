import { describe, expect, it } from 'vitest';
import { dqn, type DqnConfig } from '../../src/algos/dqn.js';
import { RlcoreError } from '../../src/index.js';
import type { Metrics } from '../../src/algos/base.js';

function train(overrides: Partial<DqnConfig>): { returns: number[]; run: ReturnType<typeof dqn.create> } {
  const run = dqn.create({ ...dqn.defaults('CartPole-v1'), ...overrides });
  const returns: number[] = [];
  while (run.globalStep < (overrides.totalSteps ?? 0)) {
    const m = run.iterate() as Metrics;
    expect(Number.isFinite(m.epsilon)).toBe(true);
    returns.push(...run.drainEpisodes().returns);
  }
  return { returns, run };
}

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
// A short schedule: CleanRL's settings, compressed to 30k steps.
const SHORT: Partial<DqnConfig> = { totalSteps: 30_000, learningStarts: 2000, trainFrequency: 4, targetNetworkFrequency: 250, explorationFraction: 0.4, learningRate: 1e-3, seed: 1 };

describe('dqn', () => {
  it('learns CartPole-v1 (30k steps; random play averages ~22)', () => {
    const { returns, run } = train(SHORT);
    expect(mean(returns.slice(-10))).toBeGreaterThan(150);
    const a = run.act(new Float32Array(8), 2, true);
    expect(a).toBeInstanceOf(Int32Array);
    run.close();
  }, 60_000);

  it('learns with Double DQN, dueling heads, prioritized replay and 3-step returns', () => {
    const { returns, run } = train({ ...SHORT, double: true, dueling: true, prioritized: true, nStep: 3, seed: 2 });
    expect(mean(returns.slice(-10))).toBeGreaterThan(150);
    run.close();
  }, 60_000);

  it('resumes exactly from a checkpoint with the replay buffer', () => {
    const cfg = { ...dqn.defaults('CartPole-v1'), totalSteps: 20_000, learningStarts: 1000, stepsPerIteration: 500, checkpointReplay: true, numEnvs: 2, seed: 3 };
    const a = dqn.create(cfg);
    for (let i = 0; i < 4; i++) a.iterate() as Metrics;
    const saved = a.checkpoint();
    const b = dqn.create(cfg);
    b.restore(saved);
    expect(b.globalStep).toBe(a.globalStep);
    for (let i = 0; i < 3; i++) {
      const ma = a.iterate() as Metrics, mb = b.iterate() as Metrics;
      expect(mb.td_loss).toBe(ma.td_loss);
      expect(b.drainEpisodes()).toEqual(a.drainEpisodes());
    }
    expect(b.checkpoint().tensors['q.0.weight'].data).toEqual(a.checkpoint().tensors['q.0.weight'].data);
    expect(() => b.restore({ tensors: {}, state: saved.state })).toThrow(RlcoreError);
    a.close();
    b.close();
  }, 60_000);

  it('refuses continuous action spaces', () => {
    expect(() => dqn.create({ ...dqn.defaults('Pendulum-v1'), totalSteps: 10 })).toThrow(/discrete/);
  });
});
