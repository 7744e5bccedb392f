// CUDA parity of the LLM losses (cuda/policy_loss.cu, cuda/kl.cu, cuda/preference.cu): the same
// inputs through device 'cpu' and 'cuda' give the same outputs and statistics (per-token values
// to float32 rounding, float64 sums to their order), and the CUDA path is deterministic. Skipped,
// and reported as skipped, where no CUDA device is present; without a GPU the per-token functors
// are checked against the CPU kernels by scripts/cuda-host-check.sh.
import { describe, expect, it } from 'vitest';
import { policyLoss, policyLossAsync, type LossAggregation, type PolicyLossKind, type PolicyLossOptions, type PolicyLossResult } from '../../src/llm/policy_loss.js';
import { tokenKl } from '../../src/llm/kl.js';
import { cplLoss, preferenceLoss, type PreferenceLossKind } from '../../src/llm/preference.js';
import { cudaPresent, expectClose, randomF32, randomFlags, rng } from '../helpers.js';

const KINDS: PolicyLossKind[] = ['ppo', 'cispo', 'gspo', 'clipCov', 'klCov'];
const AGGS: LossAggregation[] = ['tokenMean', 'seqMeanTokenMean', 'seqMeanTokenSum', 'tokenSumNorm'];
// Edge cases (one token, one row, one long row, empty rows under the mask) and a larger batch.
const SHAPES: [number, number][] = [[1, 1], [1, 7], [7, 1], [3, 5], [5, 300], [2, 5000], [64, 129]];
const STATS = ['loss', 'policyLoss', 'klLoss', 'entropyLoss', 'clipFracLow', 'clipFracHigh', 'dualClipFrac', 'approxKl',
  'meanRatio', 'kl', 'entropy', 'tisMean', 'covSelectedFrac', 'zeroAdvantageFrac', 'tokens', 'sequences'] as const;

function policyCase(B: number, T: number, seed: number, kind: PolicyLossKind): PolicyLossOptions {
  const rand = rng(seed), n = B * T;
  const oldLogProb = randomF32(n, rand, 1.5).map((v) => v - 2);
  const logProb = oldLogProb.map((v) => v + (rand() * 2 - 1) * 0.4);
  const mask = randomFlags(n, rand, 0.8);
  mask[0] = 1;
  const advantages = randomF32(seed % 2 ? B : n, rand, 2);
  for (let i = 0; i < advantages.length; i += 7) advantages[i] = 0;
  const v = seed % 4;
  return {
    shape: [B, T], logProb, oldLogProb, advantages, loss: kind, aggregation: AGGS[seed % 4],
    mask: v & 1 ? mask : undefined,
    refLogProb: v & 2 ? logProb.map((x) => x + (rand() * 2 - 1) * 0.5) : undefined,
    rolloutLogProb: v === 1 || v === 2 ? oldLogProb.map((x) => x + (rand() * 2 - 1) * 0.8) : undefined,
    entropy: v !== 0 ? randomF32(n, rand).map((x) => x + 1.5) : undefined,
    klCoef: 0.05, entCoef: 0.01, klEstimator: (['k1', 'k2', 'k3'] as const)[seed % 3],
    clipHigh: seed % 3 === 0 ? 0.28 : 0.2, dualClip: seed % 2 ? 3 : 0, tisCap: 1.5,
    covRatio: 0.05, covBounds: [0.05, 2], klCovCoef: 0.7, seed,
  };
}

function expectPolicyClose(got: PolicyLossResult, want: PolicyLossResult, label: string): void {
  for (const s of STATS) {
    const a = got[s], b = want[s];
    if (!(Math.abs(a - b) <= 1e-6 + 1e-5 * Math.abs(b))) expect.fail(`${label} ${s}: cuda ${a}, cpu ${b}`);
  }
  expectClose(got.gradLogProb, want.gradLogProb, 1e-5, 1e-7);
  if (want.gradEntropy) expectClose(got.gradEntropy!, want.gradEntropy, 1e-6, 0);
}

describe.skipIf(!cudaPresent())('LLM losses on CUDA', () => {
  it('policyLoss matches the CPU: every kind, aggregation and optional input', () => {
    let seed = 1;
    for (const [B, T] of SHAPES) {
      for (const kind of KINDS) {
        for (let rep = 0; rep < 4; rep++, seed++) {
          const o = policyCase(B, T, seed, kind);
          const cpu = policyLoss({ ...o, device: 'cpu' }), gpu = policyLoss({ ...o, device: 'cuda' });
          expectPolicyClose(gpu, cpu, `${kind} B=${B} T=${T} seed=${seed}`);
        }
      }
    }
  });

  it('policyLoss on CUDA is deterministic, and async gives the same results', async () => {
    const o = policyCase(64, 129, 7, 'gspo');
    const a = policyLoss({ ...o, device: 'cuda' });
    const b = await policyLossAsync({ ...o, device: 'cuda' });
    for (const s of STATS) expect(b[s]).toBe(a[s]);
    expect(Array.from(b.gradLogProb)).toEqual(Array.from(a.gradLogProb));
  });

  it('tokenKl matches the CPU (k1, k2, k3; masked; beyond the clamp)', () => {
    for (const M of [1, 5, 4096, 4097, 100_000]) {
      const rand = rng(M);
      const logProb = randomF32(M, rand, 15).map((v) => v - 15), refLogProb = randomF32(M, rand, 15).map((v) => v - 15);
      const mask = randomFlags(M, rand, 0.7);
      for (const estimator of ['k1', 'k2', 'k3'] as const) {
        for (const m of [undefined, mask]) {
          const cpu = tokenKl({ logProb, refLogProb, mask: m, estimator, grad: true, device: 'cpu' });
          const gpu = tokenKl({ logProb, refLogProb, mask: m, estimator, grad: true, device: 'cuda' });
          expectClose(gpu.kl, cpu.kl, 1e-5, 1e-6);
          expectClose(gpu.grad!, cpu.grad!, 1e-5, 1e-6);
          expect(Math.abs(gpu.mean - cpu.mean)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(cpu.mean));
        }
      }
    }
  });

  it('preferenceLoss and cplLoss match the CPU', () => {
    for (const P of [1, 3, 1024, 1025, 50_000]) {
      const rand = rng(P);
      const chosen = randomF32(P, rand, 50), rejected = randomF32(P, rand, 50);
      const refChosen = randomF32(P, rand, 50), refRejected = randomF32(P, rand, 50);
      for (const kind of ['dpo', 'ipo', 'bradleyTerry'] as PreferenceLossKind[]) {
        const o = kind === 'bradleyTerry' ? { kind, chosen, rejected, margin: 0.5 } : { kind, chosen, rejected, refChosen, refRejected, beta: 0.1, labelSmoothing: 0.1 };
        const cpu = preferenceLoss({ ...o, device: 'cpu' }), gpu = preferenceLoss({ ...o, device: 'cuda' });
        for (const s of ['loss', 'accuracy', 'chosenReward', 'rejectedReward', 'margin'] as const) {
          expect(Math.abs(gpu[s] - cpu[s])).toBeLessThanOrEqual(1e-9 + 1e-9 * Math.abs(cpu[s]));
        }
        expectClose(gpu.gradChosen, cpu.gradChosen, 1e-6, 0);
        expectClose(gpu.gradRejected, cpu.gradRejected, 1e-6, 0);
      }
    }
    for (const [P, L] of [[1, 1], [3, 40], [100, 33], [2, 5000]] as [number, number][]) {
      const rand = rng(P * L);
      const chosen = randomF32(P * L, rand, 3), rejected = randomF32(P * L, rand, 3);
      const o = { shape: [P, L] as [number, number], chosen, rejected, alpha: 0.1, gamma: 0.99, lambda: 0.5 };
      const cpu = cplLoss({ ...o, device: 'cpu' }), gpu = cplLoss({ ...o, device: 'cuda' });
      for (const s of ['loss', 'accuracy', 'margin'] as const) {
        expect(Math.abs(gpu[s] - cpu[s])).toBeLessThanOrEqual(1e-9 + 1e-9 * Math.abs(cpu[s]));
      }
      expectClose(gpu.gradChosen, cpu.gradChosen, 1e-6, 0);
      expectClose(gpu.gradRejected, cpu.gradRejected, 1e-6, 0);
    }
  });
});
