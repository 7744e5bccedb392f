// `rlcore train`: everything around an algorithm's iterate() — configuration, run directory,
// logs, progress bar, checkpoints, resume, Ctrl-C and the learning-curve plot. Everything
// algorithm-specific comes from its AlgorithmSpec (defaults and create).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { RlcoreError } from '../errors.js';
import type { AlgorithmRun, AlgorithmSpec, CommonConfig } from '../algos/base.js';
import { ALGORITHMS } from '../algos/registry.js';
import { registeredEnvs } from '../envs/registry.js';
import { loadRunCheckpoint, readJson, saveRunCheckpoint, writeFileAtomic } from './checkpoint.js';
import { readEpisodes, RunLog } from './run_log.js';

/** Options of {@link train} (from the command line). */
export interface TrainOptions {
  /** Algorithm name (a key of the registry). */
  algo?: string;
  /** Environment id. */
  env?: string;
  /** Total environment steps. */
  steps?: number;
  /** Seed. */
  seed?: number;
  /** Parallel environment copies. */
  numEnvs?: number;
  /** JSON file of configuration values (camelCase keys). */
  config?: string;
  /** Algorithm options as `--kebab-case value` pairs. */
  flags: string[];
  /** Run directory to create (default `<runs>/<env>__<algo>__<seed>__<time>`). */
  runDir?: string;
  /** Parent of new run directories (default `runs`). */
  runs: string;
  /** Checkpoint every this many steps (default: a tenth of the run). */
  checkpointEvery?: number;
  /** Run directory to resume. */
  resume?: string;
  /** Pause (checkpoint and exit 0) once this many steps are done. */
  stopAt?: number;
  /** Show the progress bar (on a terminal). */
  progress: boolean;
}

/** What config.json of a run directory holds. */
interface RunConfig {
  algo: string;
  config: CommonConfig;
  checkpointEvery: number;
  createdAt: string;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

// Converts a value (from a flag or a config file) to the type of the default.
function coerce(algo: string, key: string, raw: unknown, like: unknown): unknown {
  const bad = (what: string): never => {
    throw new RlcoreError('ERR_ARG', `${algo}: --${kebab(key)} must be ${what}; received ${JSON.stringify(raw)}`);
  };
  const fromText = typeof raw === 'string';
  if (typeof like === 'number' || like === null) {
    if (like === null && (raw === null || raw === 'null' || raw === 'none')) return null;
    const n = fromText ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isFinite(n) || (fromText && (raw as string).trim() === '')) bad(like === null ? 'a number or none' : 'a number');
    return n;
  }
  if (typeof like === 'boolean') {
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    return bad('true or false');
  }
  if (Array.isArray(like)) {
    const list = fromText ? (raw as string).split(',').map((v) => Number(v)) : raw;
    if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'number' && Number.isFinite(v))) bad('a comma-separated list of numbers');
    return list;
  }
  if (typeof like === 'string') {
    if (typeof raw !== 'string') bad('a string');
    return raw;
  }
  return raw;
}

/** Parses `--kebab-case value` algorithm flags against the defaults' keys and types. */
export function parseAlgorithmFlags(algo: string, flags: string[], defaults: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(defaults).filter((k) => !['envId', 'seed', 'numEnvs', 'totalSteps'].includes(k));
  const known = () => keys.map((k) => `--${kebab(k)}`).join(', ');
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i];
    if (!f.startsWith('--')) throw new RlcoreError('ERR_ARG', `unexpected argument '${f}'`);
    let name = f.slice(2), value: string | boolean | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) value = name.slice(eq + 1), (name = name.slice(0, eq));
    let key = camel(name);
    if (!keys.includes(key) && name.startsWith('no-') && typeof (defaults as Record<string, unknown>)[camel(name.slice(3))] === 'boolean') {
      key = camel(name.slice(3));
      value = false;
    }
    if (!keys.includes(key)) throw new RlcoreError('ERR_ARG', `unknown option '--${name}' for ${algo}; options: ${known()}`);
    const like = (defaults as Record<string, unknown>)[key];
    if (value === undefined) {
      const next = flags[i + 1];
      if (typeof like === 'boolean' && (next === undefined || next.startsWith('--'))) value = true;
      else if (next === undefined) throw new RlcoreError('ERR_ARG', `option '--${name}' needs a value`);
      else value = flags[++i];
    }
    out[key] = coerce(algo, key, value, like);
  }
  return out;
}

function specOf(name: string | undefined): AlgorithmSpec<CommonConfig> {
  const spec = name === undefined ? undefined : ALGORITHMS.get(name);
  if (!spec) throw new RlcoreError('ERR_ARG', `unknown algorithm '${name ?? ''}'; available: ${[...ALGORITHMS.keys()].join(', ')}`);
  return spec;
}

function checkEnv(id: string | undefined): string {
  if (!id) throw new RlcoreError('ERR_ARG', 'train: --env <id> is required (see `rlcore envs`)');
  if (!registeredEnvs().includes(id)) throw new RlcoreError('ERR_ARG', `unknown environment '${id}'; available: ${registeredEnvs().join(', ')}`);
  return id;
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Reads a run directory's config.json and checks it names a known algorithm. */
export function readRunConfig(runDir: string): { run: RunConfig; spec: AlgorithmSpec<CommonConfig> } {
  if (!existsSync(runDir)) throw new RlcoreError('ERR_IO', `run directory not found: ${runDir}`);
  const run = readJson(join(runDir, 'config.json'), 'run configuration') as RunConfig;
  if (typeof run?.algo !== 'string' || typeof run.config !== 'object' || run.config === null) {
    throw new RlcoreError('ERR_IO', `run configuration is corrupt (${join(runDir, 'config.json')}): expected { algo, config }`);
  }
  return { run, spec: specOf(run.algo) };
}

/** The full configuration of a new run: defaults < config file < common flags < algorithm flags. */
export function buildConfig(o: TrainOptions): { spec: AlgorithmSpec<CommonConfig>; config: CommonConfig } {
  const spec = specOf(o.algo);
  let fileValues: Record<string, unknown> = {};
  let envId = o.env;
  if (o.config) {
    const f = readJson(o.config, 'config file');
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new RlcoreError('ERR_ARG', `config file ${o.config} must hold a JSON object`);
    fileValues = f as Record<string, unknown>;
    if (envId === undefined && typeof fileValues.envId === 'string') envId = fileValues.envId;
  }
  const defaults = spec.defaults(checkEnv(envId)) as unknown as Record<string, unknown>;
  const config: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(fileValues)) {
    if (!(k in defaults)) throw new RlcoreError('ERR_ARG', `config file ${o.config}: unknown key '${k}' for ${spec.name}; keys: ${Object.keys(defaults).join(', ')}`);
    config[k] = k === 'envId' ? v : coerce(spec.name, k, v, defaults[k]);
  }
  config.envId = envId;
  if (o.steps !== undefined) config.totalSteps = o.steps;
  if (o.seed !== undefined) config.seed = o.seed;
  if (o.numEnvs !== undefined) config.numEnvs = o.numEnvs;
  Object.assign(config, parseAlgorithmFlags(spec.name, o.flags, defaults));
  return { spec, config: config as unknown as CommonConfig };
}

/** Runs `rlcore train` and returns the exit code (0, or 130 after Ctrl-C). */
export async function train(o: TrainOptions): Promise<number> {
  let spec: AlgorithmSpec<CommonConfig>, config: CommonConfig, runDir: string, every: number;
  let run: AlgorithmRun;
  let resumeStep: number | undefined;
  let elapsedBefore = 0;
  if (o.resume) {
    if (o.algo || o.env || o.config || o.seed !== undefined || o.numEnvs !== undefined || o.flags.length > 0) {
      throw new RlcoreError('ERR_ARG', 'train --resume takes the configuration from the run directory: only --steps, --checkpoint-every and --stop-at may be given');
    }
    runDir = resolve(o.resume);
    const r = readRunConfig(runDir);
    spec = r.spec;
    config = { ...r.run.config, ...(o.steps !== undefined ? { totalSteps: o.steps } : {}) };
    every = o.checkpointEvery ?? r.run.checkpointEvery;
    const ck = loadRunCheckpoint(runDir);
    run = spec.create(config);
    run.restore(ck.state);
    resumeStep = ck.step;
    elapsedBefore = Number((ck.cli as { elapsed?: number } | null)?.elapsed ?? 0);
    if (o.steps !== undefined) writeFileAtomic(join(runDir, 'config.json'), JSON.stringify({ ...r.run, config }, null, 2));
  } else {
    ({ spec, config } = buildConfig(o));
    run = spec.create(config); // checks the configuration before anything is written
    every = o.checkpointEvery ?? Math.max(1, Math.ceil(config.totalSteps / 10));
    runDir = resolve(o.runDir ?? join(o.runs, `${config.envId}__${spec.name}__${config.seed}__${stamp(new Date())}`));
    if (existsSync(join(runDir, 'config.json'))) {
      run.close();
      throw new RlcoreError('ERR_IO', `run directory ${runDir} already holds a run (resume it with --resume)`);
    }
    mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
    const rc: RunConfig = { algo: spec.name, config, checkpointEvery: every, createdAt: new Date().toISOString() };
    writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(rc, null, 2));
  }

  const log = new RunLog(runDir, resumeStep);
  const episodes = readEpisodes(runDir);
  const recent = episodes.returns.slice(-100);
  let episodeCount = episodes.returns.length;
  const total = config.totalSteps;
  const t0 = performance.now(), step0 = run.globalStep;
  const elapsed = () => elapsedBefore + (performance.now() - t0) / 1000;
  const meanRecent = () => (recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN);
  const checkpoint = () => saveRunCheckpoint(runDir, run.globalStep, run.checkpoint(), { elapsed: elapsed(), episodes: episodeCount });

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  const bar = o.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar({
        format: '{bar} {percentage}% | {value}/{total} steps | {sps} steps/s | return {ret} | ETA {eta_formatted}',
        stream: process.stderr,
        hideCursor: true,
      }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(total, run.globalStep, { sps: 0, ret: '-' });
  let lastFlush = performance.now();
  let nextCheckpoint = (Math.floor(run.globalStep / every) + 1) * every;
  let savedAt = -1;
  let trainSeconds = 0;
  try {
    while (run.globalStep < total && !interrupted && !(o.stopAt !== undefined && run.globalStep >= o.stopAt)) {
      const metrics = await run.iterate();
      const done = run.drainEpisodes();
      const t = elapsed(), step = run.globalStep;
      log.episodes(step, t, done.returns, done.lengths);
      episodeCount += done.returns.length;
      for (const r of done.returns) {
        recent.push(r);
        if (recent.length > 100) recent.shift();
      }
      const sps = (step - step0) / ((performance.now() - t0) / 1000);
      log.iteration({ global_step: step, time: t, sps, episodes: episodeCount, episodic_return: meanRecent(), ...metrics });
      bar?.update(Math.min(step, total), { sps: Math.round(sps), ret: recent.length ? meanRecent().toFixed(1) : '-' });
      if (step >= nextCheckpoint) {
        checkpoint();
        savedAt = step;
        nextCheckpoint = (Math.floor(step / every) + 1) * every;
      }
      if (performance.now() - lastFlush > 1000) log.flush(), (lastFlush = performance.now());
      await new Promise((r) => setImmediate(r)); // lets Ctrl-C in
    }
    if (savedAt !== run.globalStep) checkpoint();
  } finally {
    trainSeconds = (performance.now() - t0) / 1000;
    bar?.stop();
    log.close();
    process.off('SIGINT', onSigint);
    run.close();
  }
  const all = readEpisodes(runDir);
  const { learningCurveSvg } = await import('./plot.js'); // Vega loads only when a plot is drawn
  const thresholds: Record<string, number> = { 'CartPole-v1': 475, 'Acrobot-v1': -100, 'Pendulum-v1': -300 };
  writeFileSync(join(runDir, 'curve.svg'), await learningCurveSvg([{ name: `${spec.name} seed ${config.seed}`, steps: all.steps, returns: all.returns }], { title: `${config.envId} — ${spec.name}`, threshold: thresholds[config.envId] }));
  const secs = elapsedBefore + trainSeconds, sps = (run.globalStep - step0) / trainSeconds;
  const state = interrupted ? 'interrupted' : run.globalStep < total ? 'paused' : 'done';
  console.log(
    `${state}: ${config.envId} ${spec.name} seed ${config.seed}: ${run.globalStep} steps, ${secs.toFixed(1)} s, ${Math.round(sps)} steps/s, ` +
      `mean return of the last ${recent.length} episodes ${recent.length ? meanRecent().toFixed(2) : '-'}; run directory ${runDir}`,
  );
  if (state !== 'done') console.log(`resume with: rlcore train --resume ${runDir}`);
  return interrupted ? 130 : 0;
}

/** Keys of an algorithm's configuration as command-line flags, for help texts. */
export function algorithmFlagsHelp(): string {
  const lines: string[] = [];
  for (const spec of ALGORITHMS.values()) {
    const d = spec.defaults('CartPole-v1') as unknown as Record<string, unknown>;
    const keys = Object.keys(d).filter((k) => !['envId', 'seed', 'numEnvs', 'totalSteps'].includes(k));
    lines.push(`  ${spec.name}: ${spec.description}`, `    ${keys.map((k) => `--${kebab(k)}`).join(' ')}`);
  }
  return lines.join('\n');
}
