import { describe, expect, it } from 'vitest';
import type { Metrics } from '../../src/algos/base.js';
import { grpo, type GrpoConfig } from '../../src/algos/grpo.js';
import { DigitSumEnv, DigitSumTask } from '../../src/llm/digit_sum.js';
import { make, registeredEnvs } from '../../src/envs/registry.js';
import { RandomStream } from '../../src/envs/random.js';
import { errorCode } from '../dist/util.js';

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

function train(overrides: Partial<GrpoConfig>, iterations: number) {
  const run = grpo.create({ ...grpo.defaults('DigitSum-v0'), ...overrides });
  const rewards: number[] = [];
  for (let i = 0; i < iterations; i++) rewards.push((run.iterate() as Metrics).reward);
  return { run, rewards };
}

describe('DigitSumTask', () => {
  it('rewards exactly the digit strings that hit the target; observations encode the prefix', () => {
    const task = new DigitSumTask({ numDigits: 3, targetRange: [5, 5] });
    expect(Array.from(task.rewards(new Int32Array([5, 5, 6]), new Int32Array([1, 2, 2, 5, 0, 0, 1, 2, 2])))).toEqual([1, 1, 0]);
    const obs = new Float32Array(task.obsDim);
    task.observe(obs, 0, 5, new Int32Array([7, 3, 0]), 0, 2);
    const hot = Array.from(obs.keys()).filter((i) => obs[i] === 1);
    expect(hot).toEqual([5, 28 + 7, 28 + 10 + 3, 28 + 30 + 2]);
    expect(task.prompts(50, new RandomStream(1)).every((s) => s === 5)).toBe(true);
    expect(errorCode(() => new DigitSumTask({ numDigits: 2, targetRange: [3, 19] }))).toBe('ERR_RANGE');
  });
});

describe('DigitSumEnv', () => {
  it('is registered as DigitSum-v0 and pays 1 exactly when the digits hit the target', () => {
    const env = make('DigitSum-v0', { numEnvs: 1, seed: 3, backend: 'ts' });
    expect(registeredEnvs()).toContain('DigitSum-v0');
    env.close();
    const e = new DigitSumEnv({ numDigits: 2, targetRange: [7, 7] });
    e.reset({ seed: 1 });
    expect(e.step(3).reward).toBe(0);
    const last = e.step(4);
    expect(last.terminated && last.reward === 1).toBe(true);
    expect(errorCode(() => e.step(1))).toBe('ERR_ARG');
    e.reset();
    expect(errorCode(() => e.step(10))).toBe('ERR_RANGE');
  });
});

describe('grpo', () => {
  it('learns the digit-sum task: the reward climbs from ~0.05 to > 0.6 within 80 iterations', () => {
    const { rewards } = train({ seed: 1 }, 80);
    const first = mean(rewards.slice(0, 5)), lastTen = mean(rewards.slice(-10));
    expect(first).toBeLessThan(0.15);
    expect(lastTen).toBeGreaterThan(0.6);
  });

  it('every loss, aggregation and zero-group policy improves on the random policy', () => {
    const cases: Array<Partial<GrpoConfig>> = [
      { loss: 'gspo', aggregation: 'seqMeanTokenMean', advantageMode: 'mean', zeroGroups: 'drop' },
      { loss: 'cispo', aggregation: 'tokenSumNorm', advantageMode: 'rloo', zeroGroups: 'keep', clipLow: 1, clipHigh: 4 },
      { loss: 'clipCov', aggregation: 'seqMeanTokenSum', advantageMode: 'batchStd', klCoef: 0.01, klEstimator: 'k3' },
      { loss: 'klCov', dualClip: 3, entCoef: 0.001, temperature: 1.2 },
    ];
    for (const c of cases) {
      const { rewards } = train({ seed: 2, ...c }, 90);
      expect(mean(rewards.slice(0, 5)), JSON.stringify(c)).toBeLessThan(0.1);
      expect(mean(rewards.slice(-10)), JSON.stringify(c)).toBeGreaterThan(0.2);
    }
  });

  it('restores a checkpoint exactly: the resumed run repeats the original', () => {
    const cfg = { ...grpo.defaults('DigitSum-v0'), seed: 4, klCoef: 0.02 };
    const a = grpo.create(cfg);
    for (let i = 0; i < 5; i++) a.iterate();
    const saved = a.checkpoint();
    const copy = { tensors: Object.fromEntries(Object.entries(saved.tensors).map(([k, t]) => [k, { ...t, data: t.data.slice() }])), state: structuredClone(saved.state) };
    const after = [a.iterate(), a.iterate()];
    const b = grpo.create(cfg);
    b.restore(copy);
    expect([b.iterate(), b.iterate()]).toEqual(after);
    expect(b.globalStep).toBe(a.globalStep);
    const ep = a.drainEpisodes();
    expect(ep.returns.length).toBe(ep.lengths.length);
    expect(ep.returns.every((r) => r === 0 || r === 1)).toBe(true);
    expect(a.drainEpisodes().returns.length).toBe(0);
    const obs = new Float32Array(3 * new DigitSumTask().obsDim);
    expect(a.act(obs, 3, true).length).toBe(3);
    expect(a.act(obs, 3, false).every((v) => v >= 0 && v < 10)).toBe(true);
    a.close();
  });

  it('rejects an unknown task and a bad restore', () => {
    expect(errorCode(() => grpo.create(grpo.defaults('CartPole-v1')))).toBe('ERR_ARG');
    const run = grpo.create(grpo.defaults('DigitSum-v0'));
    expect(errorCode(() => run.restore({ tensors: {}, state: null }))).toBe('ERR_ARG');
  });
});
