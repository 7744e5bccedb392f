import { groupNormalize } from '../src/index.js';
import { timeIt, type BenchRow } from './harness.js';

// Plain TS loop for 'grpo' with group ids: per-group sums, squared deviations, then the write.
function tsGroupNormalize(r: Float32Array, ids: Int32Array, numGroups: number, adv: Float32Array, eps: number): void {
  const sum = new Float64Array(numGroups), cnt = new Float64Array(numGroups), ss = new Float64Array(numGroups);
  for (let i = 0; i < r.length; i++) sum[ids[i]] += r[i], cnt[ids[i]]++;
  for (let g = 0; g < numGroups; g++) sum[g] = cnt[g] ? sum[g] / cnt[g] : 0;
  for (let i = 0; i < r.length; i++) ss[ids[i]] += (r[i] - sum[ids[i]]) ** 2;
  for (let g = 0; g < numGroups; g++) ss[g] = 1 / ((cnt[g] > 1 ? Math.sqrt(ss[g] / (cnt[g] - 1)) : 0) + eps);
  for (let i = 0; i < r.length; i++) adv[i] = (r[i] - sum[ids[i]]) * ss[ids[i]];
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  const G = 8;
  for (const [B, scattered] of [[8192, false], [8 << 20, false], [8 << 20, true]] as const) {
    const numGroups = B / G;
    const r = new Float32Array(B).map(() => (Math.random() < 0.5 ? 1 : 0));
    const ids = scattered ? Int32Array.from({ length: B }, () => Math.floor(Math.random() * numGroups)) : Int32Array.from({ length: B }, (_, i) => Math.floor(i / G));
    const out = { advantages: new Float32Array(B), zeroGroups: new Uint8Array(numGroups) };
    const bytes = B * 8 + (scattered ? B * 4 : 0) + numGroups; // read r (and ids), write adv, zero flags
    const size = `B=${B} G=${G}${scattered ? ' ids' : ''}`;
    const native = timeIt(() =>
      scattered ? groupNormalize({ rewards: r, groupIds: ids, numGroups, out, device: 'cpu' }) : groupNormalize({ rewards: r, groupSize: G, out, device: 'cpu' }),
    );
    rows.push({ kernel: 'groupNormalize', size, impl: 'native cpu', elements: B, bytes, seconds: native });
    const ts = timeIt(() => tsGroupNormalize(r, ids, numGroups, out.advantages, 1e-6));
    rows.push({ kernel: 'groupNormalize', size, impl: 'ts loop', elements: B, bytes, seconds: ts });
  }
  return rows;
}
