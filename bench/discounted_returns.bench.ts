import { discountedReturns } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

function tsDiscountedReturns(T: number, N: number, r: Float32Array, term: Uint8Array, last: Float32Array, ret: Float32Array, gamma: number): void {
  const acc = Float64Array.from(last);
  for (let t = T - 1; t >= 0; t--) {
    const row = t * N;
    for (let n = 0; n < N; n++) {
      const i = row + n;
      acc[n] = r[i] + gamma * (1 - term[i]) * acc[n];
      ret[i] = acc[n];
    }
  }
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [T, N] of [[128, 64], [2048, 4096], [1_000_000, 1]] as const) {
    const TN = T * N;
    const r = new Float32Array(TN).map(() => Math.random());
    const term = new Uint8Array(TN).map(() => (Math.random() < 0.01 ? 1 : 0));
    const last = new Float32Array(N);
    const out = { returns: new Float32Array(TN) };
    const bytes = TN * (4 + 1 + 4); // read r, term; write returns
    const size = `T=${T} N=${N}`;
    const native = (): unknown => discountedReturns({ shape: [T, N], rewards: r, terminated: term, lastValues: last, out, device: 'cpu' });
    const ts = (): void => tsDiscountedReturns(T, N, r, term, last, out.returns, 0.99);
    rows.push(...timeKernel('discountedReturns', size, TN, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
