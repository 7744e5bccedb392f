// The algorithms the command line knows, keyed by AlgorithmSpec.name.
import type { AlgorithmSpec, CommonConfig } from './base.js';
import { a2c } from './a2c.js';
import { grpo } from './grpo.js';
import { ppo } from './ppo.js';

/** Every algorithm `rlcore train` can run, by name. */
export const ALGORITHMS: ReadonlyMap<string, AlgorithmSpec<CommonConfig>> = new Map<string, AlgorithmSpec<CommonConfig>>(
  [ppo, a2c, grpo].map((s) => [s.name, s as unknown as AlgorithmSpec<CommonConfig>]),
);
