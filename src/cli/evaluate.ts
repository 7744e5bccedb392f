// `rlcore eval`: runs a saved policy for K episodes and reports the mean and std of the return.
import { extname } from 'node:path';
import { resolve } from 'node:path';
import { RlcoreError } from '../errors.js';
import { make } from '../envs/registry.js';
import { writeEpisode } from '../envs/render.js';
import { loadRunCheckpoint } from './checkpoint.js';
import { readRunConfig } from './train.js';

/** Options of {@link evaluate}. */
export interface EvalOptions {
  /** The run directory. */
  runDir: string;
  /** Episodes to run. */
  episodes: number;
  /** Seed of the evaluation episodes. */
  seed: number;
  /** Greedy actions (argmax or the Gaussian mean) instead of samples. */
  deterministic: boolean;
  /** Write one episode as an animation here (.gif or .svg). */
  render?: string;
}

/** Result of {@link evaluate}. */
export interface EvalResult {
  /** Episodic returns. */
  returns: number[];
  /** Their mean. */
  mean: number;
  /** Their (population) standard deviation. */
  std: number;
}

/** Loads the newest checkpoint of a run and runs `episodes` episodes, one per environment copy. */
export function evaluate(o: EvalOptions): EvalResult {
  const dir = resolve(o.runDir);
  const { run: rc, spec } = readRunConfig(dir);
  const ck = loadRunCheckpoint(dir);
  const run = spec.create({ ...rc.config, numEnvs: rc.config.numEnvs });
  try {
    run.restore(ck.state);
    const K = o.episodes, env = make(rc.config.envId, { numEnvs: K, seed: o.seed });
    const obs = env.reset();
    const ret = new Float64Array(K), done = new Uint8Array(K);
    let left = K;
    while (left > 0) {
      const a = run.act(obs, K, o.deterministic);
      (env.actions as Int32Array | Float32Array).set(a as never);
      env.step();
      for (let i = 0; i < K; i++) {
        if (done[i]) continue;
        ret[i] += env.rewards[i];
        if (env.terminated[i] || env.truncated[i]) done[i] = 1, left--;
      }
    }
    env.close();
    if (o.render) {
      const ext = extname(o.render).toLowerCase();
      if (ext !== '.gif' && ext !== '.svg') throw new RlcoreError('ERR_ARG', `--render: the file must end in .gif or .svg; received ${o.render}`);
      const discrete = env.singleActionSpace.kind === 'discrete';
      writeEpisode(o.render, {
        id: rc.config.envId,
        format: ext === '.gif' ? 'gif' : 'svg',
        seed: o.seed,
        policy: (ob) => {
          const a = run.act(ob, 1, o.deterministic);
          return discrete ? a[0] : a;
        },
      });
    }
    const returns = Array.from(ret);
    const mean = returns.reduce((s, r) => s + r, 0) / K;
    const std = Math.sqrt(returns.reduce((s, r) => s + (r - mean) ** 2, 0) / K);
    return { returns, mean, std };
  } finally {
    run.close();
  }
}
