import { nstepReturns } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

const STEPS = 5;

function tsNstepReturns(T: number, N: number, r: Float32Array, v: Float32Array, term: Uint8Array, last: Float32Array, ret: Float32Array, gamma: number, steps: number): void {
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let G = 0, d = 1;
      const m = Math.min(steps, T - t);
      for (let k = 0; k < m; k++) {
        const i = (t + k) * N + n;
        G += d * r[i];
        d *= gamma;
        if (term[i]) break;
        if (k === m - 1) G += d * (t + k + 1 < T ? v[i + N] : last[n]);
      }
      ret[t * N + n] = G;
    }
  }
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [T, N] of [[128, 64], [2048, 4096], [1_000_000, 1]] as const) {
    const TN = T * N;
    const r = new Float32Array(TN).map(() => Math.random());
    const v = new Float32Array(TN).map(() => Math.random());
    const term = new Uint8Array(TN).map(() => (Math.random() < 0.01 ? 1 : 0));
    const last = new Float32Array(N);
    const out = { returns: new Float32Array(TN) };
    const bytes = TN * (4 + 4 + 1 + 4); // read r, v, term; write returns
    const size = `T=${T} N=${N} n=${STEPS}`;
    const native = (): unknown => nstepReturns({ shape: [T, N], rewards: r, values: v, terminated: term, lastValues: last, n: STEPS, out, device: 'cpu' });
    const ts = (): void => tsNstepReturns(T, N, r, v, term, last, out.returns, 0.99, STEPS);
    rows.push(...timeKernel('nstepReturns', size, TN, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
