import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkShape, outArray, requireArray, shapeText } from '../validate.js';
import { checkDisjoint, checkRowGrad, checkRowOrFree, checkSeed } from './common.js';

/** Inputs shared by the diagonal-Gaussian calls. Give exactly one of `logStd` and `std`. */
export interface GaussianBase {
  /** `[B, A]`: B rows of A action dimensions. */
  shape: [B: number, A: number];
  /** `[B, A]` means μ. */
  mean: Float32Array;
  /** log σ: `[B, A]` (state-dependent) or `[A]` (a free parameter shared by every row). */
  logStd?: Float32Array;
  /** σ given directly (> 0, finite): `[B, A]` or `[A]`. */
  std?: Float32Array;
  /** Where to run; default RLCORE_DEVICE or 'auto'. These host-array kernels run on the CPU either way. */
  device?: Device;
}

/** Inputs of {@link gaussianLogProb}. */
export interface GaussianLogProbOptions extends GaussianBase {
  /** `[B, A]` actions x. */
  actions: Float32Array;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<GaussianLogProbResult>;
}

/** Outputs of {@link gaussianLogProb}. */
export interface GaussianLogProbResult {
  /** `[B]` log π(x_b), summed over the A dimensions. */
  logProb: Float32Array;
  /** `[B]` entropy of each row's distribution. */
  entropy: Float32Array;
}

/** Inputs of {@link gaussianSample}. */
export interface GaussianSampleOptions extends GaussianBase {
  /** Integer seed in [0, 2^53]; row b draws from Philox stream (seed, b). Use a new seed per call. */
  seed: number;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<GaussianSampleResult>;
}

/** Outputs of {@link gaussianSample}. */
export interface GaussianSampleResult extends GaussianLogProbResult {
  /** `[B, A]` samples x = μ + σ ε. */
  actions: Float32Array;
}

/** Inputs of {@link gaussianBackward}. */
export interface GaussianBackwardOptions extends GaussianBase {
  /** `[B, A]` the actions whose log-probabilities the loss used. */
  actions: Float32Array;
  /** dL/d log π(x_b): a number or `[B]`. Omitted: 0. */
  gradLogProb?: number | Float32Array;
  /** dL/d H_b: a number or `[B]`. Omitted: 0. */
  gradEntropy?: number | Float32Array;
  /** Caller-provided outputs; `logProb` and `entropy` are written only when given here. */
  out?: Partial<GaussianBackwardResult>;
}

/** Outputs of {@link gaussianBackward}. */
export interface GaussianBackwardResult {
  /** `[B, A]` dL/dμ. */
  gradMean: Float32Array;
  /** dL/d log σ (or dL/dσ when `std` was given), shaped like it: `[B, A]`, or `[A]` summed over the batch. */
  gradStd: Float32Array;
  /** `[B]` log π(x_b), when `out.logProb` was given. */
  logProb?: Float32Array;
  /** `[B]` entropies, when `out.entropy` was given. */
  entropy?: Float32Array;
}

type Mode = 'logProb' | 'sample' | 'backward';

function prepare(
  o: GaussianBase & { actions?: Float32Array; seed?: number; gradLogProb?: number | Float32Array; gradEntropy?: number | Float32Array },
  mode: Mode,
  out: Record<string, Float32Array | undefined> | undefined,
): { args: unknown[]; result: Record<string, Float32Array> } {
  const k = 'gaussian';
  const [B, A] = checkShape(k, 'shape', o?.shape, ['B', 'A']);
  const ba = shapeText(['B', 'A'], [B, A]), b1 = shapeText(['B'], [B]);
  const mean = requireArray(k, 'mean', o.mean, Float32Array, B * A, ba);
  if ((o.logStd === undefined) === (o.std === undefined)) {
    throw new RlcoreError('ERR_ARG', `${k}: give exactly one of logStd and std ([B, A] = [${B}, ${A}] or [A] = [${A}])`);
  }
  const scaleName = o.std !== undefined ? 'std' : 'logStd';
  const scale = checkRowOrFree(k, scaleName, o.std ?? o.logStd, B, A);
  const scaleShape = scale.length === B * A ? ba : shapeText(['A'], [A]);
  if (o.std !== undefined) {
    for (let i = 0; i < scale.length; i++) {
      if (!(scale[i] > 0 && Number.isFinite(scale[i]))) throw new RlcoreError('ERR_RANGE', `${k}: std[${i}] must be positive and finite; received ${scale[i]}`);
    }
  }
  const actions = mode === 'sample' ? undefined : requireArray(k, 'actions', o.actions, Float32Array, B * A, ba);
  const seed = mode === 'sample' ? checkSeed(k, o.seed) : undefined;
  const gLp = mode === 'backward' ? checkRowGrad(k, 'gradLogProb', o.gradLogProb, B) : undefined;
  const gH = mode === 'backward' ? checkRowGrad(k, 'gradEntropy', o.gradEntropy, B) : undefined;
  const fwd = mode !== 'backward';
  const outs: Record<string, Float32Array | undefined> = {
    'out.actions': mode === 'sample' ? outArray(k, 'out.actions', out?.actions, Float32Array, B * A, ba) : undefined,
    'out.logProb': fwd ? outArray(k, 'out.logProb', out?.logProb, Float32Array, B, b1) : checkArray(k, 'out.logProb', out?.logProb, Float32Array, B, b1, true),
    'out.entropy': fwd ? outArray(k, 'out.entropy', out?.entropy, Float32Array, B, b1) : checkArray(k, 'out.entropy', out?.entropy, Float32Array, B, b1, true),
    'out.gradMean': mode === 'backward' ? outArray(k, 'out.gradMean', out?.gradMean, Float32Array, B * A, ba) : undefined,
    'out.gradStd': mode === 'backward' ? outArray(k, 'out.gradStd', out?.gradStd, Float32Array, scale.length, scaleShape) : undefined,
  };
  checkDisjoint(
    k,
    [['out.actions', outs['out.actions']], ['out.logProb', outs['out.logProb']], ['out.entropy', outs['out.entropy']], ['out.gradMean', outs['out.gradMean']], ['out.gradStd', outs['out.gradStd']]],
    [['mean', mean], [scaleName, scale], ['actions', actions], ['gradLogProb', gLp], ['gradEntropy', gH]],
  );
  const useCuda = resolveDevice(o.device) === 'cuda';
  const result: Record<string, Float32Array> = {};
  for (const n in outs) if (outs[n]) result[n.slice(4)] = outs[n]!;
  const isStd = scaleName === 'std';
  return {
    args: [B, A, mean, isStd ? undefined : scale, isStd ? scale : undefined, actions, seed, gLp, gH,
      outs['out.actions'], outs['out.logProb'], outs['out.entropy'], outs['out.gradMean'], outs['out.gradStd'], useCuda],
    result,
  };
}

/**
 * Log-probabilities and entropies of diagonal Gaussians N(μ, diag σ²), σ = exp(log σ) or given:
 *
 * ```text
 * log π(x) = Σ_j −½ ((x_j − μ_j) / σ_j)² − log σ_j − ½ log 2π
 * H        = Σ_j log σ_j + ½ (1 + log 2π)
 * ```
 *
 * Throws ERR_RANGE for a `std` that is not positive and finite, before writing.
 *
 * @example
 * ```ts
 * const { logProb, entropy } = gaussianLogProb({ shape: [B, A], mean, logStd, actions });
 * ```
 */
export function gaussianLogProb(options: GaussianLogProbOptions): GaussianLogProbResult {
  const { args, result } = prepare(options, 'logProb', options?.out);
  native().gaussian(...args, false);
  return result as unknown as GaussianLogProbResult;
}

/** {@link gaussianLogProb} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function gaussianLogProbAsync(options: GaussianLogProbOptions): Promise<GaussianLogProbResult> {
  const { args, result } = prepare(options, 'logProb', options?.out);
  await native().gaussian(...args, true);
  return result as unknown as GaussianLogProbResult;
}

/**
 * Samples x = μ + σ ε, ε ~ N(0, I) (Box–Muller on Philox stream (seed, b) for row b), with the
 * samples' log-probabilities and the entropies. Same seed, same samples, whatever the threading.
 */
export function gaussianSample(options: GaussianSampleOptions): GaussianSampleResult {
  const { args, result } = prepare(options, 'sample', options?.out);
  native().gaussian(...args, false);
  return result as unknown as GaussianSampleResult;
}

/** {@link gaussianSample} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function gaussianSampleAsync(options: GaussianSampleOptions): Promise<GaussianSampleResult> {
  const { args, result } = prepare(options, 'sample', options?.out);
  await native().gaussian(...args, true);
  return result as unknown as GaussianSampleResult;
}

/**
 * Gradient of `Σ_b g_lp,b · log π(x_b) + g_H,b · H_b` with respect to μ and log σ (or σ):
 *
 * ```text
 * ∂/∂μ_j     = g_lp z_j / σ_j,              z_j = (x_j − μ_j) / σ_j
 * ∂/∂log σ_j = g_lp (z_j² − 1) + g_H        (∂/∂σ_j = that / σ_j)
 * ```
 *
 * For a free `[A]` log σ the gradient is summed over the batch (in float64). PPO's actor
 * gradient is `gaussianBackward({ ..., gradLogProb: ppo.gradLogProb, gradEntropy: ppo.gradEntropy })`.
 */
export function gaussianBackward(options: GaussianBackwardOptions): GaussianBackwardResult {
  const { args, result } = prepare(options, 'backward', options?.out as Record<string, Float32Array | undefined> | undefined);
  native().gaussian(...args, false);
  return result as unknown as GaussianBackwardResult;
}

/** {@link gaussianBackward} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function gaussianBackwardAsync(options: GaussianBackwardOptions): Promise<GaussianBackwardResult> {
  const { args, result } = prepare(options, 'backward', options?.out as Record<string, Float32Array | undefined> | undefined);
  await native().gaussian(...args, true);
  return result as unknown as GaussianBackwardResult;
}
