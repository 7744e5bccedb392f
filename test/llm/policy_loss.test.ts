import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { policyLoss, policyLossAsync, type LossAggregation, type PolicyLossKind } from '../../src/llm/policy_loss.js';
import { native } from '../../src/native.js';
import { policyLossRef, type PolicyRefOptions } from '../reference/llm.js';
import { expectClose, randomF32, randomFlags, rng } from '../helpers.js';
import { errorCode, expectGradient } from '../dist/util.js';

const AGGS: LossAggregation[] = ['tokenMean', 'seqMeanTokenMean', 'seqMeanTokenSum', 'tokenSumNorm'];
const KINDS: PolicyLossKind[] = ['ppo', 'cispo', 'gspo', 'clipCov', 'klCov'];

function batch(B: number, T: number, seed: number, spread = 0.4, maskP = 0.8) {
  const rand = rng(seed);
  const oldLogProb = randomF32(B * T, rand, 1.5).map((v) => v - 2);
  const logProb = oldLogProb.map((v) => v + (rand() * 2 - 1) * spread);
  const mask = randomFlags(B * T, rand, maskP);
  mask[0] = 1;
  return {
    logProb,
    oldLogProb,
    advantages: randomF32(B * T, rand, 2),
    seqAdvantages: randomF32(B, rand, 2),
    mask,
    refLogProb: logProb.map((v) => v + (rand() * 2 - 1) * 0.5),
    rolloutLogProb: oldLogProb.map((v) => v + (rand() * 2 - 1) * 0.8),
    entropy: randomF32(B * T, rand).map((v) => v + 1.5),
  };
}

// The tokens KL-Cov penalises: the k of largest centred covariance (float64, like the kernel).
function klCovSelection(b: ReturnType<typeof batch>, B: number, T: number, ratio: number, adv: Float32Array) {
  const idx: number[] = [];
  for (let i = 0; i < B * T; i++) if (b.mask[i]) idx.push(i);
  const a = (i: number) => (adv.length === B * T ? adv[i] : adv[Math.floor(i / T)]);
  const ma = idx.reduce((s, i) => s + a(i), 0) / idx.length, ml = idx.reduce((s, i) => s + b.logProb[i], 0) / idx.length;
  const cov = idx.map((i) => [(a(i) - ma) * (b.logProb[i] - ml), i]).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  const sel = new Uint8Array(B * T);
  for (const [, i] of cov.slice(0, Math.max(1, Math.floor(ratio * idx.length)))) sel[i] = 1;
  return sel;
}

// Σ over response tokens of GSPO's ratio: n_b · exp(min(mean log-ratio of row b, 10)), float64.
function gspoRatioSum(lp: Float32Array, olp: Float32Array, mask: Uint8Array | undefined, B: number, T: number): number {
  let sum = 0;
  for (let b = 0; b < B; b++) {
    let s = 0, n = 0;
    for (let i = b * T; i < (b + 1) * T; i++) if (!mask || mask[i]) (s += lp[i] - olp[i]), n++;
    if (n > 0) sum += n * Math.exp(Math.min(s / n, 10));
  }
  return sum;
}

describe('policyLoss', () => {
  it('matches the float64 reference for every loss, aggregation and option', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })),
        fc.integer(),
        fc.constantFrom(...KINDS.filter((k) => k !== 'clipCov')),
        fc.constantFrom(...AGGS),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(0, 3),
        (B, T, seed, loss, aggregation, seqAdv, withRef, withTis, dualClip) => {
          const b = batch(B, T, seed);
          const advantages = seqAdv ? b.seqAdvantages : b.advantages;
          const o = {
            shape: [B, T] as [number, number], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages, mask: b.mask, entropy: b.entropy,
            refLogProb: withRef ? b.refLogProb : undefined, rolloutLogProb: withTis ? b.rolloutLogProb : undefined,
            loss, aggregation, clipLow: 0.2, clipHigh: 0.28, dualClip, klCoef: 0.05, entCoef: 0.01, covRatio: 0.05, tisCap: 1.5, normConst: 7,
          };
          const got = policyLoss(o);
          const selected = loss === 'klCov' ? klCovSelection(b, B, T, 0.05, advantages) : undefined;
          const want = policyLossRef({ ...o, B, T, selected });
          for (const key of ['loss', 'policyLoss', 'klLoss', 'entropyLoss', 'tokens', 'sequences'] as const) {
            expect(Math.abs(got[key] - want[key]), key).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want[key])));
          }
          expectClose(got.gradLogProb, want.gradLogProb, 2e-5, 1e-7);
          for (let i = 0; i < B * T; i++) {
            if (!b.mask[i]) expect(got.gradLogProb[i] === 0 && got.gradEntropy![i] === 0).toBe(true);
          }
        },
      ),
      { numRuns: 250 },
    );
  });

  it('reference gradients agree with finite differences in float64, every loss and aggregation', () => {
    for (const loss of KINDS) {
      for (const aggregation of AGGS) {
        for (let seed = 0; seed < 4; seed++) {
          const B = 3, T = 4, b = batch(B, T, 100 + seed, 0.6);
          const x = Array.from(b.logProb, Number);
          const o: PolicyRefOptions = {
            B, T, logProb: x, oldLogProb: Array.from(b.oldLogProb, Number), advantages: Array.from(seed % 2 ? b.seqAdvantages : b.advantages, Number), mask: b.mask,
            refLogProb: Array.from(b.refLogProb, Number), rolloutLogProb: Array.from(b.rolloutLogProb, Number), entropy: Array.from(b.entropy, Number),
            loss, aggregation, clipLow: 0.2, clipHigh: 0.28, dualClip: 3, klCoef: 0.1, klEstimator: (['k1', 'k2', 'k3'] as const)[seed % 3], entCoef: 0.01,
            selected: Uint8Array.from({ length: B * T }, (_, i) => (i % 5 === 1 ? 1 : 0)), detachedLogProb: Float64Array.from(x),
          };
          // Skip draws within 1e-4 of a clip kink (one-sided derivatives there).
          const kinks = [0.8, 1.28];
          const near = (r: number) => kinks.some((k) => Math.abs(r - k) < 1e-4);
          if (x.some((v, i) => near(Math.exp(v - o.oldLogProb[i])))) continue;
          expectGradient(() => policyLossRef(o).loss, x, policyLossRef(o).gradLogProb);
        }
      }
    }
  });

  it('with huge clip ranges PPO is the plain policy gradient −Σ w A r', () => {
    const B = 9, T = 17, { logProb, oldLogProb, advantages, mask } = batch(B, T, 5, 1.5), b = { logProb, oldLogProb, advantages, mask };
    for (const aggregation of AGGS) {
      const r = policyLoss({ shape: [B, T], ...b, loss: 'ppo', aggregation, clipLow: 1, clipHigh: 1e6 });
      const plain = policyLossRef({ B, T, ...b, loss: 'ppo', aggregation, clipLow: 1, clipHigh: 1e30 });
      let want = 0;
      const n = new Array(B).fill(0);
      for (let i = 0; i < B * T; i++) n[Math.floor(i / T)] += b.mask[i];
      const N = n.reduce((a, c) => a + c, 0), S = n.filter((c) => c > 0).length;
      for (let i = 0; i < B * T; i++) {
        if (!b.mask[i]) continue;
        const nb = n[Math.floor(i / T)];
        const w = aggregation === 'tokenMean' ? 1 / N : aggregation === 'seqMeanTokenMean' ? 1 / (S * nb) : aggregation === 'seqMeanTokenSum' ? 1 / S : 1 / T;
        const g = -w * b.advantages[i] * Math.exp(b.logProb[i] - b.oldLogProb[i]);
        want += g;
        expect(Math.abs(r.gradLogProb[i] - g)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(g)));
      }
      expect(r.policyLoss).toBeCloseTo(want, 5);
      expect(plain.policyLoss).toBeCloseTo(want, 9);
      expect(r.clipFracLow + r.clipFracHigh).toBe(0);
    }
  });

  it('GSPO on length-1 sequences equals token-level PPO', () => {
    const B = 300, { logProb, oldLogProb, advantages } = batch(B, 1, 9, 0.5, 1), b = { logProb, oldLogProb, advantages };
    for (const aggregation of AGGS) {
      const gspo = policyLoss({ shape: [B, 1], ...b, loss: 'gspo', aggregation, clipHigh: 0.28 });
      const ppo = policyLoss({ shape: [B, 1], ...b, loss: 'ppo', aggregation, clipHigh: 0.28 });
      expect(gspo.loss).toBeCloseTo(ppo.loss, 5);
      expectClose(gspo.gradLogProb, ppo.gradLogProb, 1e-5, 1e-8);
      expect(gspo.clipFracHigh).toBe(ppo.clipFracHigh);
    }
  });

  it('GSPO on length-1 sequences equals token-level PPO in every statistic (clips, dual clip, TIS, mask), random batches', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer(), fc.constantFrom(0, 3), fc.boolean(), fc.constantFrom(...AGGS), (B, seed, dualClip, withTis, aggregation) => {
        const b = batch(B, 1, seed, 1.5, 0.8);
        const o = { shape: [B, 1] as [number, number], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: b.advantages, mask: b.mask, clipHigh: 0.28, dualClip, aggregation, rolloutLogProb: withTis ? b.rolloutLogProb : undefined };
        const gspo = policyLoss({ ...o, loss: 'gspo' });
        const g = Float32Array.from(gspo.gradLogProb);
        const ppo = policyLoss({ ...o, loss: 'ppo' });
        expect(Math.abs(gspo.loss - ppo.loss)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ppo.loss)));
        expectClose(g, ppo.gradLogProb, 1e-5, 1e-8);
        for (const key of ['clipFracLow', 'clipFracHigh', 'dualClipFrac', 'zeroAdvantageFrac', 'tokens'] as const) expect(gspo[key], key).toBe(ppo[key]);
        expect(Math.abs(gspo.approxKl - ppo.approxKl)).toBeLessThanOrEqual(1e-6 * (1 + ppo.approxKl));
        expect(Math.abs(gspo.meanRatio - ppo.meanRatio)).toBeLessThanOrEqual(1e-6 * (1 + ppo.meanRatio));
      }),
      { numRuns: 80 },
    );
  });

  it('per-sequence advantages equal broadcast per-token ones; ratio 1 gives −agg(A), no clipping, zero KL', () => {
    const B = 20, T = 33, b = batch(B, T, 2);
    const wide = Float32Array.from({ length: B * T }, (_, i) => b.seqAdvantages[Math.floor(i / T)]);
    const x = policyLoss({ shape: [B, T], ...b, advantages: b.seqAdvantages, aggregation: 'seqMeanTokenMean' });
    const y = policyLoss({ shape: [B, T], ...b, advantages: wide, aggregation: 'seqMeanTokenMean' });
    expect(x.loss).toBe(y.loss);
    expect(Array.from(x.gradLogProb)).toEqual(Array.from(y.gradLogProb));
    const same = policyLoss({ shape: [B, T], ...b, oldLogProb: b.logProb, rolloutLogProb: b.logProb, advantages: wide, aggregation: 'seqMeanTokenMean' });
    const rows = Array.from({ length: B }, (_, r) => r).filter((r) => b.mask.subarray(r * T, (r + 1) * T).some((m) => m));
    expect(same.policyLoss).toBeCloseTo(-rows.reduce((s, r) => s + b.seqAdvantages[r], 0) / rows.length, 5);
    expect(same.approxKl).toBe(0);
    expect(same.clipFracLow + same.clipFracHigh).toBe(0);
    expect(same.meanRatio).toBe(1);
    expect(same.tisMean).toBe(1);
  });

  it('agrees with a hand computation: clip-higher, dual clip, statistics', () => {
    // r = [e^0.5, 1, e^-0.5, e^2, e^-0.5], A = [1, −2, −1, −1, 1], ε_low 0.2, ε_high 0.28, dual clip 3.
    const logProb = new Float32Array([0.5, 0, -0.5, 2, -0.5]), oldLogProb = new Float32Array(5);
    const advantages = new Float32Array([1, -2, -1, -1, 1]);
    const r = policyLoss({ shape: [1, 5], logProb, oldLogProb, advantages, clipLow: 0.2, clipHigh: 0.28, dualClip: 3 });
    // 0: max(−1.6487, −1.28) = −1.28 (high clip); 1: 2; 2: max(0.6065, 0.8) = 0.8 (low clip);
    // 3: min(e², 3) = 3 (dual clip); 4: max(−0.6065, −0.8) = −0.6065 (below 1 − ε but not clipped: A > 0).
    const r4 = Math.exp(-0.5);
    expect(r.policyLoss).toBeCloseTo((-1.28 + 2 + 0.8 + 3 - r4) / 5, 6);
    expectClose(r.gradLogProb, [0, 2 / 5, 0, 0, -r4 / 5], 1e-6, 0);
    expect(r.clipFracHigh).toBeCloseTo(0.2, 12);
    expect(r.clipFracLow).toBeCloseTo(0.2, 12);
    expect(r.dualClipFrac).toBeCloseTo(0.2, 12);
    expect(r.zeroAdvantageFrac).toBe(0);
  });

  it('CISPO keeps the gradient of clipped tokens, scaled by the clipped weight', () => {
    const logProb = new Float32Array([0.5, -0.5, 0.1]), oldLogProb = new Float32Array(3), advantages = new Float32Array([1, 1, -1]);
    const r = policyLoss({ shape: [1, 3], logProb, oldLogProb, advantages, loss: 'cispo', clipLow: 0.2, clipHigh: 0.28 });
    expectClose(r.gradLogProb, [-1.28 / 3, -0.8 / 3, Math.exp(0.1) / 3], 1e-6, 1e-7);
    expect(r.clipFracHigh).toBeCloseTo(1 / 3, 12);
    expect(r.clipFracLow).toBeCloseTo(1 / 3, 12);
  });

  it('Clip-Cov detaches k random in-window tokens (seeded), the rest is PPO', () => {
    const B = 40, T = 50, b = batch(B, T, 8, 0.3, 0.9);
    const adv = b.advantages.map((v) => v * 4);
    const opts = { shape: [B, T] as [number, number], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: adv, mask: b.mask, covRatio: 0.01, covBounds: [0.5, 5] as [number, number] };
    const cc = policyLoss({ ...opts, loss: 'clipCov', seed: 3 });
    const ppo = policyLoss({ ...opts, loss: 'ppo' });
    const N = cc.tokens, k = Math.floor(0.01 * N);
    expect(cc.covSelectedFrac * N).toBeCloseTo(k, 9);
    let detached = 0;
    const sel = new Uint8Array(B * T);
    for (let i = 0; i < B * T; i++) {
      if (cc.gradLogProb[i] !== ppo.gradLogProb[i]) {
        expect(cc.gradLogProb[i]).toBe(0);
        sel[i] = 1;
        detached++;
      }
    }
    expect(detached).toBe(k);
    const want = policyLossRef({ B, T, ...opts, loss: 'clipCov', selected: sel });
    expect(cc.loss).toBeCloseTo(want.loss, 5);
    const again = policyLoss({ ...opts, loss: 'clipCov', seed: 3 });
    expect(Array.from(again.gradLogProb)).toEqual(Array.from(cc.gradLogProb));
    const other = policyLoss({ ...opts, loss: 'clipCov', seed: 4 });
    expect(Array.from(other.gradLogProb)).not.toEqual(Array.from(cc.gradLogProb));
  });

  it('Clip-Cov over several row blocks (parallel candidate lists): only in-window unclipped tokens, k of them, thread-count independent', () => {
    for (const [B, T, seqAdv, seed] of [[80, 600, false, 5], [70, 1000, true, 6], [40, 17000, false, 7]] as const) {
      const b = batch(B, T, seed, 0.3, 0.9);
      const adv = seqAdv ? b.seqAdvantages.map((v) => v * 4) : b.advantages.map((v) => v * 4);
      const a = (i: number) => (seqAdv ? adv[Math.floor(i / T)] : adv[i]);
      const opts = { shape: [B, T] as [number, number], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: adv, mask: b.mask, covRatio: 0.002, covBounds: [0.5, 5] as [number, number], clipHigh: 0.28 };
      const cc = policyLoss({ ...opts, loss: 'clipCov', seed: 9 });
      const ppo = policyLoss({ ...opts, loss: 'ppo' });
      let n = 0, ma = 0, ml = 0;
      for (let i = 0; i < B * T; i++) if (b.mask[i]) n++, (ma += a(i)), (ml += b.logProb[i]);
      ma /= n, ml /= n;
      let detached = 0;
      for (let i = 0; i < B * T; i++) {
        if (cc.gradLogProb[i] === ppo.gradLogProb[i]) continue;
        detached++;
        expect(cc.gradLogProb[i]).toBe(0);
        const c = (a(i) - ma) * (b.logProb[i] - ml), r = Math.exp(b.logProb[i] - b.oldLogProb[i]);
        expect(b.mask[i]).toBe(1);
        expect(c > 0.5 - 1e-9 && c < 5 + 1e-9).toBe(true);
        expect(-a(i) * Math.min(Math.max(r, 0.8), 1.28) <= -a(i) * r + 1e-6).toBe(true);
      }
      expect(detached).toBe(Math.floor(0.002 * n));
      native().setNumThreads(1);
      const one = policyLoss({ ...opts, loss: 'clipCov', seed: 9 });
      native().setNumThreads(2);
      expect(one.loss).toBe(cc.loss);
      expect(Array.from(one.gradLogProb).every((v, i) => v === cc.gradLogProb[i])).toBe(true);
    }
  });

  it('multi-chunk rows (T > 512, ragged), with and without a mask: loss, gradient and statistics match float64', () => {
    for (const [B, T, seed] of [[3, 700, 1], [2, 1100, 2], [5, 513, 3]]) {
      const b = batch(B, T, seed, 0.6);
      for (const mask of [b.mask, undefined]) {
        for (const loss of ['ppo', 'cispo', 'gspo'] as const) {
          const o = { shape: [B, T] as [number, number], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: b.advantages, mask, loss, clipHigh: 0.28, dualClip: 3, refLogProb: b.refLogProb, klCoef: 0.05, rolloutLogProb: b.rolloutLogProb };
          const got = policyLoss(o);
          const want = policyLossRef({ ...o, B, T });
          expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want.loss)));
          expectClose(got.gradLogProb, want.gradLogProb, 2e-5, 1e-7);
          // Token statistics in float64: approxKl = mean((r − 1) − log r), meanRatio, clip fractions.
          let n = 0, ak = 0, ratio = 0, low = 0, high = 0;
          for (let i = 0; i < B * T; i++) {
            if (mask && !mask[i]) continue;
            const lr = b.logProb[i] - b.oldLogProb[i], r = Math.exp(lr), a = b.advantages[i];
            n++, (ak += Math.expm1(lr) - lr), (ratio += r);
            if (loss === 'ppo') {
              const l1 = -a * r, l2 = -a * Math.min(Math.max(r, 0.8), 1.28);
              if (l2 > l1 && r < 0.8) low++;
              if (l2 > l1 && r > 1.28) high++;
            }
          }
          expect(Math.abs(got.approxKl - ak / n)).toBeLessThanOrEqual(1e-6 * (1 + ak / n));
          if (loss !== 'gspo') expect(Math.abs(got.meanRatio - ratio / n)).toBeLessThanOrEqual(1e-6);
          else expect(Math.abs(got.meanRatio - gspoRatioSum(b.logProb, b.oldLogProb, mask, B, T) / n)).toBeLessThanOrEqual(1e-6);
          if (loss === 'ppo') {
            expect(got.clipFracLow * n).toBeCloseTo(low, 6);
            expect(got.clipFracHigh * n).toBeCloseTo(high, 6);
          }
        }
      }
    }
  });

  it('token statistics stay exact for log-ratios far below exp\'s range (−120 .. 0), random shapes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 1200 }), fc.integer(), fc.constantFrom<PolicyLossKind>('ppo', 'cispo', 'gspo', 'klCov'), fc.boolean(), (B, T, seed, loss, masked) => {
        const b = batch(B, T, seed);
        const rand = rng(seed ^ 0x5eed);
        // Half the tokens far off-policy (r = e^lr underflows; k3 = e^lr − 1 − lr stays finite).
        const logProb = b.oldLogProb.map((v) => (rand() < 0.5 ? v - rand() * 120 : v + (rand() * 2 - 1) * 0.3));
        const mask = masked ? b.mask : undefined;
        const o = { shape: [B, T] as [number, number], logProb, oldLogProb: b.oldLogProb, advantages: b.advantages, mask, loss, clipHigh: 0.28 };
        const got = policyLoss(o);
        let n = 0, ak = 0, ratio = 0;
        for (let i = 0; i < B * T; i++) {
          if (mask && !mask[i]) continue;
          const lr = logProb[i] - b.oldLogProb[i];
          n++, (ak += Math.expm1(lr) - lr), (ratio += Math.exp(lr));
        }
        if (loss === 'gspo') ratio = gspoRatioSum(logProb, b.oldLogProb, mask, B, T);
        expect(Math.abs(got.approxKl - ak / n)).toBeLessThanOrEqual(1e-6 * (1 + ak / n));
        expect(Math.abs(got.meanRatio - ratio / n)).toBeLessThanOrEqual(1e-6 * (1 + ratio / n));
        if (loss !== 'klCov') {
          const want = policyLossRef({ ...o, B, T });
          expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want.loss)));
          expectClose(got.gradLogProb, want.gradLogProb, 2e-5, 1e-7);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('accepts a mask whose only response token is the last of many (the native check scans past its first block)', () => {
    const B = 3, T = 5000, b = batch(B, T, 9);
    const mask = new Uint8Array(B * T);
    mask[B * T - 1] = 1;
    for (const loss of ['ppo', 'gspo'] as const) {
      const got = policyLoss({ shape: [B, T], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: b.advantages, mask, loss });
      expect(got.tokens).toBe(1);
      expect(got.sequences).toBe(1);
      const want = policyLossRef({ B, T, logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: b.advantages, mask, loss });
      expectClose(got.gradLogProb, want.gradLogProb, 2e-5, 1e-7);
    }
    expect(errorCode(() => policyLoss({ shape: [B, T], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: b.advantages, mask: new Uint8Array(B * T) }))).toBe('ERR_SHAPE');
  });

  it('is deterministic across thread counts and async equals sync at 1M tokens', async () => {
    const B = 1024, T = 1024, b = batch(B, T, 4);
    const o = { shape: [B, T] as [number, number], ...b, loss: 'gspo' as const, aggregation: 'seqMeanTokenMean' as const, refLogProb: b.refLogProb, klCoef: 0.1 };
    const s = policyLoss(o);
    const grad = Float32Array.from(s.gradLogProb);
    const loss = s.loss;
    native().setNumThreads(1);
    const one = policyLoss(o);
    native().setNumThreads(2);
    expect(one.loss).toBe(loss);
    expect(Array.from(one.gradLogProb).every((v, i) => v === grad[i])).toBe(true);
    const a = await policyLossAsync(o);
    expect(a.loss).toBe(loss);
  });

  it('gspo and cispo at >= 1M tokens without a KL term, ragged rows, TIS, [B] advantages: float64 reference, any thread count', () => {
    // AVX-512 chunk kernels where the build has them, and out of cache GSPO's gradient rows are
    // streamed; T = 1031 leaves rows at every 16-byte offset and a masked tail per chunk.
    for (const [B, T, seed] of [[1024, 1024, 11], [1024, 1031, 12]]) {
      const b = batch(B, T, seed, 0.6);
      for (const [loss, mask, tis, seqAdv] of [['gspo', b.mask, false, false], ['gspo', undefined, true, true], ['cispo', b.mask, true, false], ['cispo', undefined, false, true]] as const) {
        const o = { shape: [B, T] as [number, number], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: seqAdv ? b.seqAdvantages : b.advantages, mask, loss, clipHigh: 0.28, dualClip: 3, rolloutLogProb: tis ? b.rolloutLogProb : undefined, aggregation: 'seqMeanTokenMean' as const };
        const got = policyLoss(o);
        const want = policyLossRef({ ...o, B, T });
        expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want.loss)));
        expectClose(got.gradLogProb, want.gradLogProb, 2e-5, 1e-9);
        let n = 0, ak = 0;
        for (let i = 0; i < B * T; i++) {
          if (mask && !mask[i]) continue;
          const lr = b.logProb[i] - b.oldLogProb[i];
          n++, (ak += Math.expm1(lr) - lr);
        }
        expect(got.tokens).toBe(n);
        expect(Math.abs(got.approxKl - ak / n)).toBeLessThanOrEqual(1e-6 * (1 + ak / n));
        const grad = Float32Array.from(got.gradLogProb);
        native().setNumThreads(1);
        const one = policyLoss(o);
        native().setNumThreads(2);
        expect(one.loss).toBe(got.loss);
        expect(one.approxKl).toBe(got.approxKl);
        expect(one.clipFracLow).toBe(got.clipFracLow);
        expect(Array.from(one.gradLogProb).every((v, i) => v === grad[i])).toBe(true);
      }
    }
  });

  it('rejects bad input with typed errors', () => {
    const B = 2, T = 3, b = batch(B, T, 1);
    const ok = { shape: [B, T] as [number, number], logProb: b.logProb, oldLogProb: b.oldLogProb, advantages: b.advantages };
    expect(errorCode(() => policyLoss(ok))).toBe('no error');
    expect(errorCode(() => policyLoss({ ...ok, oldLogProb: new Float32Array(5) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => policyLoss({ ...ok, advantages: new Float32Array(4) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => policyLoss({ ...ok, shape: [0, 3] }))).toBe('ERR_SHAPE');
    expect(errorCode(() => policyLoss({ ...ok, mask: new Uint8Array(6) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => policyLoss({ ...ok, clipLow: -0.1 }))).toBe('ERR_RANGE');
    expect(errorCode(() => policyLoss({ ...ok, clipHigh: -1 }))).toBe('ERR_RANGE');
    expect(errorCode(() => policyLoss({ ...ok, dualClip: 0.5 }))).toBe('ERR_RANGE');
    expect(errorCode(() => policyLoss({ ...ok, clipLow: NaN }))).toBe('ERR_RANGE');
    expect(errorCode(() => policyLoss({ ...ok, loss: 'grpo' as PolicyLossKind }))).toBe('ERR_ARG');
    expect(errorCode(() => policyLoss({ ...ok, aggregation: 'mean' as LossAggregation }))).toBe('ERR_ARG');
    expect(errorCode(() => policyLoss({ ...ok, logProb: new Float64Array(6) as unknown as Float32Array }))).toBe('ERR_DTYPE');
    expect(errorCode(() => policyLoss({ ...ok, out: { gradLogProb: b.logProb } }))).toBe('ERR_ARG');
    expect(errorCode(() => policyLoss({ ...ok, covBounds: [5, 1] }))).toBe('ERR_RANGE');
    // The native guards too: an all-zero mask is refused before anything is written.
    const g = new Float32Array(6).fill(7);
    const call = (mask: Uint8Array, clipLow: number) =>
      native().policyLoss(B, T, b.logProb, b.oldLogProb, b.advantages, mask, undefined, undefined, undefined, 0, 0, 2, clipLow, 0.2, 0, 2, 0, 0, 3, 1e-3, 1, 5, 1, 0, g, undefined, new Float64Array(16), false, false);
    expect(errorCode(() => call(new Uint8Array(6), 0.2))).toBe('ERR_SHAPE');
    expect(errorCode(() => call(new Uint8Array(6).fill(1), -1))).toBe('ERR_RANGE');
    expect(Array.from(g)).toEqual([7, 7, 7, 7, 7, 7]);
  });
});
