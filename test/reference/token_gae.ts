// Plain-loop token-sequence GAE: the hand calculation the native kernel is checked against.
import { scanStep } from './gae.js';
export interface TokenGaeRef {
  /** Packed layout: tokens per sequence. */
  lengths?: ArrayLike<number>;
  /** Padded layout [B, L]. */
  shape?: [number, number];
  mask?: ArrayLike<number>;
  rewards?: ArrayLike<number>;
  terminalRewards?: ArrayLike<number>;
  values: ArrayLike<number>;
  gamma: number;
  lambda: number;
}

/** The buffer indices of each sequence's valid tokens, in order. */
export function sequenceTokens(o: Pick<TokenGaeRef, 'lengths' | 'shape' | 'mask'>): number[][] {
  const seqs: number[][] = [];
  if (o.lengths) {
    let s = 0;
    for (let b = 0; b < o.lengths.length; b++) {
      seqs.push(Array.from({ length: o.lengths[b] }, (_, t) => s + t));
      s += o.lengths[b];
    }
  } else {
    const [B, L] = o.shape!;
    for (let b = 0; b < B; b++) {
      const idx: number[] = [];
      for (let t = 0; t < L; t++) if (!o.mask || o.mask[b * L + t]) idx.push(b * L + t);
      seqs.push(idx);
    }
  }
  return seqs;
}

export function tokenGaeRef(o: TokenGaeRef): { advantages: number[]; returns: number[] } {
  const n = o.values.length;
  const advantages = new Array<number>(n).fill(0);
  const returns = new Array<number>(n).fill(0);
  sequenceTokens(o).forEach((idx, b) => {
    let nextValue = 0, nextAdv = 0;
    for (let k = idx.length - 1; k >= 0; k--) {
      const i = idx[k];
      let r = o.rewards ? o.rewards[i] : 0;
      if (k === idx.length - 1 && o.terminalRewards) r += o.terminalRewards[b];
      const delta = r + o.gamma * nextValue - o.values[i];
      nextAdv = scanStep(delta, o.gamma * o.lambda, nextAdv); // γλ = 0: A_{t+1} not read, as in the kernel
      nextValue = o.values[i];
      advantages[i] = nextAdv;
      returns[i] = nextAdv + o.values[i];
    }
  });
  return { advantages, returns };
}
