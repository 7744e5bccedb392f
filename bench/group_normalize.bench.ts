import { groupNormalize } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

// Plain TS loop for 'grpo' with group ids: per-group sums, squared deviations, then the write.
function tsGroupNormalize(r: Float32Array, ids: Int32Array, numGroups: number, adv: Float32Array, eps: number): void {
  const sum = new Float64Array(numGroups), cnt = new Float64Array(numGroups), ss = new Float64Array(numGroups);
  for (let i = 0; i < r.length; i++) sum[ids[i]] += r[i], cnt[ids[i]]++;
  for (let g = 0; g < numGroups; g++) sum[g] = cnt[g] ? sum[g] / cnt[g] : 0;
  for (let i = 0; i < r.length; i++) ss[ids[i]] += (r[i] - sum[ids[i]]) ** 2;
  for (let g = 0; g < numGroups; g++) ss[g] = 1 / ((cnt[g] > 1 ? Math.sqrt(ss[g] / (cnt[g] - 1)) : 0) + eps);
  for (let i = 0; i < r.length; i++) adv[i] = (r[i] - sum[ids[i]]) * ss[ids[i]];
}

/** Non-decreasing ids: groups of random sizes 1..15 (mean 8) in order, the last one cut at B. */
function sortedIds(B: number): { ids: Int32Array; numGroups: number } {
  const ids = new Int32Array(B);
  let g = 0;
  for (let i = 0; i < B; g++) {
    const end = Math.min(B, i + 1 + Math.floor(Math.random() * 15));
    ids.fill(g, i, end);
    i = end;
  }
  return { ids, numGroups: g };
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  const G = 8;
  for (const [B, idKind] of [[8192, ''], [8 << 20, ''], [8 << 20, 'i/G'], [8 << 20, 'shuffled'], [8 << 20, 'sorted']] as const) {
    const r = new Float32Array(B).map(() => (Math.random() < 0.5 ? 1 : 0));
    let numGroups = B / G, ids: Int32Array;
    if (idKind === 'sorted') ({ ids, numGroups } = sortedIds(B));
    else if (idKind === 'shuffled') ids = Int32Array.from({ length: B }, () => Math.floor(Math.random() * numGroups));
    else ids = Int32Array.from({ length: B }, (_, i) => Math.floor(i / G)); // also the ids of 'i/G': groupSize G given as ids
    const out = { advantages: new Float32Array(B), zeroGroups: new Uint8Array(numGroups) };
    const bytes = B * 8 + (idKind ? B * 4 : 0) + numGroups; // read r (and ids), write adv, zero flags
    const size = idKind === 'sorted' ? `B=${B} G~${G} ids sorted` : `B=${B} G=${G}${idKind ? ' ids ' + idKind : ''}`;
    const native = (): unknown => idKind ? groupNormalize({ rewards: r, groupIds: ids, numGroups, out, device: 'cpu' }) : groupNormalize({ rewards: r, groupSize: G, out, device: 'cpu' });
    const ts = (): void => tsGroupNormalize(r, ids, numGroups, out.advantages, 1e-6);
    rows.push(...timeKernel('groupNormalize', size, B, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
