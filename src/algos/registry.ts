// The algorithms the command line knows, keyed by AlgorithmSpec.name.
import type { AlgorithmSpec, CommonConfig } from './base.js';
import { a2c } from './a2c.js';
import { dqn } from './dqn.js';
import { grpo } from './grpo.js';
import { ppo } from './ppo.js';
import { sac } from './sac.js';
import { td3 } from './td3.js';

/** Every algorithm `rlcore train` can run, by name. */
export const ALGORITHMS: ReadonlyMap<string, AlgorithmSpec<CommonConfig>> = new Map<string, AlgorithmSpec<CommonConfig>>(
  [ppo, a2c, dqn, sac, td3, grpo].map((s) => [s.name, s as unknown as AlgorithmSpec<CommonConfig>]),
);
