import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkShape, outArray, requireArray, shapeText } from '../validate.js';
import { checkDisjoint, checkRowGrad, checkRowOrFree, checkSeed } from './common.js';

/** Inputs shared by the tanh-squashed Gaussian calls. */
export interface SquashedGaussianBase {
  /** `[B, A]`: B rows of A action dimensions. */
  shape: [B: number, A: number];
  /** `[B, A]` means μ of the Gaussian before the tanh. */
  mean: Float32Array;
  /** log σ: `[B, A]` (state-dependent) or `[A]` (free). */
  logStd: Float32Array;
  /** Where to run; default RLCORE_DEVICE or 'auto'. These host-array kernels run on the CPU either way. */
  device?: Device;
}

/** Inputs of {@link squashedGaussianSample}. */
export interface SquashedGaussianSampleOptions extends SquashedGaussianBase {
  /** Integer seed in [0, 2^53]; row b draws ε from Philox stream (seed, b). Required unless `noise` or `deterministic` is given. */
  seed?: number;
  /** `[B, A]` ε given by the caller (then nothing is drawn and `out.noise` is not written). */
  noise?: Float32Array;
  /** ε = 0: the evaluation action tanh(μ). */
  deterministic?: boolean;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<SquashedGaussianSampleResult>;
}

/** Outputs of {@link squashedGaussianSample}. */
export interface SquashedGaussianSampleResult {
  /** `[B, A]` actions a = tanh(μ + σ ε) in (−1, 1). */
  actions: Float32Array;
  /** `[B, A]` the noise ε used (the given `noise` when one was passed); keep it for {@link squashedGaussianBackward}. */
  noise: Float32Array;
  /** `[B]` log π(a_b) with the tanh correction. */
  logProb: Float32Array;
  /** `[B, A]` u = μ + σ ε, when `out.preTanh` was given. */
  preTanh?: Float32Array;
}

/** Inputs of {@link squashedGaussianBackward}. */
export interface SquashedGaussianBackwardOptions extends SquashedGaussianBase {
  /** `[B, A]` the noise ε of the sample (from {@link squashedGaussianSample}). */
  noise: Float32Array;
  /** dL/d log π(a_b): a number or `[B]` (SAC actor: α / B). Omitted: 0. */
  gradLogProb?: number | Float32Array;
  /** `[B, A]` dL/da (SAC actor: −(∂Q/∂a) / B from the critic's input gradient). Omitted: 0. */
  gradActions?: Float32Array;
  /** Caller-provided outputs; `actions` and `logProb` are written only when given here. */
  out?: Partial<SquashedGaussianBackwardResult>;
}

/** Outputs of {@link squashedGaussianBackward}. */
export interface SquashedGaussianBackwardResult {
  /** `[B, A]` dL/dμ. */
  gradMean: Float32Array;
  /** dL/d log σ shaped like `logStd`: `[B, A]`, or `[A]` summed over the batch. */
  gradLogStd: Float32Array;
  /** `[B, A]` the actions, when `out.actions` was given. */
  actions?: Float32Array;
  /** `[B]` log π, when `out.logProb` was given. */
  logProb?: Float32Array;
}

function prepare(o: SquashedGaussianSampleOptions & SquashedGaussianBackwardOptions, backward: boolean, out: Record<string, Float32Array | undefined> | undefined) {
  const k = 'squashedGaussian';
  const [B, A] = checkShape(k, 'shape', o?.shape, ['B', 'A']);
  const ba = shapeText(['B', 'A'], [B, A]), b1 = shapeText(['B'], [B]);
  const mean = requireArray(k, 'mean', o.mean, Float32Array, B * A, ba);
  const logStd = checkRowOrFree(k, 'logStd', o.logStd, B, A);
  let noise: Float32Array | undefined, seed: number | undefined;
  if (backward) {
    noise = requireArray(k, 'noise', o.noise, Float32Array, B * A, ba);
  } else if (o.deterministic) {
    if (o.noise !== undefined) throw new RlcoreError('ERR_ARG', `${k}: give noise or deterministic, not both`);
    noise = out?.noise ? outArray(k, 'out.noise', out.noise, Float32Array, B * A, ba) : new Float32Array(B * A);
  } else {
    noise = checkArray(k, 'noise', o.noise, Float32Array, B * A, ba, true);
    if (!noise) seed = checkSeed(k, o.seed);
  }
  const gLp = backward ? checkRowGrad(k, 'gradLogProb', o.gradLogProb, B) : undefined;
  const gA = backward ? checkArray(k, 'gradActions', o.gradActions, Float32Array, B * A, ba, true) : undefined;
  const opt = (n: string, len: number, shape: string) => checkArray(k, `out.${n}`, out?.[n], Float32Array, len, shape, true);
  const req = (n: string, len: number, shape: string) => outArray(k, `out.${n}`, out?.[n], Float32Array, len, shape);
  const outs: Record<string, Float32Array | undefined> = {
    'out.actions': backward ? opt('actions', B * A, ba) : req('actions', B * A, ba),
    'out.preTanh': opt('preTanh', B * A, ba),
    'out.noise': !backward && seed !== undefined ? req('noise', B * A, ba) : undefined,
    'out.logProb': backward ? opt('logProb', B, b1) : req('logProb', B, b1),
    'out.gradMean': backward ? req('gradMean', B * A, ba) : undefined,
    'out.gradLogStd': backward ? req('gradLogStd', logStd.length, logStd.length === B * A ? ba : shapeText(['A'], [A])) : undefined,
  };
  checkDisjoint(
    k,
    [['out.actions', outs['out.actions']], ['out.preTanh', outs['out.preTanh']], ['out.noise', outs['out.noise']], ['out.logProb', outs['out.logProb']], ['out.gradMean', outs['out.gradMean']], ['out.gradLogStd', outs['out.gradLogStd']]],
    [['mean', mean], ['logStd', logStd], ['noise', seed === undefined ? noise : undefined], ['gradLogProb', gLp], ['gradActions', gA]],
  );
  const useCuda = resolveDevice(o.device) === 'cuda';
  const result: Record<string, Float32Array> = {};
  for (const n in outs) if (outs[n]) result[n.slice(4)] = outs[n]!;
  if (!backward && noise) result.noise = noise;
  if (!backward && o.deterministic) noise!.fill(0); // after every check: nothing written on error
  return {
    args: [B, A, mean, logStd, seed === undefined ? noise : undefined, seed, gLp, gA, outs['out.actions'], outs['out.preTanh'],
      outs['out.noise'], outs['out.logProb'], outs['out.gradMean'], outs['out.gradLogStd'], useCuda],
    result,
  };
}

/**
 * Samples the tanh-squashed Gaussian policy of SAC (Haarnoja et al. 2018, arXiv:1801.01290,
 * appendix C) and returns log-probabilities with the change-of-variables correction:
 *
 * ```text
 * u = μ + σ ε,  ε ~ N(0, I),  a = tanh(u)
 * log π(a) = Σ_j −½ ε_j² − log σ_j − ½ log 2π − 2 (log 2 − u_j − softplus(−2 u_j))
 * ```
 *
 * The last term is log(1 − tanh² u) written so that it stays finite for any u. Row b draws ε from
 * Philox stream (seed, b); pass `noise` to evaluate given ε instead.
 *
 * @example
 * ```ts
 * const s = squashedGaussianSample({ shape: [B, A], mean, logStd, seed: step });
 * // ... critic input-gradient dQ/da ...
 * const g = squashedGaussianBackward({ shape: [B, A], mean, logStd, noise: s.noise, gradLogProb: alpha / B, gradActions });
 * ```
 */
export function squashedGaussianSample(options: SquashedGaussianSampleOptions): SquashedGaussianSampleResult {
  const { args, result } = prepare(options as SquashedGaussianSampleOptions & SquashedGaussianBackwardOptions, false, options?.out as Record<string, Float32Array | undefined>);
  native().squashedGaussian(...args, false);
  return result as unknown as SquashedGaussianSampleResult;
}

/** {@link squashedGaussianSample} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function squashedGaussianSampleAsync(options: SquashedGaussianSampleOptions): Promise<SquashedGaussianSampleResult> {
  const { args, result } = prepare(options as SquashedGaussianSampleOptions & SquashedGaussianBackwardOptions, false, options?.out as Record<string, Float32Array | undefined>);
  await native().squashedGaussian(...args, true);
  return result as unknown as SquashedGaussianSampleResult;
}

/**
 * Reparameterised gradient of `Σ_b g_lp,b · log π(a_b) + Σ_{b,j} g_a,bj · a_bj` with respect to μ
 * and log σ, with the noise ε held fixed (u = μ + σ ε):
 *
 * ```text
 * ∂log π/∂μ_j = 2 tanh u_j,   ∂log π/∂log σ_j = −1 + 2 tanh(u_j) σ_j ε_j
 * ∂a_j/∂μ_j   = sech² u_j,    ∂a_j/∂log σ_j   = sech² u_j σ_j ε_j
 * ```
 *
 * SAC's actor loss mean_b(α log π − Q(s, a)) is `gradLogProb: α / B` and `gradActions: −∂Q/∂a / B`.
 * For a free `[A]` log σ the gradient is summed over the batch.
 */
export function squashedGaussianBackward(options: SquashedGaussianBackwardOptions): SquashedGaussianBackwardResult {
  const { args, result } = prepare(options as SquashedGaussianSampleOptions & SquashedGaussianBackwardOptions, true, options?.out as Record<string, Float32Array | undefined>);
  native().squashedGaussian(...args, false);
  return result as unknown as SquashedGaussianBackwardResult;
}

/** {@link squashedGaussianBackward} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function squashedGaussianBackwardAsync(options: SquashedGaussianBackwardOptions): Promise<SquashedGaussianBackwardResult> {
  const { args, result } = prepare(options as SquashedGaussianSampleOptions & SquashedGaussianBackwardOptions, true, options?.out as Record<string, Float32Array | undefined>);
  await native().squashedGaussian(...args, true);
  return result as unknown as SquashedGaussianBackwardResult;
}
