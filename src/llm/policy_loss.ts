import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { isSeed } from '../envs/random.js';
import { native } from '../native.js';
import { checkArray, checkNumber, checkShape, outArray, requireArray, shapeText } from '../validate.js';

/** Which token-level policy objective {@link policyLoss} computes; see there for the formulas. */
export type PolicyLossKind = 'ppo' | 'cispo' | 'gspo' | 'clipCov' | 'klCov';
/** How per-token terms are reduced to one loss; see {@link policyLoss}. */
export type LossAggregation = 'tokenMean' | 'seqMeanTokenMean' | 'seqMeanTokenSum' | 'tokenSumNorm';
/** KL estimator (Schulman 2020): k1 = log π/π_ref, k2 = ½ (log π/π_ref)², k3 = π_ref/π − 1 − log(π_ref/π). */
export type KlEstimatorKind = 'k1' | 'k2' | 'k3';

/** Inputs of {@link policyLoss}. Token arrays are `[B, T]`: B responses padded to T tokens. */
export interface PolicyLossOptions {
  /** `[B, T]`. */
  shape: [B: number, T: number];
  /** `[B, T]` log π_θ of the sampled tokens (e.g. {@link tokenLogProbs}). */
  logProb: Float32Array;
  /** `[B, T]` log π_old of the same tokens, recorded before the update. */
  oldLogProb: Float32Array;
  /** `[B, T]` per-token or `[B]` per-sequence advantages (e.g. {@link groupNormalize}). */
  advantages: Float32Array;
  /** `[B, T]` nonzero = response token; padding gets zero gradient. At least one token must be set. Omitted: all tokens. */
  mask?: Uint8Array;
  /** `[B, T]` log π_ref: adds `klCoef` · agg(k) to the loss. Omitted: no KL term. */
  refLogProb?: Float32Array;
  /** `[B, T]` log-probs from the rollout engine (e.g. vLLM): enables truncated importance sampling. */
  rolloutLogProb?: Float32Array;
  /** `[B, T]` token entropies (e.g. {@link tokenLogProbs}): adds −`entCoef` · agg(H). */
  entropy?: Float32Array;
  /** Objective; default 'ppo'. */
  loss?: PolicyLossKind;
  /** Aggregation; default 'tokenMean'. */
  aggregation?: LossAggregation;
  /** ε_low in [0, 1]; default 0.2. */
  clipLow?: number;
  /** ε_high ≥ 0 (DAPO's clip-higher uses 0.28); default `clipLow`. */
  clipHigh?: number;
  /** Dual-clip constant c > 1 for negative advantages (0 = off, the default; 3 is usual). */
  dualClip?: number;
  /** Truncation C of the rollout importance weight; default 2. */
  tisCap?: number;
  /** KL coefficient β (with `refLogProb`); default 0. */
  klCoef?: number;
  /** KL estimator; default 'k3'. */
  klEstimator?: KlEstimatorKind;
  /** Entropy coefficient (with `entropy`); default 0. */
  entCoef?: number;
  /** The constant of 'tokenSumNorm' (Dr. GRPO: the maximum response length); default T. */
  normConst?: number;
  /** Fraction ρ of valid tokens Clip-Cov detaches / KL-Cov penalises; default 2e-4 (clipCov) or 2e-3 (klCov). */
  covRatio?: number;
  /** Clip-Cov's covariance window (lb, ub); default (1, 5). */
  covBounds?: [lb: number, ub: number];
  /** KL-Cov's coefficient κ; default 1. */
  klCovCoef?: number;
  /** Seed of Clip-Cov's random choice (Philox); default 0. */
  seed?: number;
  /** Caller-provided outputs. */
  out?: {
    /** `[B, T]` written with dL/d logProb. */
    gradLogProb?: Float32Array;
    /** `[B, T]` written with dL/d entropy (with `entropy`). */
    gradEntropy?: Float32Array;
  };
  /** Where to run; default RLCORE_DEVICE or 'auto'. On 'cuda' the arrays are copied to the GPU and the results back. */
  device?: Device;
}

/** Outputs of {@link policyLoss}: the loss, the statistics users log, and the gradients. */
export interface PolicyLossResult {
  /** policyLoss + klCoef · klLoss − entCoef · entropyLoss. */
  loss: number;
  /** Σ w ℓ: the aggregated surrogate. */
  policyLoss: number;
  /** Σ w k: the aggregated KL estimate (0 without `refLogProb`). */
  klLoss: number;
  /** Σ w H: the aggregated entropy (0 without `entropy`). */
  entropyLoss: number;
  /** Fraction of tokens clipped at 1 − ε_low (the clip is active: it changed the loss). */
  clipFracLow: number;
  /** Fraction of tokens clipped at 1 + ε_high. */
  clipFracHigh: number;
  /** Fraction of tokens capped by the dual clip. */
  dualClipFrac: number;
  /** Token mean of (r − 1) − log r, r the token ratio. */
  approxKl: number;
  /** Token mean of the ratio (the sequence ratio for GSPO). */
  meanRatio: number;
  /** Token mean of the KL estimate (0 without `refLogProb`). */
  kl: number;
  /** Token mean of the entropy (0 without `entropy`). */
  entropy: number;
  /** Token mean of the truncated importance weight (1 without `rolloutLogProb`). */
  tisMean: number;
  /** Fraction of tokens selected by Clip-Cov / KL-Cov. */
  covSelectedFrac: number;
  /** Fraction of non-empty sequences whose advantages are all 0 (no learning signal). */
  zeroAdvantageFrac: number;
  /** Valid tokens N. */
  tokens: number;
  /** Non-empty sequences S. */
  sequences: number;
  /** `[B, T]` dL/d logProb (0 on masked tokens). */
  gradLogProb: Float32Array;
  /** `[B, T]` dL/d entropy = −entCoef · w (when `entropy` is given). */
  gradEntropy?: Float32Array;
}

const KINDS: readonly string[] = ['ppo', 'cispo', 'gspo', 'clipCov', 'klCov'];
const AGGS: readonly string[] = ['tokenMean', 'seqMeanTokenMean', 'seqMeanTokenSum', 'tokenSumNorm'];
const KLS: readonly string[] = ['k1', 'k2', 'k3'];

function pick(k: string, name: string, v: unknown, allowed: readonly string[], fallback: string): number {
  const s = v ?? fallback;
  const i = allowed.indexOf(s as string);
  if (i < 0) throw new RlcoreError('ERR_ARG', `${k}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; received ${JSON.stringify(v)}`);
  return i;
}

function prepare(isAsync: boolean, o: PolicyLossOptions) {
  const k = 'policyLoss';
  if (o === null || typeof o !== 'object') throw new RlcoreError('ERR_ARG', `${k}: expected an options object`);
  const [B, T] = checkShape(k, 'shape', o.shape, ['B', 'T']);
  const n = B * T;
  const bt = () => shapeText(['B', 'T'], [B, T]); // built only for an error message
  const logProb = requireArray(k, 'logProb', o.logProb, Float32Array, n, bt);
  const oldLogProb = requireArray(k, 'oldLogProb', o.oldLogProb, Float32Array, n, bt);
  if (!(o.advantages instanceof Float32Array)) {
    throw new RlcoreError(o.advantages === undefined ? 'ERR_ARG' : 'ERR_DTYPE', `${k}: advantages must be a Float32Array of shape [B, T] or [B] (${bt()})`);
  }
  const advantages = o.advantages;
  if (advantages.length !== n && advantages.length !== B) {
    throw new RlcoreError('ERR_SHAPE', `${k}: advantages must have ${n} ([B, T]) or ${B} ([B]) elements (${bt()}); received ${advantages.length}`);
  }
  const mask = checkArray(k, 'mask', o.mask, Uint8Array, n, bt, true);
  const refLogProb = checkArray(k, 'refLogProb', o.refLogProb, Float32Array, n, bt, true);
  const rolloutLogProb = checkArray(k, 'rolloutLogProb', o.rolloutLogProb, Float32Array, n, bt, true);
  const entropy = checkArray(k, 'entropy', o.entropy, Float32Array, n, bt, true);
  const kind = pick(k, 'loss', o.loss, KINDS, 'ppo');
  const agg = pick(k, 'aggregation', o.aggregation, AGGS, 'tokenMean');
  const klKind = pick(k, 'klEstimator', o.klEstimator, KLS, 'k3');
  const clipLow = checkNumber(k, 'clipLow', o.clipLow, 0, 1, 0.2);
  const clipHigh = checkNumber(k, 'clipHigh', o.clipHigh, 0, 1e30, clipLow);
  const dualClip = checkNumber(k, 'dualClip', o.dualClip, 0, 1e30, 0);
  if (dualClip > 0 && dualClip <= 1) throw new RlcoreError('ERR_RANGE', `${k}: dualClip must be 0 (off) or > 1; received ${dualClip}`);
  const tisCap = checkNumber(k, 'tisCap', o.tisCap, 1e-12, 1e30, 2);
  const klCoef = checkNumber(k, 'klCoef', o.klCoef, -1e30, 1e30, 0);
  const entCoef = checkNumber(k, 'entCoef', o.entCoef, -1e30, 1e30, 0);
  const normConst = checkNumber(k, 'normConst', o.normConst, 1e-12, 1e30, T);
  const covRatio = checkNumber(k, 'covRatio', o.covRatio, 1e-12, 1, KINDS[kind] === 'klCov' ? 2e-3 : 2e-4);
  const bounds = o.covBounds ?? [1, 5];
  if (!Array.isArray(bounds) || bounds.length !== 2) throw new RlcoreError('ERR_ARG', `${k}: covBounds must be [lb, ub]`);
  const covLb = checkNumber(k, 'covBounds[0]', bounds[0], -1e30, 1e30);
  const covUb = checkNumber(k, 'covBounds[1]', bounds[1], covLb, 1e30);
  const klCovCoef = checkNumber(k, 'klCovCoef', o.klCovCoef, -1e30, 1e30, 1);
  const seed = o.seed ?? 0;
  if (!isSeed(seed)) throw new RlcoreError('ERR_RANGE', `${k}: seed must be an integer in [0, 2^53); received ${String(seed)}`);
  const gradLogProb = outArray(k, 'out.gradLogProb', o.out?.gradLogProb, Float32Array, n, bt);
  const gradEntropy = entropy ? outArray(k, 'out.gradEntropy', o.out?.gradEntropy, Float32Array, n, bt) : undefined;
  // Outputs that share memory with an input or with each other: the binding refuses them (ERR_ARG).
  const stats = isAsync ? new Float64Array(16) : SYNC_STATS;
  const useCuda = resolveDevice(o.device) === 'cuda';
  return {
    args: [B, T, logProb, oldLogProb, advantages, mask, refLogProb, rolloutLogProb, entropy, kind, agg, klKind, clipLow, clipHigh, dualClip, tisCap, klCoef, entCoef, normConst, covRatio, covLb, covUb, klCovCoef, seed, gradLogProb, gradEntropy, stats, useCuda],
    stats,
    gradLogProb,
    gradEntropy,
  };
}

const SYNC_STATS = new Float64Array(16);

function finish(p: ReturnType<typeof prepare>): PolicyLossResult {
  const s = p.stats;
  const r: PolicyLossResult = {
    loss: s[0], policyLoss: s[1], klLoss: s[2], entropyLoss: s[3], clipFracLow: s[4], clipFracHigh: s[5], dualClipFrac: s[6],
    approxKl: s[7], meanRatio: s[8], kl: s[9], entropy: s[10], tisMean: s[11], covSelectedFrac: s[12], zeroAdvantageFrac: s[13],
    tokens: s[14], sequences: s[15], gradLogProb: p.gradLogProb,
  };
  if (p.gradEntropy) r.gradEntropy = p.gradEntropy;
  return r;
}

/**
 * Token-level policy losses for language-model RL, with the loss, the statistics users log and
 * dL/d logProb in one pass. With r = exp(logProb − oldLogProb) per token and advantage A:
 *
 * ```text
 * ppo      ℓ = max(−A r, −A clip(r, 1 − ε_low, 1 + ε_high));  A < 0 and dual clip c: ℓ = min(ℓ, −A c)
 *          clip-higher: DAPO (Yu et al. 2025, arXiv:2503.14476); dual clip: Ye et al. 2020, arXiv:1912.09729
 * cispo    ℓ = −sg[clip(r, 1 − ε_low, 1 + ε_high)] · A · log π_θ          MiniMax-M1, arXiv:2506.13585
 * gspo     s_b = exp(mean_t log r_bt) per sequence; ℓ = max(−A s_b, −A clip(s_b, ·))   Zheng et al. 2025, arXiv:2507.18071
 * clipCov  ppo, with ⌊ρN⌋ random tokens whose cov = (A − Ā)(log π − mean log π) ∈ (lb, ub) detached
 * klCov    ℓ = −A r, plus κ |log r| on the ⌊ρN⌋ tokens of largest cov   (Cui et al. 2025, arXiv:2505.22617)
 * TIS      with rolloutLogProb, ℓ · min(exp(oldLogProb − rolloutLogProb), C), the weight detached
 *
 * L = Σ w ℓ + β Σ w k(logProb, refLogProb) − c_H Σ w H
 * w: tokenMean 1/N · seqMeanTokenMean 1/(S n_b) · seqMeanTokenSum 1/S · tokenSumNorm 1/C (Dr. GRPO)
 * ```
 *
 * N is the number of response tokens, S of non-empty sequences, n_b the tokens of sequence b.
 * Statistics are token means over the mask. Masked tokens get zero gradient. Chain the gradient
 * to the logits with {@link tokenLogProbsBackward}, or to your own model's log-probs directly.
 *
 * @example
 * ```ts
 * const r = policyLoss({ shape: [B, T], logProb, oldLogProb, advantages, mask, clipLow: 0.2, clipHigh: 0.28, aggregation: 'tokenMean' });
 * ```
 */
export function policyLoss(options: PolicyLossOptions): PolicyLossResult {
  const p = prepare(false, options);
  native().policyLoss(...p.args, false);
  return finish(p);
}

/** {@link policyLoss} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function policyLossAsync(options: PolicyLossOptions): Promise<PolicyLossResult> {
  const p = prepare(true, options);
  await native().policyLoss(...p.args, true);
  return finish(p);
}
