// Environment steps per second: the native batched CartPole-v1 against the TypeScript
// SyncVectorEnv of the same environment, N = 1, 16, 256, 4096, same run. Actions are fixed
// random bits written once, so both sides time only the stepping (autoresets included).
import { backends, make, type VectorEnv } from '../src/index.js';
import { native } from '../src/native.js';
import { timeIt, type BenchRow } from './harness.js';

function prepare(env: VectorEnv, N: number): () => void {
  env.reset({ seed: 1 });
  let s = 12345;
  for (let i = 0; i < N; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    env.actions[i] = s >>> 31;
  }
  return () => void env.step();
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const N of [1, 16, 256, 4096]) {
    const bytes = N * (4 + 4 * 4 + 4 + 1 + 1); // read actions; write observations, rewards, flags
    const size = `N=${N}`;
    const nativeEnv = make('CartPole-v1', { numEnvs: N });
    rows.push({ kernel: 'cartpole step', size, impl: 'native batch', elements: N, bytes, seconds: timeIt(prepare(nativeEnv, N)) });
    const tsEnv = make('CartPole-v1', { numEnvs: N, backend: 'ts' });
    rows.push({ kernel: 'cartpole step', size, impl: 'ts loop', elements: N, bytes, seconds: timeIt(prepare(tsEnv, N)) });
  }
  // The floor at N = 1: one bare call into the addon (setNumThreads: one number, an atomic store).
  const threads = backends().cpu.threads, setThreads = native().setNumThreads;
  rows.push({ kernel: 'cartpole step', size: 'N=1', impl: 'bare N-API call', elements: 1, bytes: 0, seconds: timeIt(() => setThreads(threads)) });
  return rows;
}
