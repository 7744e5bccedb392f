import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkNoAlias, checkNumber, checkShape, checkSize, outArray, requireArray, shapeText } from '../validate.js';

/** Which preference objective {@link preferenceLoss} computes. */
export type PreferenceLossKind = 'dpo' | 'ipo' | 'bradleyTerry';

/** Inputs of {@link preferenceLoss}. All arrays are `[P]`, one per preference pair. */
export interface PreferenceLossOptions {
  /** Default 'dpo'. */
  kind?: PreferenceLossKind;
  /** `[P]` log π_θ(y_w | x), the summed token log-probs of the chosen response ('bradleyTerry': its reward r_w). */
  chosen: Float32Array;
  /** `[P]` log π_θ(y_l | x) of the rejected response ('bradleyTerry': r_l). */
  rejected: Float32Array;
  /** `[P]` log π_ref(y_w | x) (dpo, ipo). Omitted together with `refRejected`: 0 (reference-free). */
  refChosen?: Float32Array;
  /** `[P]` log π_ref(y_l | x). */
  refRejected?: Float32Array;
  /** β > 0 (dpo, ipo); default 0.1. */
  beta?: number;
  /** Label smoothing ε in [0, 0.5] (dpo, bradleyTerry: conservative DPO); default 0. */
  labelSmoothing?: number;
  /** Margin m subtracted from h (bradleyTerry, as in Llama 2; dpo too); default 0. */
  margin?: number;
  /** Caller-provided outputs. */
  out?: {
    /** `[P]` written with dL/d chosen. */
    gradChosen?: Float32Array;
    /** `[P]` written with dL/d rejected. */
    gradRejected?: Float32Array;
  };
  /** Where to run; default RLCORE_DEVICE or 'auto'. On 'cuda' the arrays are copied to the GPU and the results back. */
  device?: Device;
}

/** Outputs of {@link preferenceLoss}. */
export interface PreferenceLossResult {
  /** Mean loss over the pairs. */
  loss: number;
  /** Fraction of pairs ranked correctly (h > 0). */
  accuracy: number;
  /** Mean implicit reward of the chosen responses, β (log π − log π_ref)(y_w) (bradleyTerry: r_w). */
  chosenReward: number;
  /** Mean implicit reward of the rejected responses. */
  rejectedReward: number;
  /** chosenReward − rejectedReward: the preference margin. */
  margin: number;
  /** `[P]` dL/d chosen. */
  gradChosen: Float32Array;
  /** `[P]` dL/d rejected. */
  gradRejected: Float32Array;
}

/**
 * Preference losses on sequence log-probs (means over P pairs):
 *
 * ```text
 * dpo           h = β [(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))] − m
 *               ℓ = −(1 − ε) log σ(h) − ε log σ(−h)        Rafailov et al. 2023, arXiv:2305.18290
 * ipo           x = (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)),  ℓ = (x − 1/(2β))²
 *                                                           Azar et al. 2023, arXiv:2310.12036
 * bradleyTerry  h = r_w − r_l − m,  ℓ as dpo                reward-model loss (Ouyang et al. 2022)
 * ```
 *
 * Gradients flow to the policy's sequence log-probs (chain them to tokens: every token of a
 * response gets its sequence's gradient), never to the reference.
 *
 * @example
 * ```ts
 * const r = preferenceLoss({ chosen, rejected, refChosen, refRejected, beta: 0.1 });
 * ```
 */
export function preferenceLoss(options: PreferenceLossOptions): PreferenceLossResult {
  const k = 'preferenceLoss';
  const o = options;
  if (o === null || typeof o !== 'object') throw new RlcoreError('ERR_ARG', `${k}: expected an options object`);
  if (!(o.chosen instanceof Float32Array)) throw new RlcoreError(o.chosen === undefined ? 'ERR_ARG' : 'ERR_DTYPE', `${k}: chosen must be a Float32Array of shape [P]`);
  const P = checkSize(k, 'chosen.length (P)', o.chosen.length);
  const p1 = shapeText(['P'], [P]);
  const rejected = requireArray(k, 'rejected', o.rejected, Float32Array, P, p1);
  const refChosen = checkArray(k, 'refChosen', o.refChosen, Float32Array, P, p1, true);
  const refRejected = checkArray(k, 'refRejected', o.refRejected, Float32Array, P, p1, true);
  if (!refChosen !== !refRejected) throw new RlcoreError('ERR_ARG', `${k}: give both refChosen and refRejected, or neither`);
  const kind = ['dpo', 'ipo', 'bradleyTerry'].indexOf(o.kind ?? 'dpo');
  if (kind < 0) throw new RlcoreError('ERR_ARG', `${k}: kind must be 'dpo', 'ipo' or 'bradleyTerry'; received ${JSON.stringify(o.kind)}`);
  const beta = checkNumber(k, 'beta', o.beta, 1e-12, 1e12, 0.1);
  const eps = checkNumber(k, 'labelSmoothing', o.labelSmoothing, 0, 0.5, 0);
  const margin = checkNumber(k, 'margin', o.margin, -1e30, 1e30, 0);
  const gradChosen = outArray(k, 'out.gradChosen', o.out?.gradChosen, Float32Array, P, p1);
  const gradRejected = outArray(k, 'out.gradRejected', o.out?.gradRejected, Float32Array, P, p1);
  const inputs = { chosen: o.chosen, rejected, refChosen, refRejected };
  checkNoAlias(k, 'out.gradChosen', gradChosen, { ...inputs, 'out.gradRejected': gradRejected });
  checkNoAlias(k, 'out.gradRejected', gradRejected, inputs);
  const s = new Float64Array(5);
  native().preferenceLoss(P, kind, o.chosen, rejected, refChosen, refRejected, beta, eps, margin, gradChosen, gradRejected, s, resolveDevice(o.device) === 'cuda', false);
  return { loss: s[0], accuracy: s[1], chosenReward: s[2], rejectedReward: s[3], margin: s[4], gradChosen, gradRejected };
}

/** Inputs of {@link cplLoss}. */
export interface CplLossOptions {
  /** `[P, L]`: P preference pairs of segments of L steps. */
  shape: [P: number, L: number];
  /** `[P, L]` log π(a_t | s_t) along each preferred segment. */
  chosen: Float32Array;
  /** `[P, L]` along each non-preferred segment. */
  rejected: Float32Array;
  /** Temperature α > 0; default 0.1. */
  alpha?: number;
  /** Discount γ in [0, 1]; default 1. */
  gamma?: number;
  /** Conservative bias λ in (0, 1]; default 0.5. */
  lambda?: number;
  /** Where to run; default RLCORE_DEVICE or 'auto'. On 'cuda' the arrays are copied to the GPU and the results back. */
  device?: Device;
}

/** Outputs of {@link cplLoss}. */
export interface CplLossResult {
  /** Mean loss. */
  loss: number;
  /** Fraction of pairs with S⁺ > S⁻. */
  accuracy: number;
  /** Mean S⁺ − S⁻. */
  margin: number;
  /** `[P, L]` dL/d chosen. */
  gradChosen: Float32Array;
  /** `[P, L]` dL/d rejected. */
  gradRejected: Float32Array;
}

/**
 * Contrastive Preference Learning (Hejna et al. 2024, arXiv:2310.13639): preferences over
 * segments explained by the optimal advantage, estimated by the policy's log-probs:
 *
 * ```text
 * S± = α Σ_t γ^t log π(a±_t | s±_t)        ℓ = −log σ(S⁺ − λ S⁻)   (mean over the P pairs)
 * ```
 *
 * @example
 * ```ts
 * const r = cplLoss({ shape: [P, L], chosen, rejected, alpha: 0.1, lambda: 0.5 });
 * ```
 */
export function cplLoss(options: CplLossOptions): CplLossResult {
  const k = 'cplLoss';
  const o = options;
  if (o === null || typeof o !== 'object') throw new RlcoreError('ERR_ARG', `${k}: expected an options object`);
  const [P, L] = checkShape(k, 'shape', o.shape, ['P', 'L']);
  const pl = shapeText(['P', 'L'], [P, L]);
  const chosen = requireArray(k, 'chosen', o.chosen, Float32Array, P * L, pl);
  const rejected = requireArray(k, 'rejected', o.rejected, Float32Array, P * L, pl);
  const alpha = checkNumber(k, 'alpha', o.alpha, 1e-12, 1e12, 0.1);
  const gamma = checkNumber(k, 'gamma', o.gamma, 0, 1, 1);
  const lambda = checkNumber(k, 'lambda', o.lambda, 1e-12, 1, 0.5);
  const gradChosen = new Float32Array(P * L), gradRejected = new Float32Array(P * L);
  const s = new Float64Array(3);
  native().cplLoss(P, L, chosen, rejected, alpha, gamma, lambda, gradChosen, gradRejected, s, resolveDevice(o.device) === 'cuda', false);
  return { loss: s[0], accuracy: s[1], margin: s[2], gradChosen, gradRejected };
}
