import { resolveDevice, type Device } from '../device.js';
import { native } from '../native.js';
import { checkArray, checkShape, outArray, requireArray, shapeText } from '../validate.js';
import { checkDisjoint, checkRowGrad, checkSeed } from './common.js';

/** Inputs shared by the {@link categoricalLogProb}, {@link categoricalSample} and {@link categoricalBackward} calls. */
export interface CategoricalBase {
  /** `[B, A]`: B rows of A actions. */
  shape: [B: number, A: number];
  /** `[B, A]` unnormalised logits (network outputs). */
  logits: Float32Array;
  /** `[B, A]` action mask, nonzero = legal. Illegal actions get probability 0 (logit −∞). Every row needs a legal action. Omitted: all legal. */
  mask?: Uint8Array;
  /** Where to run; default RLCORE_DEVICE or 'auto'. These host-array kernels run on the CPU either way. */
  device?: Device;
}

/** Inputs of {@link categoricalLogProb}. */
export interface CategoricalLogProbOptions extends CategoricalBase {
  /** `[B]` action indices in [0, A); each must be legal under `mask`. */
  actions: Int32Array;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<CategoricalLogProbResult>;
}

/** Outputs of {@link categoricalLogProb}. */
export interface CategoricalLogProbResult {
  /** `[B]` log π(a_b). */
  logProb: Float32Array;
  /** `[B]` entropy H_b of each row's distribution. */
  entropy: Float32Array;
}

/** Inputs of {@link categoricalSample}. */
export interface CategoricalSampleOptions extends CategoricalBase {
  /** Integer seed in [0, 2^53]. Row b draws from Philox stream (seed, b): the result does not depend on threading. Use a new seed per call. */
  seed: number;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<CategoricalSampleResult>;
}

/** Outputs of {@link categoricalSample}. */
export interface CategoricalSampleResult extends CategoricalLogProbResult {
  /** `[B]` sampled actions. */
  actions: Int32Array;
}

/** Inputs of {@link categoricalBackward}. */
export interface CategoricalBackwardOptions extends CategoricalBase {
  /** `[B]` the actions whose log-probabilities the loss used. */
  actions: Int32Array;
  /** dL/d log π(a_b): a number (every row) or `[B]`; e.g. {@link PpoLossResult.gradLogProb}. Omitted: 0. */
  gradLogProb?: number | Float32Array;
  /** dL/d H_b: a number (every row) or `[B]`; e.g. {@link PpoLossResult.gradEntropy}. Omitted: 0. */
  gradEntropy?: number | Float32Array;
  /** Caller-provided outputs; `logProb` and `entropy` are written only when given here. */
  out?: Partial<CategoricalBackwardResult>;
}

/** Outputs of {@link categoricalBackward}. */
export interface CategoricalBackwardResult {
  /** `[B, A]` dL/dlogits (0 at masked actions). */
  gradLogits: Float32Array;
  /** `[B]` log π(a_b), when `out.logProb` was given. */
  logProb?: Float32Array;
  /** `[B]` entropies, when `out.entropy` was given. */
  entropy?: Float32Array;
}

type Prepared<R> = { args: unknown[]; result: R };

function prepare(
  k: string,
  o: CategoricalBase & { actions?: Int32Array; seed?: number; gradLogProb?: number | Float32Array; gradEntropy?: number | Float32Array },
  mode: 'logProb' | 'sample' | 'backward',
  out: Record<string, unknown> | undefined,
): Prepared<Record<string, ArrayBufferView>> {
  const [B, A] = checkShape(k, 'shape', o?.shape, ['B', 'A']);
  const ba = shapeText(['B', 'A'], [B, A]), b1 = shapeText(['B'], [B]);
  const logits = requireArray(k, 'logits', o.logits, Float32Array, B * A, ba);
  const mask = checkArray(k, 'mask', o.mask, Uint8Array, B * A, ba, true);
  const actions = mode === 'sample' ? undefined : requireArray(k, 'actions', o.actions, Int32Array, B, b1);
  const seed = mode === 'sample' ? checkSeed(k, o.seed) : undefined;
  const gLp = mode === 'backward' ? checkRowGrad(k, 'gradLogProb', o.gradLogProb, B) : undefined;
  const gH = mode === 'backward' ? checkRowGrad(k, 'gradEntropy', o.gradEntropy, B) : undefined;
  const sampled = mode === 'sample' ? outArray(k, 'out.actions', out?.actions, Int32Array, B, b1) : undefined;
  const fwd = mode !== 'backward';
  const logProb = fwd ? outArray(k, 'out.logProb', out?.logProb, Float32Array, B, b1) : checkArray(k, 'out.logProb', out?.logProb, Float32Array, B, b1, true);
  const entropy = fwd ? outArray(k, 'out.entropy', out?.entropy, Float32Array, B, b1) : checkArray(k, 'out.entropy', out?.entropy, Float32Array, B, b1, true);
  const gradLogits = mode === 'backward' ? outArray(k, 'out.gradLogits', out?.gradLogits, Float32Array, B * A, ba) : undefined;
  checkDisjoint(
    k,
    [['out.actions', sampled], ['out.logProb', logProb], ['out.entropy', entropy], ['out.gradLogits', gradLogits]],
    [['logits', logits], ['mask', mask], ['actions', actions], ['gradLogProb', gLp], ['gradEntropy', gH]],
  );
  const useCuda = resolveDevice(o.device) === 'cuda';
  const result: Record<string, ArrayBufferView> = {};
  if (sampled) result.actions = sampled;
  if (logProb) result.logProb = logProb;
  if (entropy) result.entropy = entropy;
  if (gradLogits) result.gradLogits = gradLogits;
  return { args: [B, A, logits, mask, actions, seed, gLp, gH, sampled, logProb, entropy, gradLogits, useCuda], result };
}

/**
 * Log-probabilities and entropies of a batch of categorical distributions given by logits, with
 * an optional action mask (illegal actions get probability 0):
 *
 * ```text
 * log π(j) = z_j − m − log Σ_k exp(z_k − m),   m = max_k z_k   (over legal k)
 * H        = −Σ_j π(j) log π(j)
 * ```
 *
 * Computed in float64 per row. Throws ERR_RANGE, before writing, for an action outside [0, A),
 * a masked action, or a mask row with no legal action.
 *
 * @example
 * ```ts
 * const { logProb, entropy } = categoricalLogProb({ shape: [B, A], logits, actions });
 * ```
 */
export function categoricalLogProb(options: CategoricalLogProbOptions): CategoricalLogProbResult {
  const { args, result } = prepare('categorical', options, 'logProb', options?.out);
  native().categorical(...args, false);
  return result as unknown as CategoricalLogProbResult;
}

/** {@link categoricalLogProb} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function categoricalLogProbAsync(options: CategoricalLogProbOptions): Promise<CategoricalLogProbResult> {
  const { args, result } = prepare('categorical', options, 'logProb', options?.out);
  await native().categorical(...args, true);
  return result as unknown as CategoricalLogProbResult;
}

/**
 * Samples one action per row (inverse CDF of π with a float64 uniform from Philox stream
 * (seed, b)), and returns its log-probability and the row's entropy. Masked actions are never
 * drawn. Same seed, same samples, whatever the thread count.
 *
 * @example
 * ```ts
 * const { actions, logProb } = categoricalSample({ shape: [N, A], logits, seed: step });
 * ```
 */
export function categoricalSample(options: CategoricalSampleOptions): CategoricalSampleResult {
  const { args, result } = prepare('categorical', options, 'sample', options?.out);
  native().categorical(...args, false);
  return result as unknown as CategoricalSampleResult;
}

/** {@link categoricalSample} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function categoricalSampleAsync(options: CategoricalSampleOptions): Promise<CategoricalSampleResult> {
  const { args, result } = prepare('categorical', options, 'sample', options?.out);
  await native().categorical(...args, true);
  return result as unknown as CategoricalSampleResult;
}

/**
 * Gradient of `Σ_b g_lp,b · log π(a_b) + g_H,b · H_b` with respect to the logits:
 *
 * ```text
 * ∂/∂z_j = g_lp (1[j = a] − π(j)) − g_H π(j) (log π(j) + H)     (0 at masked j)
 * ```
 *
 * With the upstream gradients of a loss kernel this is the actor gradient in one call, e.g.
 * PPO: `categoricalBackward({ ..., gradLogProb: ppo.gradLogProb, gradEntropy: ppo.gradEntropy })`.
 * Pass `out.logProb` / `out.entropy` to get the forward values from the same pass.
 */
export function categoricalBackward(options: CategoricalBackwardOptions): CategoricalBackwardResult {
  const { args, result } = prepare('categorical', options, 'backward', options?.out as Record<string, unknown> | undefined);
  native().categorical(...args, false);
  return result as unknown as CategoricalBackwardResult;
}

/** {@link categoricalBackward} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function categoricalBackwardAsync(options: CategoricalBackwardOptions): Promise<CategoricalBackwardResult> {
  const { args, result } = prepare('categorical', options, 'backward', options?.out as Record<string, unknown> | undefined);
  await native().categorical(...args, true);
  return result as unknown as CategoricalBackwardResult;
}
