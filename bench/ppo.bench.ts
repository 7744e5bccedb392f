// PPO end to end on CartPole-v1: environment steps per second of whole iterations (rollout and
// update) with CleanRL's ppo.py hyperparameters (4 envs, 128 steps, 4 epochs, 4 minibatches,
// 64-64 tanh), which are rlcore's defaults, and with 8 envs; and the wall time to solve
// CartPole-v1 (mean return of the last 100 episodes >= 475) with the defaults, seed 1.
import { performance } from 'node:perf_hooks';
import { ppoDefaults, PpoRun } from '../src/algos/ppo.js';
import { timeIt, type BenchRow } from './harness.js';

function iterationRow(impl: string, numEnvs: number): BenchRow {
  const run = new PpoRun({ ...ppoDefaults('CartPole-v1'), numEnvs, seed: 1, totalSteps: 10_000_000 });
  const steps = numEnvs * run.config.numSteps;
  const seconds = timeIt(() => {
    run.iterate();
    run.drainEpisodes();
  }, 2);
  run.close();
  return { kernel: 'ppo iteration CartPole-v1', size: `N=${numEnvs} T=128 4x4 mb`, impl, elements: steps, bytes: 0, seconds };
}

function solveRow(): BenchRow {
  const run = new PpoRun({ ...ppoDefaults('CartPole-v1'), seed: 1, totalSteps: 1_000_000 });
  const recent: number[] = [];
  const t0 = performance.now();
  while (run.globalStep < 1_000_000) {
    run.iterate();
    for (const r of run.drainEpisodes().returns) {
      recent.push(r);
      if (recent.length > 100) recent.shift();
    }
    if (recent.length === 100 && recent.reduce((a, b) => a + b, 0) / 100 >= 475) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  run.close();
  return { kernel: 'ppo solve CartPole-v1 (last-100 mean >= 475)', size: `${run.globalStep} steps`, impl: 'defaults, seed 1', elements: run.globalStep, bytes: 0, seconds };
}

export default function bench(): BenchRow[] {
  const rows = [iterationRow('CleanRL settings (defaults)', 4), iterationRow('8 envs', 8), solveRow()];
  // The table's Melem/s has too few digits for these: say it in steps per second and seconds.
  for (const r of rows.slice(0, 2)) console.log(`ppo (${r.impl}, ${r.size}): ${Math.round(r.elements / r.seconds)} steps/s`);
  console.log(`ppo solves CartPole-v1 (defaults, seed 1) in ${rows[2].seconds.toFixed(2)} s, ${rows[2].elements} steps (${Math.round(rows[2].elements / rows[2].seconds)} steps/s)`);
  return rows;
}
