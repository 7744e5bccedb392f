#!/usr/bin/env node
// The `rlcore` command line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { RlcoreError } from '../errors.js';
import { backends } from '../device.js';
import { packageRoot } from '../native.js';
import { runDemo } from './demo.js';
import { CLASSIC_CONTROL } from '../envs/classic_control.js';
import { makeEnv, registeredEnvs } from '../envs/registry.js';
import type { ActionSpace } from '../envs/env.js';
import type { Box } from '../envs/spaces.js';
import { algorithmFlagsHelp, train } from './train.js';
import { evaluate } from './evaluate.js';

const program = new Command();
program.name('rlcore').description('Reinforcement-learning kernels for Node.js (C++ and CUDA).').exitOverride();

program
  .command('demo')
  .description('run the return and advantage kernels on a synthetic rollout and print what they compute')
  .option('--steps <T>', 'steps per environment', '128')
  .option('--envs <N>', 'parallel environments', '8')
  .option('--seed <seed>', 'seed of the synthetic rollout', '1')
  .action((opts: { steps: string; envs: string; seed: string }) => {
    runDemo({ T: parseCount('--steps', opts.steps), N: parseCount('--envs', opts.envs), seed: parseCount('--seed', opts.seed, 0) });
  });

program
  .command('backends')
  .description('print the available backends (CPU threads and SIMD, CUDA build and devices) as JSON')
  .action(() => console.log(JSON.stringify(backends(), null, 2)));

program
  .command('bench')
  .description('run the benchmark suite (bench/*.bench.ts; needs the repository checkout)')
  .argument('[names...]', 'only benchmarks whose file name contains one of these')
  .action((names: string[]) => {
    const root = packageRoot();
    if (!existsSync(join(root, 'bench', 'run.ts'))) {
      throw new RlcoreError('ERR_IO', `bench: ${join(root, 'bench')} not found (benchmarks run from a clone of the repository)`);
    }
    // Benchmarks run compiled (tsc), as users run the package: not through a TS loader.
    const r = spawnSync('npm', ['run', 'bench', '--', ...names], { stdio: 'inherit', cwd: root });
    process.exitCode = r.status ?? 1;
  });

program
  .command('train')
  .description('train an agent: rlcore train <algo> --env <id> [options] [algorithm options], or rlcore train --resume <run dir>')
  .argument('[algo]', 'algorithm (ppo, a2c, ...)')
  .option('--env <id>', 'environment id (see `rlcore envs`)')
  .option('--steps <n>', 'total environment steps')
  .option('--seed <n>', 'seed of everything random in the run')
  .option('--num-envs <n>', 'parallel environment copies')
  .option('--config <file.json>', 'configuration values (camelCase keys), under the flags')
  .option('--run-dir <dir>', 'run directory (default <runs>/<env>__<algo>__<seed>__<time>)')
  .option('--runs <dir>', 'parent of new run directories', 'runs')
  .option('--checkpoint-every <n>', 'checkpoint every n steps (default: a tenth of the run)')
  .option('--resume <run dir>', 'continue a run from its newest checkpoint')
  .option('--stop-at <n>', 'pause the run (checkpoint and exit) once n steps are done')
  .option('--no-progress', 'no progress bar')
  .allowUnknownOption()
  .allowExcessArguments()
  .addHelpText('after', `\nAlgorithm options (defaults depend on the environment):\n${algorithmFlagsHelp()}`)
  .action(async (algo: string | undefined, opts: Record<string, string | boolean | undefined>, cmd: Command) => {
    const num = (flag: string, v: unknown, min: number) => (v === undefined ? undefined : parseCount(flag, String(v), min));
    process.exitCode = await train({
      algo,
      env: opts.env as string | undefined,
      steps: num('--steps', opts.steps, 1),
      seed: num('--seed', opts.seed, 0),
      numEnvs: num('--num-envs', opts.numEnvs, 1),
      config: opts.config as string | undefined,
      flags: cmd.args.slice(algo === undefined ? 0 : 1),
      runDir: opts.runDir as string | undefined,
      runs: opts.runs as string,
      checkpointEvery: num('--checkpoint-every', opts.checkpointEvery, 1),
      resume: opts.resume as string | undefined,
      stopAt: num('--stop-at', opts.stopAt, 1),
      progress: opts.progress !== false,
    });
  });

program
  .command('eval')
  .description('run the newest checkpoint of a run for K episodes and print the mean and std of the return')
  .argument('<run dir>', 'a run directory written by `rlcore train`')
  .option('--episodes <K>', 'episodes to run', '10')
  .option('--seed <n>', 'seed of the evaluation episodes', '1000000')
  .option('--stochastic', 'sample actions instead of taking the greedy ones')
  .option('--render <file>', 'write one episode as an animation (.gif or .svg)')
  .option('--json', 'print the result as JSON')
  .action((runDir: string, opts: { episodes: string; seed: string; stochastic?: boolean; render?: string; json?: boolean }) => {
    const r = evaluate({
      runDir,
      episodes: parseCount('--episodes', opts.episodes),
      seed: parseCount('--seed', opts.seed, 0),
      deterministic: !opts.stochastic,
      render: opts.render,
    });
    if (opts.json) console.log(JSON.stringify(r));
    else console.log(`mean return ${r.mean.toFixed(2)} ± ${r.std.toFixed(2)} over ${r.returns.length} episodes${opts.render ? `; episode written to ${opts.render}` : ''}`);
  });

program
  .command('envs')
  .description('list the environments and their observation and action spaces')
  .option('--json', 'print as JSON')
  .action((opts: { json?: boolean }) => {
    const rows = registeredEnvs().map((id) => {
      const spec = CLASSIC_CONTROL[id];
      const obs: Box = spec ? spec.observationSpace() : makeEnv(id).observationSpace;
      const act: ActionSpace = spec ? spec.actionSpace() : makeEnv(id).actionSpace;
      const action = act.kind === 'discrete' ? `Discrete(${(act as { n: number }).n})` : act.kind === 'box' ? `Box(${fmt((act as Box).low[0])}, ${fmt((act as Box).high[0])}, [${act.shape.join(', ')}])` : `MultiDiscrete([${act.shape.join(', ')}])`;
      return { id, backend: spec ? 'native' : 'ts', observation: `Box([${obs.shape.join(', ')}])`, action, maxEpisodeSteps: spec?.maxEpisodeSteps ?? null };
    });
    if (opts.json) return console.log(JSON.stringify(rows, null, 2));
    const w = Math.max(...rows.map((r) => r.id.length));
    for (const r of rows) console.log(`${r.id.padEnd(w)}  ${r.backend.padEnd(6)}  obs ${r.observation.padEnd(9)}  action ${r.action.padEnd(22)}  ${r.maxEpisodeSteps ?? ''}`);
  });

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(3);
}

function parseCount(flag: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new RlcoreError('ERR_ARG', `${flag} must be an integer >= ${min}; received ${JSON.stringify(v)}`);
  return n;
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  if (e instanceof RlcoreError) {
    console.error(`rlcore: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
