// Plain-loop group-relative advantages: the hand calculation the native kernel is checked against.
import { meanStd } from './normalize.js';

export interface GroupNormalizeRef {
  rewards: ArrayLike<number>;
  /** Group of each response. */
  groupIds: ArrayLike<number>;
  numGroups: number;
  mode: 'grpo' | 'mean' | 'batchStd' | 'rloo';
  eps: number;
  unbiased: boolean;
}

export function groupNormalizeRef(o: GroupNormalizeRef) {
  const B = o.rewards.length;
  const members: number[][] = Array.from({ length: o.numGroups }, () => []);
  for (let i = 0; i < B; i++) members[o.groupIds[i]].push(i);
  const stats = members.map((m) => meanStd(m.map((i) => o.rewards[i]), o.unbiased));
  const batch = meanStd(Array.from(o.rewards), o.unbiased);
  const sums = members.map((m) => m.reduce((s, i) => s + o.rewards[i], 0));
  const advantages = new Array<number>(B).fill(0);
  for (let i = 0; i < B; i++) {
    const g = o.groupIds[i], { mean, std } = stats[g], r = o.rewards[i];
    if (o.mode === 'grpo') advantages[i] = (r - mean) / (std + o.eps);
    else if (o.mode === 'mean') advantages[i] = r - mean;
    else if (o.mode === 'batchStd') advantages[i] = (r - mean) / (batch.std + o.eps);
    else {
      const others = members[g].length - 1; // mean of the other members of the group
      advantages[i] = others === 0 ? 0 : r - (sums[g] - r) / others;
    }
  }
  const zeroGroups = members.map((m) => (m.length > 0 && m.every((i) => o.rewards[i] === o.rewards[m[0]]) ? 1 : 0));
  const nonEmpty = members.filter((m) => m.length > 0).length;
  const zeroStdGroups = zeroGroups.reduce((s: number, z) => s + z, 0);
  return {
    advantages,
    zeroGroups,
    zeroStdGroups,
    zeroStdFraction: zeroStdGroups / nonEmpty,
    groupMean: stats.map((s) => s.mean),
    groupStd: stats.map((s) => s.std),
  };
}
