#!/usr/bin/env node
// The `rlcore` command line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { RlcoreError } from '../errors.js';
import { backends } from '../device.js';
import { runDemo } from './demo.js';

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
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const runner = join(root, 'bench', 'run.ts');
    if (!existsSync(runner)) throw new RlcoreError('ERR_IO', `bench: ${runner} not found (benchmarks run from a clone of the repository)`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', runner, ...names], { stdio: 'inherit', cwd: root });
    process.exitCode = r.status ?? 1;
  });

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
