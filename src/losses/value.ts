import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkNoAlias, checkNumber, checkSize, outArray, requireArray, shapeText } from '../validate.js';

/** Inputs of {@link valueLoss}. All arrays are `[B]`. */
export interface ValueLossOptions {
  /** `[B]`: batch size. */
  shape: [B: number];
  /** `[B]` predictions V_θ(s). */
  values: Float32Array;
  /** `[B]` regression targets (e.g. GAE returns). */
  returns: Float32Array;
  /** `[B]` V_old(s) at rollout time: enables PPO-style value clipping with `clipCoef`. */
  oldValues?: Float32Array;
  /** Value clip range c ≥ 0 (finite); used only with `oldValues`. Default 0.2. */
  clipCoef?: number;
  /** 'mse' (½ e²) or 'huber' (½ e² for |e| ≤ δ, δ (|e| − ½ δ) beyond). Default 'mse'. */
  kind?: 'mse' | 'huber';
  /** Huber threshold δ > 0 (finite). Default 1. */
  delta?: number;
  /** Caller-provided output; when given, nothing is allocated but the statistics. */
  out?: {
    /** `[B]` caller-provided gradient output. */
    grad?: Float32Array;
  };
  /** Where to run; default RLCORE_DEVICE or 'auto'. These host-array kernels run on the CPU either way. */
  device?: Device;
}

/** Outputs of {@link valueLoss}. */
export interface ValueLossResult {
  /** mean_b ρ (with clipping: the max of the clipped and unclipped terms). */
  loss: number;
  /** Fraction of samples with |V − V_old| > c (0 without clipping). */
  clipFraction: number;
  /** mean |V − R|. */
  meanAbsError: number;
  /** `[B]` dL/dV. */
  grad: Float32Array;
}

const SYNC_STATS = new Float64Array(3);

function prepare(isAsync: boolean, o: ValueLossOptions) {
  const k = 'valueLoss';
  if (!Array.isArray(o?.shape) || o.shape.length !== 1) throw new RlcoreError('ERR_SHAPE', `${k}: shape must be [B]; received ${String(o?.shape)}`);
  const B = checkSize(k, 'shape[0] (B)', o.shape[0]);
  const b1 = shapeText(['B'], [B]);
  const values = requireArray(k, 'values', o.values, Float32Array, B, b1);
  const returns = requireArray(k, 'returns', o.returns, Float32Array, B, b1);
  const oldValues = checkArray(k, 'oldValues', o.oldValues, Float32Array, B, b1, true);
  const clip = checkNumber(k, 'clipCoef', o.clipCoef, 0, 1e30, 0.2);
  const kind = o.kind ?? 'mse';
  if (kind !== 'mse' && kind !== 'huber') throw new RlcoreError('ERR_ARG', `${k}: kind must be 'mse' or 'huber'; received ${JSON.stringify(kind)}`);
  const delta = checkNumber(k, 'delta', o.delta, Number.MIN_VALUE, 1e30, 1);
  const grad = outArray(k, 'out.grad', o.out?.grad, Float32Array, B, b1);
  checkNoAlias(k, 'out.grad', grad, { values, returns, oldValues });
  const useCuda = resolveDevice(o.device) === 'cuda';
  // Sync calls share one statistics buffer (read right after the call); async calls get their own.
  const stats = isAsync ? new Float64Array(3) : SYNC_STATS;
  return { args: [B, values, returns, oldValues, clip, kind === 'huber' ? delta : 0, grad, stats, useCuda], stats, grad };
}

function finish(p: ReturnType<typeof prepare>): ValueLossResult {
  return { loss: p.stats[0], clipFraction: p.stats[1], meanAbsError: p.stats[2], grad: p.grad };
}

/**
 * Value-function loss with optional PPO-style value clipping (CleanRL's `clip_vloss`):
 *
 * ```text
 * e_b = V_b − R_b,   ρ(e) = ½ e²  or  Huber_δ(e)
 * L   = mean_b ρ(e_b)
 * L   = mean_b max(ρ(e_b), ρ(V_old,b + clip(V_b − V_old,b, −c, c) − R_b))     (with oldValues)
 * ```
 *
 * The ½ makes 'mse' equal CleanRL's `0.5 * mean(...)` and agree with Huber for small errors.
 * The gradient is dL/dV (a mean over the batch, float64 reductions): the clipped branch passes
 * no gradient where |V − V_old| > c.
 *
 * @example
 * ```ts
 * const v = valueLoss({ shape: [B], values, returns, oldValues, clipCoef: 0.2 });
 * ```
 */
export function valueLoss(options: ValueLossOptions): ValueLossResult {
  const p = prepare(false, options);
  native().valueLoss(...p.args, false);
  return finish(p);
}

/** {@link valueLoss} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function valueLossAsync(options: ValueLossOptions): Promise<ValueLossResult> {
  const p = prepare(true, options);
  await native().valueLoss(...p.args, true);
  return finish(p);
}
