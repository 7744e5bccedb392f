import { lambdaReturns } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

function tsLambdaReturns(T: number, N: number, r: Float32Array, v: Float32Array, term: Uint8Array, last: Float32Array, ret: Float32Array, gamma: number, lambda: number): void {
  const acc = new Float64Array(N);
  for (let t = T - 1; t >= 0; t--) {
    const row = t * N;
    const lam = t + 1 < T ? lambda : 0;
    for (let n = 0; n < N; n++) {
      const i = row + n;
      const nd = 1 - term[i];
      const vNext = t + 1 < T ? v[i + N] : last[n];
      acc[n] = r[i] + gamma * nd * ((1 - lam) * vNext + lam * acc[n]);
      ret[i] = acc[n];
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
    const size = `T=${T} N=${N}`;
    const native = (): unknown => lambdaReturns({ shape: [T, N], rewards: r, values: v, terminated: term, lastValues: last, out, device: 'cpu' });
    const ts = (): void => tsLambdaReturns(T, N, r, v, term, last, out.returns, 0.99, 0.95);
    rows.push(...timeKernel('lambdaReturns', size, TN, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
