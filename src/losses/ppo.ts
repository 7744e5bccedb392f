import { resolveDevice, type Device } from '../device.js';
import { native } from '../native.js';
import { checkArray, checkNoAlias, checkNumber, checkSize, outArray, requireArray, shapeText } from '../validate.js';
import { RlcoreError } from '../errors.js';

/** Inputs of {@link ppoLoss}. All arrays are `[B]` (one per sample of the minibatch). */
export interface PpoLossOptions {
  /** `[B]`: minibatch size. */
  shape: [B: number];
  /** `[B]` log π_θ(a|s) under the current policy (from a distribution's log-prob). */
  newLogProb: Float32Array;
  /** `[B]` log π_old(a|s) recorded at rollout time. */
  oldLogProb: Float32Array;
  /** `[B]` advantages (e.g. from {@link gae}). */
  advantages: Float32Array;
  /** `[B]` entropies of the current policy; with `entCoef`, adds the bonus −c_H · mean(H). Omitted: no bonus. */
  entropy?: Float32Array;
  /** Clip range ε ≥ 0 (finite). Default 0.2. */
  clipCoef?: number;
  /** Entropy coefficient c_H (finite). Default 0. */
  entCoef?: number;
  /** Normalise advantages over the minibatch: (A − mean) / (std + 1e-8). Default false (CleanRL's `norm_adv` is true). */
  normalizeAdvantages?: boolean;
  /** Caller-provided output; when given, nothing is allocated but the statistics. */
  out?: {
    /** `[B]` caller-provided gradient output. */
    gradLogProb?: Float32Array;
  };
  /** Where to run; default RLCORE_DEVICE or 'auto'. These host-array kernels run on the CPU either way. */
  device?: Device;
}

/** Outputs of {@link ppoLoss}: the loss, the statistics users log, and the upstream gradients for the distribution's backward. */
export interface PpoLossResult {
  /** policyLoss − entCoef · entropy. */
  loss: number;
  /** mean_b max(−Â r, −Â clip(r, 1 − ε, 1 + ε)). */
  policyLoss: number;
  /** mean entropy (0 when `entropy` was not given). */
  entropy: number;
  /** Fraction of samples with |r − 1| > ε. */
  clipFraction: number;
  /** mean((r − 1) − log r) (CleanRL's `approx_kl`). */
  approxKl: number;
  /** mean(−log r) (CleanRL's `old_approx_kl`). */
  oldApproxKl: number;
  /** `[B]` dL/d newLogProb. */
  gradLogProb: Float32Array;
  /** dL/dH_b = −entCoef / B, the same for every sample (0 without `entropy`). */
  gradEntropy: number;
}

const SYNC_STATS = new Float64Array(6);

function prepare(isAsync: boolean, o: PpoLossOptions) {
  const k = 'ppoLoss';
  if (!Array.isArray(o?.shape) || o.shape.length !== 1) throw new RlcoreError('ERR_SHAPE', `${k}: shape must be [B]; received ${String(o?.shape)}`);
  const B = checkSize(k, 'shape[0] (B)', o.shape[0]);
  const b1 = shapeText(['B'], [B]);
  const newLogProb = requireArray(k, 'newLogProb', o.newLogProb, Float32Array, B, b1);
  const oldLogProb = requireArray(k, 'oldLogProb', o.oldLogProb, Float32Array, B, b1);
  const advantages = requireArray(k, 'advantages', o.advantages, Float32Array, B, b1);
  const entropy = checkArray(k, 'entropy', o.entropy, Float32Array, B, b1, true);
  const clip = checkNumber(k, 'clipCoef', o.clipCoef, 0, 1e30, 0.2);
  const entCoef = checkNumber(k, 'entCoef', o.entCoef, -1e30, 1e30, 0);
  const grad = outArray(k, 'out.gradLogProb', o.out?.gradLogProb, Float32Array, B, b1);
  checkNoAlias(k, 'out.gradLogProb', grad, { newLogProb, oldLogProb, advantages, entropy });
  const useCuda = resolveDevice(o.device) === 'cuda';
  // Sync calls share one statistics buffer (read right after the call); async calls get their own.
  const stats = isAsync ? new Float64Array(6) : SYNC_STATS;
  return { args: [B, newLogProb, oldLogProb, advantages, entropy, clip, entCoef, !!o.normalizeAdvantages, grad, stats, useCuda], stats, grad, gradEntropy: entropy ? -entCoef / B : 0 };
}

function finish(p: ReturnType<typeof prepare>): PpoLossResult {
  const s = p.stats;
  return { loss: s[0], policyLoss: s[1], entropy: s[2], clipFraction: s[3], approxKl: s[4], oldApproxKl: s[5], gradLogProb: p.grad, gradEntropy: p.gradEntropy };
}

/**
 * PPO's clipped surrogate objective (Schulman et al. 2017, arXiv:1707.06347), CleanRL's form,
 * with r = exp(newLogProb − oldLogProb):
 *
 * ```text
 * L = mean_b max(−Â_b r_b, −Â_b clip(r_b, 1 − ε, 1 + ε)) − c_H mean_b H_b
 * ∂L/∂ log π_θ(b) = −Â_b r_b / B where the unclipped term is the max, else 0;   ∂L/∂H_b = −c_H / B
 * ```
 *
 * The loss is a mean over the batch, reduced in float64. The entropy bonus is combined here; the
 * value loss is a separate kernel ({@link valueLoss}) the caller adds with its own coefficient.
 * The actor gradient is then one call of the distribution's backward:
 *
 * @example
 * ```ts
 * const ppo = ppoLoss({ shape: [B], newLogProb, oldLogProb, advantages, entropy, entCoef: 0.01 });
 * const { gradLogits } = categoricalBackward({ shape: [B, A], logits, actions, gradLogProb: ppo.gradLogProb, gradEntropy: ppo.gradEntropy });
 * ```
 */
export function ppoLoss(options: PpoLossOptions): PpoLossResult {
  const p = prepare(false, options);
  native().ppoLoss(...p.args, false);
  return finish(p);
}

/** {@link ppoLoss} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function ppoLossAsync(options: PpoLossOptions): Promise<PpoLossResult> {
  const p = prepare(true, options);
  await native().ppoLoss(...p.args, true);
  return finish(p);
}
