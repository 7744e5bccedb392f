// Single transitions of the native classic-control environments from given states, against
// Gymnasium's equations (test/reference/classic_control.ts) and numbers worked out by hand;
// termination exactly at the thresholds; truncation at the time limits.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLASSIC_CONTROL, NativeVectorEnv, type Box } from '../../src/index.js';
import { observe, REF_STEP } from '../reference/classic_control.js';
import { expectClose, rng } from '../helpers.js';

const IDS = Object.keys(CLASSIC_CONTROL);
const TIME_LIMITS: Record<string, number> = {
  'CartPole-v1': 500, 'Acrobot-v1': 500, 'MountainCar-v0': 200, 'Pendulum-v1': 200, 'MountainCarContinuous-v0': 999,
};

/** One native step of copy 0 from `state` with `action`: next state, observation, reward, flags, final observation. */
function stepFrom(id: string, state: number[], action: number, elapsed = 0, options: Record<string, number | boolean> = {}) {
  const env = new NativeVectorEnv(id, { numEnvs: 1, seed: 5, envOptions: options });
  env.reset();
  env.setState(0, [...state, elapsed]);
  env.step([action]);
  return {
    env,
    state: Array.from(env.getState(0)),
    obs: Float32Array.from(env.observations),
    finalObs: Float32Array.from(env.finalObservations),
    reward: env.rewards[0],
    terminated: env.terminated[0],
    truncated: env.truncated[0],
  };
}

/** A random state in the region each environment visits. */
function randomState(id: string, rand: () => number): number[] {
  const u = (lo: number, hi: number) => lo + (hi - lo) * rand();
  switch (id) {
    case 'CartPole-v1': return [u(-2.4, 2.4), u(-3, 3), u(-0.21, 0.21), u(-3, 3)];
    case 'Acrobot-v1': return [u(-Math.PI, Math.PI), u(-Math.PI, Math.PI), u(-4 * Math.PI, 4 * Math.PI), u(-9 * Math.PI, 9 * Math.PI)];
    case 'Pendulum-v1': return [u(-10, 10), u(-8, 8)];
    default: return [u(-1.2, 0.6), u(-0.07, 0.07)];
  }
}

function actionsOf(id: string, rand: () => number): number[] {
  const space = CLASSIC_CONTROL[id].actionSpace();
  if (space.kind === 'discrete') return Array.from({ length: space.n }, (_, a) => a);
  const hi = (space as Box).high[0];
  return [-hi * 1.5, -hi, 0, (rand() * 2 - 1) * hi, hi, hi * 3];
}

describe('classic control transitions', () => {
  for (const id of IDS) {
    it(`${id}: steps from random states match Gymnasium's equations`, () => {
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const rand = rng(seed);
          const state = randomState(id, rand);
          for (const a of actionsOf(id, rand)) {
            const got = stepFrom(id, state, a);
            const want = Float64Array.from(state);
            const r = REF_STEP[id](want, Math.fround(a)); // actions travel as float32
            expect(got.terminated).toBe(r.terminated ? 1 : 0);
            expect(got.truncated).toBe(0);
            expect(got.reward).toBeCloseTo(Math.fround(r.reward), 5);
            const seen = r.terminated ? got.finalObs : got.obs;
            expectClose(seen, observe(id, want), 1e-6, 1e-6);
            if (!r.terminated) expectClose(got.state.slice(0, -1), Array.from(want), 1e-12, 1e-12);
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  it('CartPole-v1: hand-computed push right from rest', () => {
    // temp = 10/1.1; θ̈ = -temp / (0.5 (4/3 - 0.1/1.1)) = -14.634146; ẍ = temp - 0.05 θ̈ / 1.1 = 9.756098
    const got = stepFrom('CartPole-v1', [0, 0, 0, 0], 1);
    expect(got.state[0]).toBe(0);
    expect(got.state[1]).toBeCloseTo(0.02 * 9.7560975609756, 10);
    expect(got.state[2]).toBe(0);
    expect(got.state[3]).toBeCloseTo(0.02 * -14.634146341463415, 10);
    expect(got.reward).toBe(1);
    const left = stepFrom('CartPole-v1', [0, 0, 0, 0], 0);
    expect(left.state[1]).toBeCloseTo(-got.state[1], 12);
    expect(stepFrom('CartPole-v1', [0, 0, 0, 0], 1, 0, { suttonBartoReward: true }).reward).toBe(0);
    expect(stepFrom('CartPole-v1', [2.4, 1, 0, 0], 1, 0, { suttonBartoReward: true }).reward).toBe(-1);
  });

  it('MountainCar-v0 and MountainCarContinuous-v0: hand-computed pushes', () => {
    // v = 0.001 - 0.0025 cos(-1.5) = 0.000823156996; x = -0.5 + v
    const mc = stepFrom('MountainCar-v0', [-0.5, 0], 2);
    expect(mc.state[1]).toBeCloseTo(0.000823156995830743, 14);
    expect(mc.state[0]).toBeCloseTo(-0.499176843004169, 14);
    expect(mc.reward).toBe(-1);
    // v = 0.0015 - 0.0025 cos(-1.5); reward = -0.1 a² with the unclipped action
    const mcc = stepFrom('MountainCarContinuous-v0', [-0.5, 0], 1);
    expect(mcc.state[1]).toBeCloseTo(Math.fround(0.001323156995830743), 9);
    expect(mcc.reward).toBeCloseTo(-0.1, 7);
    const big = stepFrom('MountainCarContinuous-v0', [-0.5, 0], 3);
    expect(big.state[1]).toBe(mcc.state[1]); // clipped to 1 for the dynamics
    expect(big.reward).toBeCloseTo(-0.9, 6); // but not for the reward
  });

  it('Pendulum-v1 and Acrobot-v1: hand-computed steps', () => {
    // θ = 0, θ̇ = 0, u = 2: cost = 0.001·4; θ̇' = 3·2·0.05 = 0.3; θ' = 0.015
    const p = stepFrom('Pendulum-v1', [0, 0], 2);
    expect(p.reward).toBeCloseTo(-0.004, 7);
    expect(p.state[1]).toBeCloseTo(0.3, 14);
    expect(p.state[0]).toBeCloseTo(0.015, 14);
    expectClose(p.obs, [Math.cos(0.015), Math.sin(0.015), 0.3], 1e-7, 1e-7);
    // torque clipped to ±2; cost uses the clipped torque; angle normalised into [-π, π)
    expect(stepFrom('Pendulum-v1', [0, 0], 100).reward).toBeCloseTo(-0.004, 7);
    expect(stepFrom('Pendulum-v1', [2 * Math.PI + 0.5, 0], 0).reward).toBeCloseTo(-0.25, 6);
    expect(stepFrom('Pendulum-v1', [0, 7.9], 2).state[1]).toBe(8); // max speed
    // hanging at rest without torque is an equilibrium
    const a = stepFrom('Acrobot-v1', [0, 0, 0, 0], 1);
    expectClose(a.state.slice(0, 4), [0, 0, 0, 0], 0, 1e-15);
    expect(a.reward).toBe(-1);
    expectClose(a.obs, [1, 0, 1, 0, 0, 0]);
    // velocities are bounded by 4π and 9π
    const fast = stepFrom('Acrobot-v1', [0, 0, 50, -50], 2);
    expect(Math.abs(fast.state[2])).toBeLessThanOrEqual(4 * Math.PI);
    expect(Math.abs(fast.state[3])).toBeLessThanOrEqual(9 * Math.PI);
  });
});

describe('termination at the thresholds', () => {
  const thr = (12 * 2 * Math.PI) / 360;
  it('CartPole-v1 terminates strictly beyond |x| = 2.4 and |θ| = 12°', () => {
    for (const sign of [1, -1]) {
      expect(stepFrom('CartPole-v1', [sign * 2.4, 0, 0, 0], 1).terminated).toBe(0);
      expect(stepFrom('CartPole-v1', [sign * 2.4, sign * 1e-6, 0, 0], 1).terminated).toBe(1);
      expect(stepFrom('CartPole-v1', [0, 0, sign * thr, 0], 1).terminated).toBe(0);
      expect(stepFrom('CartPole-v1', [0, 0, sign * thr, sign * 1e-6], 1).terminated).toBe(1);
    }
    // the terminating step still pays reward 1 and hands its observation over as finalObservations
    const t = stepFrom('CartPole-v1', [2.4, 1, 0, 0], 1);
    expect(t.reward).toBe(1);
    expect(t.finalObs[0]).toBeCloseTo(2.42, 6);
    expect(Math.abs(t.obs[0])).toBeLessThanOrEqual(0.05); // already the next episode
  });

  it('MountainCar-v0 terminates at x = 0.5 with v = 0 exactly, not just below; stops at the left wall', () => {
    const v = Math.cos(1.5) * 0.0025; // cancels gravity exactly: v' = 0, x' = 0.5
    const at = stepFrom('MountainCar-v0', [0.5, v], 1);
    expect(at.terminated).toBe(1);
    expect(at.finalObs[0]).toBe(0.5);
    expect(at.finalObs[1]).toBe(0);
    expect(stepFrom('MountainCar-v0', [0.5, v], 1, 0, { goalVelocity: 0.001 }).terminated).toBe(0);
    expect(stepFrom('MountainCar-v0', [0.5 - 1e-9, v], 1).terminated).toBe(0);
    const wall = stepFrom('MountainCar-v0', [-1.2, -0.05], 0);
    expect(wall.state.slice(0, 2)).toEqual([-1.2, 0]);
  });

  it('MountainCarContinuous-v0 terminates at x = 0.45 with v = 0 exactly and pays 100', () => {
    const v = 0.0025 * Math.cos(3 * 0.45);
    const at = stepFrom('MountainCarContinuous-v0', [0.45, v], 0);
    expect(at.terminated).toBe(1);
    expect(at.reward).toBe(100);
    expect(stepFrom('MountainCarContinuous-v0', [0.45 - 1e-9, v], 0).terminated).toBe(0);
  });

  it('Acrobot-v1 terminates when the tip is above the bar and pays 0 then', () => {
    const up = stepFrom('Acrobot-v1', [Math.PI, 0, 0, 0], 1);
    expect(up.terminated).toBe(1);
    expect(up.reward).toBe(0);
    const s = Float64Array.from([Math.PI, 0, 0, 0]);
    const r = REF_STEP['Acrobot-v1'](s, 1);
    expect(r.terminated).toBe(true);
    expectClose(up.finalObs, observe('Acrobot-v1', s), 1e-6, 1e-6);
    // tip height exactly 1 is not above: θ1 = π/2 is horizontal, θ2 = 0 → height ≈ 0
    expect(stepFrom('Acrobot-v1', [Math.PI / 2, 0, 0, 0], 1).terminated).toBe(0);
  });
});

describe('truncation at the time limits', () => {
  for (const id of IDS) {
    it(`${id}: truncated at step ${TIME_LIMITS[id]}`, () => {
      const limit = TIME_LIMITS[id];
      expect(CLASSIC_CONTROL[id].maxEpisodeSteps).toBe(limit);
      const env = new NativeVectorEnv(id, { numEnvs: 1, seed: 3 });
      expect(env.maxEpisodeSteps).toBe(limit);
      env.reset();
      // Start from a calm state that cannot terminate within 2 steps.
      const calm = id === 'CartPole-v1' ? [0, 0, 0, 0] : id === 'Acrobot-v1' ? [0, 0, 0, 0] : id === 'Pendulum-v1' ? [0, 0] : [-0.5, 0];
      const a = CLASSIC_CONTROL[id].actionSpace().kind === 'discrete' ? (id === 'CartPole-v1' ? 1 : 1) : 0;
      env.setState(0, [...calm, limit - 2]);
      env.step([a]);
      expect(env.truncated[0]).toBe(0);
      expect(env.getState(0)[calm.length]).toBe(limit - 1);
      const before = Float64Array.from(env.getState(0).subarray(0, calm.length));
      REF_STEP[id](before, a);
      env.step([a]);
      expect(env.truncated[0]).toBe(1);
      expect(env.terminated[0]).toBe(0);
      expectClose(env.finalObservations, observe(id, before), 1e-6, 1e-6);
      expect(env.getState(0)[calm.length]).toBe(0); // a new episode started
    });
  }

  it('Pendulum-v1 and MountainCar-v0 episodes from reset last exactly their limits; maxEpisodeSteps overrides', () => {
    for (const [id, limit, maxEpisodeSteps] of [['Pendulum-v1', 200, undefined], ['MountainCar-v0', 200, undefined], ['Pendulum-v1', 7, 7]] as const) {
      const env = new NativeVectorEnv(id, { numEnvs: 3, seed: 1, maxEpisodeSteps });
      env.reset();
      for (let t = 1; t <= 2 * limit; t++) {
        env.step(id === 'Pendulum-v1' ? [0, 0, 0] : [1, 1, 1]);
        for (let i = 0; i < 3; i++) expect(env.truncated[i]).toBe(t % limit === 0 ? 1 : 0);
      }
    }
  });
});
