import { vtrace } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

function tsVtrace(T: number, N: number, r: Float32Array, v: Float32Array, term: Uint8Array, logRhos: Float32Array, last: Float32Array, vs: Float32Array, pg: Float32Array, gamma: number): void {
  const acc = new Float64Array(N);
  for (let t = T - 1; t >= 0; t--) {
    const row = t * N;
    for (let n = 0; n < N; n++) {
      const i = row + n;
      const nd = 1 - term[i];
      const ratio = Math.exp(logRhos[i]);
      const rho = Math.min(1, ratio);
      const vNext = t + 1 < T ? v[i + N] : last[n];
      acc[n] = rho * (r[i] + gamma * nd * vNext - v[i]) + gamma * nd * rho * acc[n];
      vs[i] = acc[n] + v[i];
      const vsNext = t + 1 < T ? vs[i + N] : last[n];
      pg[i] = rho * (r[i] + gamma * nd * vsNext - v[i]);
    }
  }
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [T, N] of [[128, 64], [2048, 4096], [1_000_000, 1]] as const) {
    const TN = T * N;
    const r = new Float32Array(TN).map(() => Math.random());
    const v = new Float32Array(TN).map(() => Math.random());
    const logRhos = new Float32Array(TN).map(() => Math.random() - 0.5);
    const term = new Uint8Array(TN).map(() => (Math.random() < 0.01 ? 1 : 0));
    const last = new Float32Array(N);
    const out = { vs: new Float32Array(TN), pgAdvantages: new Float32Array(TN) };
    const bytes = TN * (4 + 4 + 1 + 4 + 4 + 4); // read r, v, term, logRhos; write vs, pgAdvantages
    const size = `T=${T} N=${N}`;
    const native = (): unknown => vtrace({ shape: [T, N], rewards: r, values: v, terminated: term, logRhos, lastValues: last, out, device: 'cpu' });
    const ts = (): void => tsVtrace(T, N, r, v, term, logRhos, last, out.vs, out.pgAdvantages, 0.99);
    rows.push(...timeKernel('vtrace', size, TN, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
