// Off-policy training speed: SAC on Pendulum-v1 with CleanRL's settings (256-256 networks,
// batch 256, one critic update per step, two actor updates every second step), after learning starts.
import { sac } from '../src/algos/sac.js';
import { timeIt, type BenchRow } from './harness.js';

export default function bench(): BenchRow[] {
  const steps = 100;
  const run = sac.create({ ...sac.defaults('Pendulum-v1'), totalSteps: 1e9, learningStarts: 1000, stepsPerIteration: steps, seed: 1 });
  while (run.globalStep < 1000) run.iterate();
  const seconds = timeIt(() => run.iterate(), 2);
  run.close();
  // The table's Melem/s rounds this away: print the rate in steps per second too.
  console.log(`sac training: ${(steps / seconds).toFixed(1)} environment steps (= critic updates) per second`);
  return [{ kernel: 'sac training steps', size: 'Pendulum-v1 256x256 B=256', impl: 'native cpu', elements: steps, bytes: 0, seconds }];
}
