// `rlcore demo`: the kernels on a synthetic rollout, with a check against a plain loop.
import { performance } from 'node:perf_hooks';
import { backends } from '../device.js';
import { gae } from '../kernels/gae.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Steps per environment. */
  T: number;
  /** Parallel environments. */
  N: number;
  /** Seed of the synthetic rollout. */
  seed: number;
}

function lcg(seed: number): () => number {
  let s = (seed * 2654435761 + 1) >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

/** Runs GAE on a synthetic CartPole-like rollout (reward 1 per step, episodes ending at random) and prints a summary. */
export function runDemo({ T, N, seed }: DemoOptions): void {
  const b = backends();
  console.log(`rlcore ${b.addon.kind} addon, ${b.cpu.threads} CPU threads, SIMD ${b.cpu.simdWidthBits}-bit, CUDA: ${b.cuda.status}`);
  const rand = lcg(seed);
  const rewards = new Float32Array(T * N).fill(1);
  const values = new Float32Array(T * N).map(() => 20 + 5 * rand());
  const terminated = new Uint8Array(T * N).map(() => (rand() < 0.02 ? 1 : 0));
  const truncated = new Uint8Array(T * N).map((_, i) => (!terminated[i] && rand() < 0.005 ? 1 : 0));
  const finalValues = new Float32Array(T * N).map(() => 20 + 5 * rand());
  const lastValues = new Float32Array(N).map(() => 20 + 5 * rand());
  const t0 = performance.now();
  const { advantages, returns } = gae({ shape: [T, N], rewards, values, terminated, truncated, finalValues, lastValues, gamma: 0.99, lambda: 0.95, device: 'cpu' });
  const ms = performance.now() - t0;
  let mean = 0;
  for (const a of advantages) mean += a;
  mean /= advantages.length;
  let maxErr = 0;
  // Plain-loop check of the same recurrence.
  for (let n = 0; n < N; n++) {
    let next = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + n;
      const vNext = truncated[i] ? finalValues[i] : t + 1 < T ? values[i + N] : lastValues[n];
      const delta = rewards[i] + 0.99 * (terminated[i] ? 0 : vNext) - values[i];
      next = delta + 0.99 * 0.95 * (terminated[i] || truncated[i] ? 0 : next);
      maxErr = Math.max(maxErr, Math.abs(next - advantages[i]));
    }
  }
  console.log(`gae over [T, N] = [${T}, ${N}]: ${ms.toFixed(3)} ms, mean advantage ${mean.toFixed(4)}, max |difference| from a plain loop ${maxErr.toExponential(2)}`);
  console.log(`first env, first 5 steps: advantages ${Array.from(advantages.filter((_, i) => i % N === 0).slice(0, 5), (x) => x.toFixed(3)).join(' ')}`);
  console.log(`                          returns    ${Array.from(returns.filter((_, i) => i % N === 0).slice(0, 5), (x) => x.toFixed(3)).join(' ')}`);
}
