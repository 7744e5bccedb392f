import { tokenGae } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

// Plain TS loop over a packed batch: the baseline.
function tsTokenGae(lengths: Int32Array, r: Float32Array, term: Float32Array, v: Float32Array, adv: Float32Array, ret: Float32Array, gamma: number, lambda: number): void {
  let end = 0;
  for (let b = 0; b < lengths.length; b++) {
    const start = end;
    end += lengths[b];
    let nextValue = 0, acc = 0;
    for (let i = end - 1; i >= start; i--) {
      const delta = r[i] + (i === end - 1 ? term[b] : 0) + gamma * nextValue - v[i];
      acc = delta + gamma * lambda * acc;
      nextValue = v[i];
      adv[i] = acc;
      ret[i] = acc + v[i];
    }
  }
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [B, T] of [[64, 128], [1, 1_000_000], [4096, 2048]] as const) {
    const n = B * T;
    const lengths = new Int32Array(B).fill(T);
    const r = new Float32Array(n).map(() => Math.random() * 0.01);
    const v = new Float32Array(n).map(() => Math.random());
    const term = new Float32Array(B).map(() => Math.random());
    const out = { advantages: new Float32Array(n), returns: new Float32Array(n) };
    const bytes = n * 16 + B * 8; // read r, v; write adv, ret; read lengths, terminal rewards
    const size = `B=${B} T=${T}`;
    const native = (): unknown => tokenGae({ lengths, rewards: r, terminalRewards: term, values: v, gamma: 1, lambda: 0.95, out, device: 'cpu' });
    const ts = (): void => tsTokenGae(lengths, r, term, v, out.advantages, out.returns, 1, 0.95);
    rows.push(...timeKernel('tokenGae', size, n, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
