// Off-policy training speed: SAC on Pendulum-v1 with CleanRL's settings (256-256 networks,
// batch 256, one critic update per step, two actor updates every second step), after learning
// starts. Two rows from the same run: the twin critics fused (one network per pool thread, what
// `rlcore train sac` runs) and the kernels called one by one (the reference path).
import { sac } from '../src/algos/sac.js';
import { timeIt, type BenchRow } from './harness.js';

export default function bench(): BenchRow[] {
  const steps = 100;
  const make = (fused: boolean) => {
    const run = sac.create({ ...sac.defaults('Pendulum-v1'), totalSteps: 1e9, learningStarts: 1000, stepsPerIteration: steps, seed: 1 });
    if (!fused) (run as unknown as { twin: null }).twin = null;
    while (run.globalStep < 1000) run.iterate();
    return run;
  };
  const runs = { fused: make(true), plain: make(false) };
  const seconds = { fused: Infinity, plain: Infinity };
  // Alternate the two so that load from other processes hits both alike; keep each one's best.
  for (let r = 0; r < 3; r++) {
    for (const k of ['fused', 'plain'] as const) seconds[k] = Math.min(seconds[k], timeIt(() => runs[k].iterate(), 1));
  }
  runs.fused.close();
  runs.plain.close();
  // The table's Melem/s rounds this away: print the rate in steps per second too.
  console.log(`sac training: ${(steps / seconds.fused).toFixed(1)} environment steps (= critic updates) per second fused, ${(steps / seconds.plain).toFixed(1)} one by one (${(seconds.plain / seconds.fused).toFixed(2)}x)`);
  return [
    { kernel: 'sac training steps', size: 'Pendulum-v1 256x256 B=256', impl: 'native cpu (twin critics fused)', elements: steps, bytes: 0, seconds: seconds.fused },
    { kernel: 'sac training steps', size: 'Pendulum-v1 256x256 B=256', impl: 'native cpu (one by one)', elements: steps, bytes: 0, seconds: seconds.plain },
  ];
}
