// Native batches against the TypeScript CartPole, determinism per seed, same-step autoreset,
// episode statistics, and bad input of every kind.
import { describe, expect, it } from 'vitest';
import {
  type Box, CartPoleEnv, CLASSIC_CONTROL, make, NativeVectorEnv, RecordEpisodeStatistics, RlcoreError, setNumThreads, SyncVectorEnv,
} from '../../src/index.js';
import { native } from '../../src/native.js';
import { REF_STEP, observe } from '../reference/classic_control.js';
import { expectClose, rng } from '../helpers.js';

const IDS = Object.keys(CLASSIC_CONTROL);

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

function randomActions(id: string, N: number, rand: () => number): number[] {
  const space = CLASSIC_CONTROL[id].actionSpace();
  return Array.from({ length: N }, () => (space.kind === 'discrete' ? Math.floor(rand() * space.n) : (rand() * 2 - 1) * (space as Box).high[0]));
}

describe('native CartPole agrees with the TypeScript CartPole step by step', () => {
  it('same seed, same actions: same observations, rewards, flags and final observations', () => {
    const N = 8, seed = 123, steps = 3000;
    const nat = make('CartPole-v1', { numEnvs: N, seed });
    const ts = make('CartPole-v1', { numEnvs: N, seed, backend: 'ts' });
    expect(nat).toBeInstanceOf(NativeVectorEnv);
    expect(ts).toBeInstanceOf(SyncVectorEnv);
    expectClose(nat.reset(), ts.reset(), 0, 0);
    const rand = rng(9);
    let episodes = 0;
    for (let t = 0; t < steps; t++) {
      const a = randomActions('CartPole-v1', N, rand);
      nat.step(a);
      ts.step(a);
      expect(Array.from(nat.terminated)).toEqual(Array.from(ts.terminated));
      expect(Array.from(nat.truncated)).toEqual(Array.from(ts.truncated));
      expect(Array.from(nat.rewards)).toEqual(Array.from(ts.rewards));
      expectClose(nat.observations, ts.observations, 0, 0);
      for (let i = 0; i < N; i++) {
        if (nat.terminated[i] || nat.truncated[i]) {
          episodes++;
          expectClose(nat.finalObservations.subarray(4 * i, 4 * i + 4), ts.finalObservations.subarray(4 * i, 4 * i + 4), 1e-6, 1e-7);
        }
      }
    }
    expect(episodes).toBeGreaterThan(100);
  });

  it('a policy that balances reaches the 500-step truncation in both', () => {
    const nat = make('CartPole-v1', { numEnvs: 2, seed: 4 });
    const ts = make('CartPole-v1', { numEnvs: 2, seed: 4, backend: 'ts' });
    nat.reset();
    ts.reset();
    const policy = (o: Float32Array, i: number) => (o[4 * i + 2] + 0.5 * o[4 * i + 3] + 0.01 * o[4 * i + 1] > 0 ? 1 : 0);
    let truncations = 0;
    for (let t = 1; t <= 1000; t++) {
      const a = [policy(nat.observations, 0), policy(nat.observations, 1)];
      nat.step(a);
      ts.step(a);
      expect(Array.from(nat.truncated)).toEqual(Array.from(ts.truncated));
      expect(Array.from(nat.terminated)).toEqual([0, 0]);
      if (nat.truncated[0]) {
        expect(t % 500).toBe(0);
        truncations++;
      }
    }
    expect(truncations).toBe(2);
  });
});

describe('determinism and seeding', () => {
  for (const id of IDS) {
    it(`${id}: same seed gives the same episodes; another seed does not`, () => {
      const run = (seed: number, resetSeed?: number) => {
        const env = make(id, { numEnvs: 5, seed });
        const trace: number[] = Array.from(env.reset(resetSeed === undefined ? undefined : { seed: resetSeed }));
        const rand = rng(77);
        for (let t = 0; t < 300; t++) {
          env.step(randomActions(id, 5, rand));
          trace.push(...env.observations, ...env.rewards, ...env.terminated, ...env.truncated);
        }
        return trace;
      };
      const a = run(11);
      expect(run(11)).toEqual(a);
      expect(run(0, 11)).toEqual(a); // reset({ seed }) re-seeds like make({ seed })
      expect(run(12)).not.toEqual(a);
    });
  }

  it('copy i of seed s equals copy 0 of seed s + i', () => {
    const many = make('Pendulum-v1', { numEnvs: 4, seed: 100 });
    const one = make('Pendulum-v1', { numEnvs: 1, seed: 102 });
    expect(Array.from(many.reset().subarray(6, 9))).toEqual(Array.from(one.reset()));
  });

  it('the thread pool gives the same result as one thread (N = 5000)', () => {
    const run = () => {
      const env = make('Acrobot-v1', { numEnvs: 5000, seed: 8 });
      env.reset();
      const rand = rng(3);
      for (let t = 0; t < 20; t++) env.step(randomActions('Acrobot-v1', 5000, rand));
      return Float32Array.from(env.observations);
    };
    const pooled = run();
    setNumThreads(1);
    try {
      expect(run()).toEqual(pooled);
    } finally {
      setNumThreads(2);
    }
  });
});

describe('same-step autoreset', () => {
  for (const id of IDS) {
    it(`${id}: a finished copy returns the reset observation and exposes the final one`, () => {
      const N = 6;
      const env = new NativeVectorEnv(id, { numEnvs: N, seed: 21, maxEpisodeSteps: 13 });
      env.reset();
      const rand = rng(5);
      let ends = 0;
      for (let t = 0; t < 60; t++) {
        const before = Array.from({ length: N }, (_, i) => env.getState(i).slice(0, env.stateDim));
        const a = randomActions(id, N, rand);
        env.step(a);
        for (let i = 0; i < N; i++) {
          const s = Float64Array.from(before[i]);
          REF_STEP[id](s, Math.fround(a[i]));
          const D = env.obsDim, row = (x: Float32Array) => x.subarray(i * D, (i + 1) * D);
          if (env.terminated[i] || env.truncated[i]) {
            ends++;
            expectClose(row(env.finalObservations), observe(id, s), 1e-6, 1e-6);
            expect(env.getState(i)[env.stateDim]).toBe(0);
            expectClose(row(env.observations), observe(id, env.getState(i).subarray(0, env.stateDim)), 0, 0);
          } else {
            expectClose(row(env.observations), observe(id, s), 1e-6, 1e-6);
          }
        }
      }
      expect(ends).toBeGreaterThanOrEqual(N * 4);
    });
  }

  it('episode statistics: lengths and returns of every finished episode', () => {
    const env = new RecordEpisodeStatistics(make('CartPole-v1', { numEnvs: 4, seed: 2 }));
    env.reset();
    const len = [0, 0, 0, 0];
    const rand = rng(1);
    for (let t = 0; t < 400; t++) {
      env.step(randomActions('CartPole-v1', 4, rand));
      for (let i = 0; i < 4; i++) {
        len[i]++;
        expect(env.episodeDone[i]).toBe(env.terminated[i] | env.truncated[i]);
        if (env.episodeDone[i]) {
          expect(env.episodeLengths[i]).toBe(len[i]);
          expect(env.episodeReturns[i]).toBe(len[i]); // reward 1 per step
          expect(env.episodeTimes[i]).toBeGreaterThanOrEqual(0);
          len[i] = 0;
        }
      }
    }
    expect(env.episodeCount).toBeGreaterThan(20);
    expect(env.recent.length).toBe(Math.min(100, env.episodeCount));
    const pend = new RecordEpisodeStatistics(make('Pendulum-v1', { numEnvs: 2, seed: 2 }));
    pend.reset();
    let sum = 0;
    for (let t = 0; t < 200; t++) {
      pend.step([0.5, -0.5]);
      sum += pend.rewards[0];
    }
    expect(pend.episodeLengths[0]).toBe(200);
    expect(pend.episodeReturns[0]).toBeCloseTo(sum, 6);
  });
});

describe('bad actions and bad input', () => {
  it('rejects bad actions with typed errors and leaves every copy unchanged', () => {
    const cases: Array<[string, unknown, string]> = [
      ['CartPole-v1', [0, 2, 1], 'ERR_RANGE'],
      ['CartPole-v1', [0, -1, 1], 'ERR_RANGE'],
      ['CartPole-v1', Int32Array.from([1, 1, 7]), 'ERR_RANGE'],
      ['CartPole-v1', [0, 1], 'ERR_SHAPE'],
      ['CartPole-v1', [0, 1, 0, 1], 'ERR_SHAPE'],
      ['CartPole-v1', [0, 0.5, 1], 'ERR_RANGE'],
      ['CartPole-v1', [0, NaN, 1], 'ERR_RANGE'],
      ['CartPole-v1', new Float32Array(3), 'ERR_DTYPE'],
      ['CartPole-v1', 'abc', 'ERR_DTYPE'],
      ['Acrobot-v1', [0, 3, 1], 'ERR_RANGE'],
      ['MountainCar-v0', [2 ** 31, 0, 1], 'ERR_RANGE'],
      ['Pendulum-v1', [0, NaN, 1], 'ERR_RANGE'],
      ['Pendulum-v1', Float32Array.from([0, Infinity, 1]), 'ERR_RANGE'],
      ['MountainCarContinuous-v0', [0, -Infinity, 1], 'ERR_RANGE'],
      ['MountainCarContinuous-v0', Float64Array.from([0, 0]), 'ERR_SHAPE'],
      ['MountainCarContinuous-v0', new Int32Array(3), 'ERR_DTYPE'],
      ['MountainCarContinuous-v0', [0, '1', 0], 'ERR_RANGE'],
    ];
    for (const [id, actions, code] of cases) {
      for (const env of [make(id, { numEnvs: 3, seed: 1 })] as const) {
        env.reset();
        env.step(randomActions(id, 3, rng(1)));
        const native = env as NativeVectorEnv;
        const states = [0, 1, 2].map((i) => Array.from(native.getState(i)));
        const obs = Float32Array.from(env.observations), rew = Float32Array.from(env.rewards);
        expect(codeOf(() => env.step(actions as number[]))).toBe(code);
        expect([0, 1, 2].map((i) => Array.from(native.getState(i)))).toEqual(states);
        expect(env.observations).toEqual(obs);
        expect(env.rewards).toEqual(rew);
      }
    }
  });

  it('the TypeScript SyncVectorEnv rejects the same bad actions without stepping', () => {
    const env = make('CartPole-v1', { numEnvs: 3, backend: 'ts', seed: 1 }) as SyncVectorEnv;
    env.reset();
    const states = env.envs.map((e) => Array.from(((e as unknown as { env: CartPoleEnv }).env).state));
    for (const [a, code] of [[[0, 2, 1], 'ERR_RANGE'], [[0, 1], 'ERR_SHAPE'], [[0, NaN, 1], 'ERR_RANGE']] as const) {
      expect(codeOf(() => env.step(a as unknown as number[]))).toBe(code);
    }
    expect(env.envs.map((e) => Array.from(((e as unknown as { env: CartPoleEnv }).env).state))).toEqual(states);
    const single = new CartPoleEnv();
    expect(codeOf(() => single.step(0))).toBe('ERR_ARG');
    single.reset({ seed: 1 });
    expect(codeOf(() => single.step(3))).toBe('ERR_RANGE');
    expect(codeOf(() => single.reset({ seed: -1 }))).toBe('ERR_RANGE');
  });

  it('rejects bad construction, options and use', () => {
    expect(codeOf(() => make('Nope-v0'))).toBe('ERR_ARG');
    expect(codeOf(() => make('CartPole-v1', { numEnvs: 0 }))).toBe('ERR_SHAPE');
    expect(codeOf(() => make('CartPole-v1', { numEnvs: 2.5 }))).toBe('ERR_SHAPE');
    expect(codeOf(() => make('CartPole-v1', { seed: -1 }))).toBe('ERR_RANGE');
    expect(codeOf(() => make('CartPole-v1', { seed: 0.5 }))).toBe('ERR_RANGE');
    expect(codeOf(() => make('CartPole-v1', { gravity: 3 }))).toBe('ERR_ARG');
    expect(codeOf(() => make('Pendulum-v1', { g: -1 }))).toBe('ERR_RANGE');
    expect(codeOf(() => make('Pendulum-v1', { g: 'x' }))).toBe('ERR_ARG');
    expect(codeOf(() => make('Pendulum-v1', { maxEpisodeSteps: 0 }))).toBe('ERR_RANGE');
    expect(codeOf(() => make('Pendulum-v1', { maxEpisodeSteps: 1.5 }))).toBe('ERR_RANGE');
    expect(codeOf(() => make('Pendulum-v1', { backend: 'gpu' as 'ts' }))).toBe('ERR_ARG');
    expect(codeOf(() => make('Pendulum-v1', { backend: 'ts' }))).toBe('ERR_ARG');
    expect(codeOf(() => make('CartPole-v1', { out: { rewards: new Float32Array(2) } }))).toBe('ERR_SHAPE');
    const env = make('CartPole-v1', { numEnvs: 2 }) as NativeVectorEnv;
    expect(codeOf(() => env.step([0, 0]))).toBe('ERR_ARG'); // before reset
    env.reset();
    expect(codeOf(() => env.reset({ seed: NaN }))).toBe('ERR_RANGE');
    expect(codeOf(() => env.getState(2))).toBe('ERR_RANGE');
    expect(codeOf(() => env.getState(-1))).toBe('ERR_RANGE');
    expect(codeOf(() => env.setState(0, [0, 0, 0]))).toBe('ERR_SHAPE');
    expect(codeOf(() => env.setState(0, [0, NaN, 0, 0, 0]))).toBe('ERR_RANGE');
    expect(codeOf(() => env.setState(0, [0, 0, 0, 0, 500]))).toBe('ERR_RANGE');
    expect(codeOf(() => env.setState(0, [0, 0, 0, 0, 1.5]))).toBe('ERR_RANGE');
  });

  it('writes into caller-provided arrays, and a detached one is an error, not a crash', () => {
    const out = { observations: new Float32Array(8), rewards: new Float32Array(2), terminated: new Uint8Array(2), truncated: new Uint8Array(2), finalObservations: new Float32Array(8) };
    const env = make('CartPole-v1', { numEnvs: 2, seed: 3, out });
    expect(env.observations).toBe(out.observations);
    env.reset();
    env.step([1, 0]);
    expect(out.rewards).toEqual(Float32Array.from([1, 1]));
    expect(out.observations.some((v) => v !== 0)).toBe(true);
    structuredClone(out.rewards.buffer, { transfer: [out.rewards.buffer] });
    expect(codeOf(() => env.step([1, 0]))).toBe('ERR_ARG');
    const shared = new Float32Array(16);
    expect(codeOf(() => make('CartPole-v1', { numEnvs: 2, out: { observations: shared.subarray(0, 8), finalObservations: shared.subarray(4, 12) } }))).toBe('ERR_ARG');
  });

  it('guards the raw binding against anything', () => {
    const b = native();
    expect(b.envIds()).toEqual(Object.keys(CLASSIC_CONTROL).sort());
    const attempts: Array<() => unknown> = [
      () => b.envCreate(),
      () => b.envCreate(5, 1, 0),
      () => b.envCreate('CartPole-v1', 0, 0),
      () => b.envCreate('CartPole-v1', 2 ** 30, 0),
      () => b.envCreate('CartPole-v1', 1, -3),
      () => b.envCreate('CartPole-v1', 1, 0, 'x'),
      () => b.envCreate('CartPole-v1', 1, 0, { suttonBartoReward: 'yes' }),
      () => b.envCreate('CartPole-v1', 1, 0, { unknown: 1 }),
      () => b.envCreate('Unknown', 1, 0),
    ];
    for (const f of attempts) expect(f).toThrow(RlcoreError);
    const h = b.envCreate('CartPole-v1', 2, 0, {});
    expect(() => h.step()).toThrow(RlcoreError); // not bound
    expect(() => h.reset()).toThrow(RlcoreError);
    const f = (n: number) => new Float32Array(n), u = (n: number) => new Uint8Array(n), i32 = new Int32Array(2);
    const binds: unknown[][] = [
      [],
      [f(2), f(8), f(2), u(2), u(2), f(8)], // float actions for a discrete env
      [i32, f(7), f(2), u(2), u(2), f(8)],
      [i32, f(8), f(2), u(2), u(2)],
      [i32, i32, f(2), u(2), u(2), f(8)],
    ];
    for (const args of binds) expect(() => h.bind(...args)).toThrow(RlcoreError);
    const obs = f(8);
    expect(() => h.bind(i32, obs, f(2), u(2), u(2), obs)).toThrow(RlcoreError); // aliasing outputs
    h.bind(i32, obs, f(2), u(2), u(2), f(8));
    h.reset(1);
    h.step();
    expect(() => h.getState(0, new Float32Array(5))).toThrow(RlcoreError);
    expect(() => h.setState('a', new Float64Array(5))).toThrow(RlcoreError);
    i32[0] = 9;
    expect(() => h.step()).toThrow(RlcoreError);
    expect(() => b.runningStatsUpdate(2, 2, f(3), new Float64Array(2), new Float64Array(2), new Float64Array(1))).toThrow(RlcoreError);
    expect(() => b.runningStatsNormalize(2, 2, f(4), new Float64Array(2), new Float64Array([1, -2]), 1e-8, 10, f(4))).toThrow(RlcoreError);
    expect(() => b.runningStatsNormalize(2, 2, f(4), new Float64Array(2), new Float64Array(2), NaN, 10, f(4))).toThrow(RlcoreError);
  });
});
