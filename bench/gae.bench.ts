import { gae } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

function tsGae(T: number, N: number, r: Float32Array, v: Float32Array, term: Uint8Array, last: Float32Array, adv: Float32Array, ret: Float32Array, gamma: number, lambda: number): void {
  const acc = new Float64Array(N);
  for (let t = T - 1; t >= 0; t--) {
    const row = t * N;
    for (let n = 0; n < N; n++) {
      const i = row + n;
      const nd = 1 - term[i];
      const vNext = t + 1 < T ? v[i + N] : last[n];
      const delta = r[i] + gamma * nd * vNext - v[i];
      acc[n] = delta + gamma * lambda * nd * acc[n];
      adv[i] = acc[n];
      ret[i] = acc[n] + v[i];
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
    const out = { advantages: new Float32Array(TN), returns: new Float32Array(TN) };
    const bytes = TN * (4 + 4 + 1 + 4 + 4); // read r, v, term; write adv, ret
    const size = `T=${T} N=${N}`;
    const native = (): unknown => gae({ shape: [T, N], rewards: r, values: v, terminated: term, lastValues: last, out, device: 'cpu' });
    const ts = (): void => tsGae(T, N, r, v, term, last, out.advantages, out.returns, 0.99, 0.95);
    rows.push(...timeKernel('gae', size, TN, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
