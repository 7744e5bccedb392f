// Spaces and defaults of the native classic-control environments (Gymnasium's definitions).
import { Box, Discrete } from './spaces.js';
import type { ActionSpace } from './env.js';

const F32_MAX = 3.4028234663852886e38;

/** What rlcore knows about a native environment before creating it. */
export interface NativeEnvSpec {
  /** Gymnasium id. */
  id: string;
  /** Observation space of one copy. */
  observationSpace: () => Box;
  /** Action space of one copy. */
  actionSpace: () => ActionSpace;
  /** Gymnasium's max_episode_steps. */
  maxEpisodeSteps: number;
  /** Environment-specific creation options (besides maxEpisodeSteps) and their meaning. */
  options: Record<string, string>;
}

const theta = (12 * 2 * Math.PI) / 360;

/** The classic-control suite implemented natively. */
export const CLASSIC_CONTROL: Readonly<Record<string, NativeEnvSpec>> = {
  'CartPole-v1': {
    id: 'CartPole-v1',
    observationSpace: () => new Box([-4.8, -F32_MAX, -2 * theta, -F32_MAX], [4.8, F32_MAX, 2 * theta, F32_MAX]),
    actionSpace: () => new Discrete(2),
    maxEpisodeSteps: 500,
    options: { suttonBartoReward: 'boolean: reward 0 per step and -1 on termination (default false)' },
  },
  'Acrobot-v1': {
    id: 'Acrobot-v1',
    observationSpace: () => new Box([-1, -1, -1, -1, -4 * Math.PI, -9 * Math.PI], [1, 1, 1, 1, 4 * Math.PI, 9 * Math.PI]),
    actionSpace: () => new Discrete(3),
    maxEpisodeSteps: 500,
    options: {},
  },
  'MountainCar-v0': {
    id: 'MountainCar-v0',
    observationSpace: () => new Box([-1.2, -0.07], [0.6, 0.07]),
    actionSpace: () => new Discrete(3),
    maxEpisodeSteps: 200,
    options: { goalVelocity: 'number: velocity needed at the goal (default 0)' },
  },
  'MountainCarContinuous-v0': {
    id: 'MountainCarContinuous-v0',
    observationSpace: () => new Box([-1.2, -0.07], [0.6, 0.07]),
    actionSpace: () => new Box(-1, 1, [1]),
    maxEpisodeSteps: 999,
    options: { goalVelocity: 'number: velocity needed at the goal (default 0)' },
  },
  'Pendulum-v1': {
    id: 'Pendulum-v1',
    observationSpace: () => new Box([-1, -1, -8], [1, 1, 8]),
    actionSpace: () => new Box(-2, 2, [1]),
    maxEpisodeSteps: 200,
    options: { g: 'number: gravity (default 10)' },
  },
};
