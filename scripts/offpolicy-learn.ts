// Full learning runs of the off-policy algorithms through AlgorithmRun, for bench/RESULTS.md:
//   npx tsx scripts/offpolicy-learn.ts dqn CartPole-v1 1 [key=value ...]
// Prints progress every 10 iterations and, at the end, the mean of the last 100 and last 10
// episodic returns, the best 10-episode mean seen and the step (to the iteration) it was seen at
// (best10Step), the wall time and environment steps per second (sps; after learning starts each
// step is one critic update), and the mean return of 20 greedy evaluation episodes (eval20).
import { dqn } from '../src/algos/dqn.js';
import { sac } from '../src/algos/sac.js';
import { td3 } from '../src/algos/td3.js';


import type { AlgorithmSpec, CommonConfig } from '../src/algos/base.js';
import { make } from '../src/envs/registry.js';

const [algo, envId, seedText, ...rest] = process.argv.slice(2);
const specs: Record<string, AlgorithmSpec<CommonConfig>> = { dqn, sac, td3 } as unknown as Record<string, AlgorithmSpec<CommonConfig>>;
const spec = specs[algo];
if (!spec || !envId) throw new Error('usage: offpolicy-learn.ts dqn|sac|td3 ENV SEED [key=value ...]');
const config = { ...spec.defaults(envId), seed: Number(seedText ?? 1) } as CommonConfig & Record<string, unknown>;
for (const kv of rest) {
  const [k, v] = kv.split('=');
  config[k] = v === 'true' ? true : v === 'false' ? false : v.startsWith('[') ? JSON.parse(v) : Number.isNaN(Number(v)) ? v : Number(v);
}
const run = spec.create(config);
const returns: number[] = [];
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / Math.max(a.length, 1);
let best10 = -Infinity, best10Step = 0, it = 0;
const t0 = performance.now();
while (run.globalStep < config.totalSteps) {
  const m = await run.iterate();
  const ep = run.drainEpisodes();
  for (const r of ep.returns) {
    returns.push(r);
    if (returns.length >= 10 && mean(returns.slice(-10)) > best10) (best10 = mean(returns.slice(-10))), (best10Step = run.globalStep);
  }
  if (++it % 10 === 0) {
    const sm = Object.entries(m).map(([k, v]) => `${k}=${Number(v).toPrecision(4)}`).join(' ');
    console.log(`step ${run.globalStep} episodes ${returns.length} last10 ${mean(returns.slice(-10)).toFixed(1)} ${sm}`);
  }
}
const secs = (performance.now() - t0) / 1000;
// Greedy evaluation: 20 episodes of the deterministic policy on fresh copies (seed 10^6 + seed).
const env = make(envId, { numEnvs: 1, seed: 1_000_000 + config.seed });
const evalReturns: number[] = [];
let obs = env.reset(), ret = 0;
while (evalReturns.length < 20) {
  const b = env.step(run.act(obs, 1, true));
  ret += b.rewards[0];
  if (b.terminated[0] || b.truncated[0]) {
    evalReturns.push(ret);
    ret = 0;
  }
  obs = b.observations;
}
env.close();
run.close();
console.log(JSON.stringify({ algo, envId, seed: config.seed, steps: run.globalStep, episodes: returns.length, last100: mean(returns.slice(-100)), last10: mean(returns.slice(-10)), best10, best10Step, maxReturn: Math.max(...returns), seconds: secs, sps: run.globalStep / secs, eval20: mean(evalReturns) }));
