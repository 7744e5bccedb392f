import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkSize, outArray, requireArray, shapeText } from '../validate.js';
import type { KlEstimatorKind } from './policy_loss.js';

/** Inputs of {@link tokenKl}. */
export interface TokenKlOptions {
  /** `[M]` log π_θ of the sampled tokens. */
  logProb: Float32Array;
  /** `[M]` log π_ref of the same tokens. */
  refLogProb: Float32Array;
  /** `[M]` nonzero = counted; masked tokens get 0. Omitted: all. */
  mask?: Uint8Array;
  /** Estimator; default 'k3'. */
  estimator?: KlEstimatorKind;
  /** Also return dk/d logProb. Default false. */
  grad?: boolean;
  /** Caller-provided outputs. */
  out?: {
    /** `[M]` written with the estimates. */
    kl?: Float32Array;
    /** `[M]` written with the derivatives (with `grad`). */
    grad?: Float32Array;
  };
  /** Where to run; default RLCORE_DEVICE or 'auto'. On 'cuda' the arrays are copied to the GPU and the results back. */
  device?: Device;
}

/** Outputs of {@link tokenKl}. */
export interface TokenKlResult {
  /** `[M]` per-token KL estimate (0 where masked). */
  kl: Float32Array;
  /** `[M]` dk/d logProb (when requested). */
  grad?: Float32Array;
  /** Mean of the estimate over the counted tokens (0 when none). */
  mean: number;
}

const STATS = new Float64Array(2);

/**
 * Per-token estimates of KL(π_θ ‖ π_ref) from sampled tokens (Schulman 2020, "Approximating KL
 * Divergence"), with d = clamp(refLogProb − logProb, −20, 20):
 *
 * ```text
 * k1 = −d        k2 = ½ d²        k3 = e^d − d − 1, clamped to [0, 10] (never negative; GRPO's estimator)
 * ```
 *
 * Use it as a per-token reward penalty (r_t − β k_t, InstructGPT-style PPO) or, with `grad`, as a
 * loss term; {@link policyLoss} also adds it directly (`klCoef`).
 *
 * @example
 * ```ts
 * const { kl } = tokenKl({ logProb, refLogProb, mask, estimator: 'k1' });
 * for (let i = 0; i < kl.length; i++) rewards[i] -= 0.05 * kl[i];
 * ```
 */
export function tokenKl(options: TokenKlOptions): TokenKlResult {
  const k = 'tokenKl';
  const o = options;
  if (o === null || typeof o !== 'object') throw new RlcoreError('ERR_ARG', `${k}: expected an options object`);
  if (!(o.logProb instanceof Float32Array)) throw new RlcoreError(o.logProb === undefined ? 'ERR_ARG' : 'ERR_DTYPE', `${k}: logProb must be a Float32Array of shape [M]`);
  const M = checkSize(k, 'logProb.length (M)', o.logProb.length);
  const m1 = () => shapeText(['M'], [M]); // built only for an error message
  const refLogProb = requireArray(k, 'refLogProb', o.refLogProb, Float32Array, M, m1);
  const mask = checkArray(k, 'mask', o.mask, Uint8Array, M, m1, true);
  const est = ['k1', 'k2', 'k3'].indexOf(o.estimator ?? 'k3');
  if (est < 0) throw new RlcoreError('ERR_ARG', `${k}: estimator must be 'k1', 'k2' or 'k3'; received ${JSON.stringify(o.estimator)}`);
  const kl = outArray(k, 'out.kl', o.out?.kl, Float32Array, M, m1);
  const grad = o.grad ? outArray(k, 'out.grad', o.out?.grad, Float32Array, M, m1) : undefined;
  // Outputs that share memory with an input or with each other: the binding refuses them (ERR_ARG).
  const stats = STATS; // synchronous: read back before anything else can call in
  native().tokenKl(M, o.logProb, refLogProb, mask, est, kl, grad, stats, resolveDevice(o.device) === 'cuda', false);
  const r: TokenKlResult = { kl, mean: stats[0] };
  if (grad) r.grad = grad;
  return r;
}
