import { describe, expect, it } from 'vitest';
import { sac, type SacConfig } from '../../src/algos/sac.js';
import { RlcoreError } from '../../src/index.js';
import type { Metrics } from '../../src/algos/base.js';

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
// Smaller networks and a short schedule keep the test under a minute; random play averages ~−1200.
const SHORT: Partial<SacConfig> = { totalSteps: 6000, learningStarts: 1000, hiddenSizes: [64, 64], seed: 1 };

describe('sac', () => {
  it('learns Pendulum-v1 (6k steps, 64-unit networks)', () => {
    const run = sac.create({ ...sac.defaults('Pendulum-v1'), ...SHORT });
    const returns: number[] = [];
    let alpha = 0;
    while (run.globalStep < SHORT.totalSteps!) {
      const m = run.iterate() as Metrics;
      if (run.globalStep > 1000) {
        expect(Number.isFinite(m.qf_loss)).toBe(true);
        alpha = m.alpha;
      }
      returns.push(...run.drainEpisodes().returns);
    }
    expect(returns.length).toBe(30);
    expect(mean(returns.slice(-5))).toBeGreaterThan(-600);
    expect(alpha).toBeLessThan(0.2); // autotuned down from 0.2
    const a = run.act(new Float32Array(9), 3, true) as Float32Array;
    expect(a.length).toBe(3);
    for (const x of a) expect(Math.abs(x)).toBeLessThanOrEqual(2);
    run.close();
  }, 60_000);

  it('resumes exactly from a checkpoint with the replay buffer', () => {
    const cfg = { ...sac.defaults('Pendulum-v1'), totalSteps: 3000, learningStarts: 500, hiddenSizes: [16], stepsPerIteration: 250, checkpointReplay: true, bufferSize: 5000, seed: 4, explorationNoise: 'pink' as const };
    const a = sac.create(cfg);
    for (let i = 0; i < 4; i++) a.iterate() as Metrics;
    const saved = a.checkpoint();
    const b = sac.create(cfg);
    b.restore(saved);
    for (let i = 0; i < 2; i++) {
      const ma = a.iterate() as Metrics, mb = b.iterate() as Metrics;
      expect(mb.qf_loss).toBe(ma.qf_loss);
      expect(mb.alpha).toBe(ma.alpha);
    }
    expect(b.checkpoint().tensors['actor.0.weight'].data).toEqual(a.checkpoint().tensors['actor.0.weight'].data);
    expect(() => b.restore({ tensors: {}, state: saved.state })).toThrow(RlcoreError);
    a.close();
    b.close();
  }, 60_000);

  it('the fused twin-critic path gives what the kernels one by one give, bit for bit', () => {
    for (const [env, hidden, noise] of [['Pendulum-v1', [32, 24], 'white'], ['MountainCarContinuous-v0', [16], 'pink']] as const) {
      const cfg = { ...sac.defaults(env), totalSteps: 900, learningStarts: 300, hiddenSizes: [...hidden], stepsPerIteration: 300, batchSize: 37, seed: 3, explorationNoise: noise };
      const fused = sac.create(cfg), plain = sac.create(cfg);
      (plain as unknown as { twin: null }).twin = null;
      for (let i = 0; i < 3; i++) {
        const mf = fused.iterate() as Metrics, mp = plain.iterate() as Metrics;
        delete mf.sps;
        delete mp.sps;
        expect(mf, env).toEqual(mp);
      }
      const tf = fused.checkpoint().tensors, tp = plain.checkpoint().tensors;
      expect(Object.keys(tf)).toEqual(Object.keys(tp));
      for (const k of Object.keys(tf)) expect(tf[k].data, `${env} ${k}`).toEqual(tp[k].data);
      expect(fused.drainEpisodes()).toEqual(plain.drainEpisodes());
      fused.close();
      plain.close();
    }
  }, 60_000);

  it('refuses discrete action spaces', () => {
    expect(() => sac.create({ ...sac.defaults('CartPole-v1'), totalSteps: 10 })).toThrow(/continuous/);
  });
});
