// Evidence for issue #6's Pendulum-v1 target ("mean of the last 10 episodes >= -200 within 50 000
// steps, 3 seeds"): how much of a run's final last-10 mean is its policy and how much the start
// states its last 10 episodes happened to draw.
//
//   RLCORE_NUM_THREADS=1 npx tsx scripts/pendulum-start-states.ts train sac SEED [out=DIR] [key=value ...]
//   npx tsx scripts/pendulum-start-states.ts eval sac SEED... [out=DIR] [first=241] [fresh=100] [freshSeed=7000000]
//
// `train` runs the algorithm exactly as scripts/offpolicy-learn.ts does (spec.defaults, the given
// seed, totalSteps 50 000, iterate/drainEpisodes through AlgorithmRun) and, by wrapping the run's
// collector step without changing it, records every episode's end step, its return and the
// physical start state [θ0, θ̇0] and first observation the next episode started from. It writes
// DIR/ALGO-seedN.json (returns, starts, summary, the run's checkpoint state) and
// DIR/ALGO-seedN.safetensors (the run's checkpoint tensors: final actor, critics, optimisers).
//
// `eval` restores each run's final checkpoint and
//   1. reconstructs every episode's start state from the seed alone, twice: from the reset
//      stream in TypeScript (Philox stream (seed, 0): θ0 = U[-π, π), θ̇0 = U[-1, 1), two draws per
//      reset, as native/envs/pendulum.cc) and by replaying resets on a fresh native environment;
//      both must equal the states and first observations the training run actually saw;
//   2. prints each seed's episodes 241–250: start angle, training return, mean |θ0|;
//   3. evaluates every final greedy policy (run.act(obs, B, true)) from the exact start states of
//      every seed's episodes 241–250 (policy seed × start-state seed) and from `fresh` random
//      start states (Pendulum's reset distribution, same states for every policy), with the
//      chance that 10 random starts give that policy a 10-episode mean below -200.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sac } from '../src/algos/sac.js';
import { td3 } from '../src/algos/td3.js';
import type { AlgorithmRun, AlgorithmSpec, CommonConfig } from '../src/algos/base.js';
import { make } from '../src/envs/registry.js';
import { NativeVectorEnv } from '../src/envs/native_vector_env.js';
import { RandomStream } from '../src/envs/random.js';
import type { VectorBuffers } from '../src/envs/env.js';
import type { Collector } from '../src/replay/collector.js';
import { loadSafetensors, saveSafetensors } from '../src/nn/safetensors.js';
import { loadNative } from '../src/native.js';

const ENV = 'Pendulum-v1';
const EP_LEN = 200; // Pendulum never terminates: every episode is the 200-step time limit
const specs = { sac, td3 } as unknown as Record<string, AlgorithmSpec<CommonConfig>>;

const [mode, algo, ...args] = process.argv.slice(2);
const opts: Record<string, string> = {};
const positional: string[] = [];
for (const a of args) {
  const i = a.indexOf('=');
  if (i > 0) opts[a.slice(0, i)] = a.slice(i + 1);
  else positional.push(a);
}
const spec = specs[algo];
if ((mode !== 'train' && mode !== 'eval') || !spec || positional.length === 0) {
  throw new Error('usage: pendulum-start-states.ts train sac|td3 SEED [out=DIR] [key=value ...] | eval sac|td3 SEED... [out=DIR] [first=K] [fresh=N] [freshSeed=S]');
}
const outDir = opts.out ?? '/tmp/rlcore-pendulum-start-states';
// Episodes first..first+9 (eval; default 241: the last 10 episodes of a 50 000-step run).
const WINDOW = [Number(opts.first ?? 241), Number(opts.first ?? 241) + 9] as const;
const fresh = Number(opts.fresh ?? 100), freshSeed = Number(opts.freshSeed ?? 7_000_000);
for (const k of ['out', 'first', 'fresh', 'freshSeed']) delete opts[k]; // the rest: config overrides (train)
const mean = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0) / Math.max(a.length, 1);
const fmt = (x: number, d = 1) => x.toFixed(d);

/** One episode's start: physical state and the observation the agent saw. */
interface Start {
  theta: number;
  thetaDot: number;
  obs: number[];
}

/** What `train` writes (besides the checkpoint tensors). */
interface RunRecord {
  algo: string;
  config: CommonConfig & Record<string, unknown>;
  addon: string;
  returns: number[]; // per episode, from drainEpisodes()
  hookReturns: number[]; // per episode, summed by the step hook (must equal `returns`)
  endSteps: number[]; // environment step at which each episode ended
  starts: Start[]; // starts[k - 1]: start of episode k (k = 1 .. episodes + 1)
  summary: Record<string, number | null>;
  state: unknown; // AlgorithmRun.checkpoint().state
}

function paths(seed: number) {
  return { json: join(outDir, `${algo}-seed${seed}.json`), tensors: join(outDir, `${algo}-seed${seed}.safetensors`) };
}

function configFor(seed: number, overrides: Record<string, string>): CommonConfig & Record<string, unknown> {
  const config = { ...spec.defaults(ENV), seed, totalSteps: 50_000 } as CommonConfig & Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    config[k] = v === 'true' ? true : v === 'false' ? false : v.startsWith('[') ? JSON.parse(v) : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------------------------
async function train(seed: number): Promise<void> {
  const config = configFor(seed, opts);
  if (config.numEnvs !== 1) throw new Error('train: numEnvs must be 1 (episode k then starts at step 200 (k - 1))');
  const run = spec.create(config);
  // The run's collector (a private field of SacRun / Td3Run): wrap its step to observe, not change, it.
  const col = (run as unknown as { col?: Collector }).col;
  if (!col || !(col.env instanceof NativeVectorEnv)) throw new Error(`train: ${algo} has no native collector to observe`);
  const env = col.env;
  const startOf = (): Start => {
    const s = env.getState(0);
    if (s[2] !== 0) throw new Error(`train: expected a fresh episode, step count ${s[2]}`);
    return { theta: s[0], thetaDot: s[1], obs: Array.from(col.observations.subarray(0, 3)) };
  };
  const starts: Start[] = [startOf()];
  const hookReturns: number[] = [], endSteps: number[] = [];
  let steps = 0, ret = 0;
  const step = col.step.bind(col);
  col.step = (actions: Int32Array | Float32Array): VectorBuffers => {
    const b = step(actions);
    steps++;
    ret += b.rewards[0];
    if (b.terminated[0] || b.truncated[0]) {
      hookReturns.push(ret);
      endSteps.push(steps);
      ret = 0;
      starts.push(startOf()); // same-step autoreset: the observation is already the next episode's first
    }
    return b;
  };

  const returns: number[] = [];
  let best10 = -Infinity, best10Step = 0, it = 0;
  const t0 = performance.now();
  while (run.globalStep < config.totalSteps) {
    const m = await run.iterate();
    for (const r of run.drainEpisodes().returns) {
      returns.push(r);
      if (returns.length >= 10 && mean(returns.slice(-10)) > best10) (best10 = mean(returns.slice(-10))), (best10Step = run.globalStep);
    }
    if (++it % 10 === 0) {
      const sm = Object.entries(m).map(([k, v]) => `${k}=${Number(v).toPrecision(4)}`).join(' ');
      console.log(`step ${run.globalStep} episodes ${returns.length} last10 ${fmt(mean(returns.slice(-10)))} ${sm}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (steps !== run.globalStep) throw new Error(`train: hook saw ${steps} steps, run reports ${run.globalStep}`);
  if (returns.length !== hookReturns.length || returns.some((r, i) => r !== hookReturns[i])) throw new Error('train: hook returns differ from drainEpisodes()');
  if (endSteps.some((s, i) => s !== EP_LEN * (i + 1))) throw new Error('train: an episode did not last 200 steps');

  // First environment step at which the trailing-10 mean is >= -200 (it can only change when an episode ends).
  let firstStep: number | null = null;
  for (let k = 10; k <= returns.length && firstStep === null; k++) if (mean(returns.slice(k - 10, k)) >= -200) firstStep = endSteps[k - 1];
  const eval20 = greedyEval20(run, config.seed);
  const ckpt = run.checkpoint();
  run.close();
  const summary = {
    seed, steps: config.totalSteps, episodes: returns.length, last100: mean(returns.slice(-100)), last10: mean(returns.slice(-10)), best10, best10Step,
    firstStepLast10AtLeastMinus200: firstStep, seconds, sps: config.totalSteps / seconds, eval20,
  };
  mkdirSync(outDir, { recursive: true });
  const p = paths(seed);
  saveSafetensors(p.tensors, ckpt.tensors, { algo, seed: String(seed) });
  const rec: RunRecord = { algo, config, addon: loadNative().source.path, returns, hookReturns, endSteps, starts, summary, state: ckpt.state };
  writeFileSync(p.json, JSON.stringify(rec));
  console.log(JSON.stringify({ algo, envId: ENV, ...summary }));
  console.log(`wrote ${p.json} and ${p.tensors}`);
}

// The same greedy evaluation as scripts/offpolicy-learn.ts: 20 episodes, environment seed 10^6 + seed.
function greedyEval20(run: AlgorithmRun, seed: number): number {
  const env = make(ENV, { numEnvs: 1, seed: 1_000_000 + seed });
  const out: number[] = [];
  let obs = env.reset(), ret = 0;
  while (out.length < 20) {
    const b = env.step(run.act(obs, 1, true));
    ret += b.rewards[0];
    if (b.terminated[0] || b.truncated[0]) (out.push(ret)), (ret = 0);
    obs = b.observations;
  }
  env.close();
  return mean(out);
}

// ---------------------------------------------------------------------------------------------
// eval
// ---------------------------------------------------------------------------------------------

/** Start states of episodes 1..n of a seed from its reset stream alone (TypeScript Philox). */
function startsFromStream(seed: number, n: number): Array<[number, number]> {
  const rand = new RandomStream(seed, 0);
  return Array.from({ length: n }, () => [rand.uniform(-Math.PI, Math.PI), rand.uniform(-1, 1)] as [number, number]);
}

/** Start states and first observations of episodes 1..n by replaying resets on a fresh native env. */
function startsFromNativeReplay(seed: number, n: number): Start[] {
  const env = make(ENV, { numEnvs: 1, seed }) as NativeVectorEnv;
  env.reset();
  const out: Start[] = [];
  const x = new Float64Array(3);
  for (let k = 1; k <= n; k++) {
    const s = env.getState(0);
    out.push({ theta: s[0], thetaDot: s[1], obs: Array.from(env.observations.subarray(0, 3)) });
    // Force the time limit on the next step (as Collector.restoreEnv does): it draws the next reset.
    x[0] = s[0], x[1] = s[1], x[2] = env.maxEpisodeSteps - 1;
    env.setState(0, x);
    env.step([0]);
    if (!env.truncated[0]) throw new Error('replay: forced step did not truncate');
  }
  env.close();
  return out;
}

/** Greedy returns of `run` from the given start states (one native copy per start, all in one batch). */
function greedyFrom(run: AlgorithmRun, starts: ReadonlyArray<readonly [number, number]>): number[] {
  const n = starts.length;
  const env = make(ENV, { numEnvs: n, seed: 0 }) as NativeVectorEnv;
  env.reset();
  starts.forEach(([th, thd], i) => env.setState(i, [th, thd, 0]));
  for (let i = 0; i < n; i++) {
    const o = env.observations.subarray(3 * i, 3 * i + 3), [th, thd] = starts[i];
    if (o[0] !== Math.fround(Math.cos(th)) || o[1] !== Math.fround(Math.sin(th)) || o[2] !== Math.fround(thd)) throw new Error('greedyFrom: setState did not rewrite the observation');
  }
  const ret = new Float64Array(n);
  for (let t = 0; t < EP_LEN; t++) {
    const b = env.step(run.act(env.observations, n, true));
    for (let i = 0; i < n; i++) ret[i] += b.rewards[i];
    if (t < EP_LEN - 1 ? b.truncated.some((v) => v !== 0) : b.truncated.some((v) => v !== 1)) throw new Error('greedyFrom: unexpected episode boundary');
  }
  env.close();
  return Array.from(ret);
}

function restore(seed: number): { rec: RunRecord; run: AlgorithmRun } {
  const p = paths(seed);
  const rec = JSON.parse(readFileSync(p.json, 'utf8')) as RunRecord;
  if (rec.algo !== algo) throw new Error(`${p.json}: algorithm ${rec.algo}, not ${algo}`);
  const run = spec.create(rec.config);
  run.restore({ tensors: loadSafetensors(p.tensors).tensors, state: rec.state });
  return { rec, run };
}

function evaluate(seeds: number[]): void {
  const runs = seeds.map((s) => ({ seed: s, ...restore(s) }));
  console.log(`# ${algo} ${ENV}, seeds ${seeds.join('/')}: checkpoints from ${outDir}`);
  // The restored checkpoint is the trained policy: its greedy evaluation repeats the one taken after training.
  for (const { seed, run, rec } of runs) {
    const e = greedyEval20(run, seed);
    if (e !== rec.summary.eval20) throw new Error(`seed ${seed}: restored policy evaluates at ${e}, trained one at ${rec.summary.eval20}`);
  }
  console.log('restored final policies: greedy eval20 identical to the one taken right after training');

  // 1. Start states depend on the seed alone: two reconstructions against what training saw.
  console.log('\n## Start states: reconstructed from the seed vs seen in training');
  for (const { seed, rec } of runs) {
    const n = rec.starts.length; // episodes + 1 (the episode running at the end)
    const ts = startsFromStream(seed, n), nat = startsFromNativeReplay(seed, n);
    let tsEqual = 0, natEqual = 0, obsEqual = 0;
    rec.starts.forEach((s, i) => {
      if (s.theta === ts[i][0] && s.thetaDot === ts[i][1]) tsEqual++;
      if (s.theta === nat[i].theta && s.thetaDot === nat[i].thetaDot) natEqual++;
      if (s.obs.every((v, j) => v === nat[i].obs[j])) obsEqual++;
    });
    console.log(
      `seed ${seed}: ${n} episode starts (1..${n}); bit-equal to training: Philox stream (TS) ${tsEqual}/${n}, native reset replay ${natEqual}/${n}, first observations ${obsEqual}/${n}`,
    );
    if (tsEqual !== n || natEqual !== n || obsEqual !== n) throw new Error(`seed ${seed}: reconstructed start states differ from training`);
  }

  // 2. Episodes 241–250 of each seed: start angle and training return.
  const [k0, k1] = WINDOW;
  const window = (rec: RunRecord) => rec.starts.slice(k0 - 1, k1).map((s) => [s.theta, s.thetaDot] as [number, number]);
  console.log(`\n## Episodes ${k0}–${k1} of training (θ0 in [-π, π), 0 = upright; return of the training episode)`);
  for (const { seed, rec } of runs) {
    const w = window(rec), absTh = w.map(([th]) => Math.abs(th));
    const all = rec.starts.slice(0, rec.returns.length).map((s) => Math.abs(s.theta));
    console.log(
      `seed ${seed}: mean |θ0| ${fmt(mean(absTh), 2)} (episodes 1–${rec.returns.length}: ${fmt(mean(all), 2)}); |θ0| > 2.5 in ${absTh.filter((a) => a > 2.5).length}/10; ` +
        `training last-10 mean ${fmt(mean(rec.returns.slice(k0 - 1, k1)))}`,
    );
    console.log(`  θ0:     ${w.map(([th]) => fmt(th, 2).padStart(7)).join(' ')}`);
    console.log(`  return: ${rec.returns.slice(k0 - 1, k1).map((r) => fmt(r).padStart(7)).join(' ')}`);
  }

  // 3a. Every final greedy policy from every seed's episode 241–250 start states.
  console.log(`\n## Final greedy policy × start states of episodes ${k0}–${k1} (mean of the 10 greedy returns)`);
  console.log(`| policy \\ starts of | ${seeds.map((s) => `seed ${s}`).join(' | ')} | training last 10 (own starts) |`);
  console.log(`|---|${seeds.map(() => '---:').join('|')}|---:|`);
  const table: Record<string, Record<string, number>> = {};
  for (const { seed, run, rec } of runs) {
    const row = runs.map((o) => mean(greedyFrom(run, window(o.rec))));
    table[seed] = Object.fromEntries(runs.map((o, j) => [o.seed, row[j]]));
    console.log(`| seed ${seed} | ${row.map((v) => fmt(v)).join(' | ')} | ${fmt(mean(rec.returns.slice(k0 - 1, k1)))} |`);
  }

  // 3b. From fresh random start states (the same for every policy).
  const freshStarts = startsFromStream(freshSeed, fresh);
  const bottom = freshStarts.map(([th]) => Math.abs(th) > 2.5);
  console.log(`\n## Final greedy policy from ${fresh} fresh start states (Philox stream (${freshSeed}, 0); ${bottom.filter(Boolean).length} with |θ0| > 2.5; mean |θ0| ${fmt(mean(freshStarts.map(([th]) => Math.abs(th))), 2)})`);
  console.log('| policy | mean | min | mean, θ0 within ±2.5 | mean, θ0 beyond ±2.5 | P(10 random starts: mean < −200) | eval20 (offpolicy-learn) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const freshSummary: Record<string, Record<string, number>> = {};
  for (const { seed, run, rec } of runs) {
    const r = greedyFrom(run, freshStarts);
    const hi = r.filter((_, i) => !bottom[i]), lo = r.filter((_, i) => bottom[i]);
    // Chance that a last-10 window of this (fixed) policy lands below -200 by its start states alone:
    // 100 000 draws of 10 of these fresh returns with replacement.
    const rand = new RandomStream(freshSeed, 1 + seed);
    let below = 0;
    const draws = 100_000;
    for (let d = 0; d < draws; d++) {
      let s = 0;
      for (let j = 0; j < 10; j++) s += r[rand.below(r.length)];
      if (s / 10 < -200) below++;
    }
    freshSummary[seed] = { mean: mean(r), min: Math.min(...r), meanUpper: mean(hi), meanBottom: mean(lo), pBelow: below / draws, eval20: Number(rec.summary.eval20) };
    console.log(`| seed ${seed} | ${fmt(mean(r))} | ${fmt(Math.min(...r))} | ${fmt(mean(hi))} | ${fmt(mean(lo))} | ${fmt((100 * below) / draws, 2)}% | ${fmt(Number(rec.summary.eval20))} |`);
  }

  console.log('\n## Training runs');
  for (const { rec } of runs) console.log(JSON.stringify(rec.summary));
  console.log(JSON.stringify({ algo, envId: ENV, seeds, window: WINDOW, table, fresh: { n: fresh, seed: freshSeed, bottom: bottom.filter(Boolean).length, ...freshSummary } }));
  for (const { run } of runs) run.close();
}

if (mode === 'train') {
  if (positional.length !== 1) throw new Error('train: one seed per invocation');
  await train(Number(positional[0]));
} else {
  evaluate(positional.map(Number));
}
