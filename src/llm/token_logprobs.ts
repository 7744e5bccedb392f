import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkNoAlias, checkNumber, checkShape, outArray, requireArray, shapeText } from '../validate.js';

/** Inputs shared by {@link tokenLogProbs} and {@link tokenLogProbsBackward}. */
export interface TokenLogProbsBase {
  /** `[M, V]`: M token positions (e.g. B·T flattened) over a vocabulary of V (up to 256k and beyond). */
  shape: [M: number, V: number];
  /** `[M, V]` logits, row-major. Finite, or −∞ for masked vocabulary entries (each row needs a finite one). */
  logits: Float32Array;
  /** `[M]` target tokens in [0, V) (ERR_RANGE otherwise). */
  targets: Int32Array;
  /** Sampling temperature τ > 0: the distribution is softmax(logits / τ). Default 1. */
  temperature?: number;
  /** Where to run; default RLCORE_DEVICE or 'auto'. On 'cuda' the arrays are copied to the GPU and the results back. */
  device?: Device;
}

/** Inputs of {@link tokenLogProbs}. */
export interface TokenLogProbsOptions extends TokenLogProbsBase {
  /** Also return the entropy of each row. Default true. */
  entropy?: boolean;
  /** Also return log Σ exp(logits / τ) of each row. Default false. */
  lse?: boolean;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<TokenLogProbsResult>;
}

/** Outputs of {@link tokenLogProbs}. */
export interface TokenLogProbsResult {
  /** `[M]` log softmax(logits / τ)[target]. */
  logProb: Float32Array;
  /** `[M]` entropy −Σ p log p of each row (when requested). */
  entropy?: Float32Array;
  /** `[M]` log-sum-exp of each row (when requested). */
  lse?: Float32Array;
}

/** Inputs of {@link tokenLogProbsBackward}. */
export interface TokenLogProbsBackwardOptions extends TokenLogProbsBase {
  /** `[M]` dL/d logProb (e.g. {@link PolicyLossResult.gradLogProb}). Omitted: 0. */
  gradLogProb?: Float32Array;
  /** `[M]` dL/d entropy (e.g. {@link PolicyLossResult.gradEntropy}). Omitted: 0. */
  gradEntropy?: Float32Array;
  /**
   * `[M]` the forward's `lse` ({@link tokenLogProbs} with `lse: true`): each row is then read once
   * instead of twice. With `gradEntropy`, give the forward's `entropy` too. Omitted: recomputed.
   */
  lse?: Float32Array;
  /** `[M]` the forward's entropy (with `lse` and `gradEntropy`). */
  entropy?: Float32Array;
  /** Caller-provided output. */
  out?: {
    /** `[M, V]` written with dL/dlogits. */
    gradLogits?: Float32Array;
  };
}

/** Output of {@link tokenLogProbsBackward}. */
export interface TokenLogProbsBackwardResult {
  /** `[M, V]` dL/dlogits. */
  gradLogits: Float32Array;
}

function base(k: string, o: TokenLogProbsBase) {
  if (o === null || typeof o !== 'object') throw new RlcoreError('ERR_ARG', `${k}: expected an options object`);
  const [M, V] = checkShape(k, 'shape', o.shape, ['M', 'V']);
  if (M * V > 2 ** 40) throw new RlcoreError('ERR_SHAPE', `${k}: [M, V] = [${M}, ${V}] has more than 2^40 elements`);
  const mv = () => shapeText(['M', 'V'], [M, V]);
  const m1 = shapeText(['M'], [M]);
  const logits = requireArray(k, 'logits', o.logits, Float32Array, M * V, mv);
  const targets = requireArray(k, 'targets', o.targets, Int32Array, M, m1);
  const temperature = checkNumber(k, 'temperature', o.temperature, 1e-6, 1e6, 1);
  return { M, V, m1, mv, logits, targets, temperature, useCuda: resolveDevice(o.device) === 'cuda' };
}

function prepareForward(o: TokenLogProbsOptions) {
  const k = 'tokenLogProbs';
  const b = base(k, o);
  const logProb = outArray(k, 'out.logProb', o.out?.logProb, Float32Array, b.M, b.m1);
  const entropy = o.entropy === false ? undefined : outArray(k, 'out.entropy', o.out?.entropy, Float32Array, b.M, b.m1);
  const lse = o.lse ? outArray(k, 'out.lse', o.out?.lse, Float32Array, b.M, b.m1) : undefined;
  for (const [name, a] of [['out.logProb', logProb], ['out.entropy', entropy], ['out.lse', lse]] as const) {
    if (a) checkNoAlias(k, name, a, { logits: b.logits, targets: b.targets });
  }
  const result: TokenLogProbsResult = { logProb };
  if (entropy) result.entropy = entropy;
  if (lse) result.lse = lse;
  return { args: [b.M, b.V, b.logits, b.targets, b.temperature, logProb, entropy, lse, b.useCuda], result };
}

/**
 * Log-probabilities of target tokens and row entropies from logits `[M, V]`, without
 * materialising the softmax: each row is streamed once in L1-sized chunks with an online
 * log-sum-exp (Milakov & Gimelshein 2018, arXiv:1805.02867). With z = logits / τ:
 *
 * ```text
 * lse_m = log Σ_v exp z_mv      logProb_m = z_{m,t_m} − lse_m      H_m = lse_m − Σ_v p_mv z_mv
 * ```
 *
 * Sums accumulate in float64; rows run in parallel. Targets are checked (ERR_RANGE) before
 * anything is written. Pair with {@link tokenLogProbsBackward} for dL/dlogits.
 *
 * @example
 * ```ts
 * const { logProb, entropy } = tokenLogProbs({ shape: [B * T, V], logits, targets, temperature: 0.7 });
 * ```
 */
export function tokenLogProbs(options: TokenLogProbsOptions): TokenLogProbsResult {
  const p = prepareForward(options);
  native().tokenLogProbs(...p.args, false);
  return p.result;
}

/** {@link tokenLogProbs} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function tokenLogProbsAsync(options: TokenLogProbsOptions): Promise<TokenLogProbsResult> {
  const p = prepareForward(options);
  await native().tokenLogProbs(...p.args, true);
  return p.result;
}

function prepareBackward(o: TokenLogProbsBackwardOptions) {
  const k = 'tokenLogProbsBackward';
  const b = base(k, o);
  const gradLogProb = checkArray(k, 'gradLogProb', o.gradLogProb, Float32Array, b.M, b.m1, true);
  const gradEntropy = checkArray(k, 'gradEntropy', o.gradEntropy, Float32Array, b.M, b.m1, true);
  const lse = checkArray(k, 'lse', o.lse, Float32Array, b.M, b.m1, true);
  const entropy = checkArray(k, 'entropy', o.entropy, Float32Array, b.M, b.m1, true);
  if (lse && gradEntropy && !entropy) throw new RlcoreError('ERR_ARG', `${k}: with lse and gradEntropy, give the forward's entropy too`);
  const gradLogits = outArray(k, 'out.gradLogits', o.out?.gradLogits, Float32Array, b.M * b.V, b.mv);
  checkNoAlias(k, 'out.gradLogits', gradLogits, { logits: b.logits, targets: b.targets, gradLogProb, gradEntropy, lse, entropy });
  return { args: [b.M, b.V, b.logits, b.targets, b.temperature, gradLogProb, gradEntropy, gradLogits, lse, entropy, b.useCuda], gradLogits };
}

/**
 * Backward pass of {@link tokenLogProbs}: dL/dlogits `[M, V]` from upstream gradients
 * g = dL/d logProb and h = dL/d entropy. Each row is streamed twice (once for its log-sum-exp,
 * once to write the gradient), or once when the forward's `lse` (and `entropy`) are passed; the
 * softmax is never stored:
 *
 * ```text
 * dL/dlogits_mv = (1/τ) [ g_m (1[v = t_m] − p_mv) − h_m p_mv (log p_mv + H_m) ]
 * ```
 *
 * @example
 * ```ts
 * const loss = policyLoss({ shape: [B, T], logProb, oldLogProb, advantages, mask });
 * const { gradLogits } = tokenLogProbsBackward({ shape: [B * T, V], logits, targets, gradLogProb: loss.gradLogProb });
 * ```
 */
export function tokenLogProbsBackward(options: TokenLogProbsBackwardOptions): TokenLogProbsBackwardResult {
  const p = prepareBackward(options);
  native().tokenLogProbsBackward(...p.args, false);
  return { gradLogits: p.gradLogits };
}

/** {@link tokenLogProbsBackward} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function tokenLogProbsBackwardAsync(options: TokenLogProbsBackwardOptions): Promise<TokenLogProbsBackwardResult> {
  const p = prepareBackward(options);
  await native().tokenLogProbsBackward(...p.args, true);
  return { gradLogits: p.gradLogits };
}
