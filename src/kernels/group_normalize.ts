import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkSize, outArray, shapeText } from '../validate.js';
import { checkEps, checkFlag } from './normalize.js';

/** How {@link groupNormalize} turns rewards into advantages; see there for the formulas. */
export type GroupNormalizeMode = 'grpo' | 'mean' | 'batchStd' | 'rloo';

/** Inputs of {@link groupNormalize}. Give exactly one of `groupSize` and `groupIds`. */
export interface GroupNormalizeOptions {
  /** `[B]` one scalar reward per response. */
  rewards: Float32Array;
  /** G: responses `[g*G, (g+1)*G)` answer prompt g. Must divide B. */
  groupSize?: number;
  /**
   * `[B]` the group (prompt) of each response, in [0, numGroups). Ids `i / G` (groups of G
   * responses side by side, keyed by prompt) run as fast as `groupSize: G`, with the same results;
   * other non-decreasing ids (each prompt's responses side by side, any number of them) take a
   * one-pass contiguous path; ids in any other order cost a few more passes (per-group tables, or
   * with more than 2^18 groups a counting sort of the responses by group first). Scratch memory
   * is kept between calls (two sets, for double-buffered async calls): B / 8 bytes, and with
   * unsorted ids up to about 8 B bytes.
   */
  groupIds?: Int32Array;
  /** Number of groups with `groupIds`. Default max(groupIds) + 1. */
  numGroups?: number;
  /** Default 'grpo'. */
  mode?: GroupNormalizeMode;
  /** Added to the standard deviation ('grpo', 'batchStd'); a finite number > 0. Default 1e-6. */
  eps?: number;
  /** Bessel's correction for the standard deviations, like `torch.std`. Default true. */
  unbiased?: boolean;
  /** Also return each group's mean and standard deviation (`groupMean`, `groupStd`). Default false. */
  groupStats?: boolean;
  /** Caller-provided outputs; when given, nothing is allocated. `groupMean`/`groupStd` given here are filled. */
  out?: Partial<Pick<GroupNormalizeResult, 'advantages' | 'zeroGroups' | 'groupMean' | 'groupStd'>>;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Outputs of {@link groupNormalize}. */
export interface GroupNormalizeResult {
  /** `[B]` advantage of each response. */
  advantages: Float32Array;
  /**
   * `[numGroups]` 1 where all rewards of a (non-empty) group are equal: the group has no
   * learning signal (its advantages are 0); drop or resample it. Groups of one are flagged.
   */
  zeroGroups: Uint8Array;
  /** Number of groups flagged in `zeroGroups`. */
  zeroStdGroups: number;
  /** `zeroStdGroups` divided by the number of non-empty groups. */
  zeroStdFraction: number;
  /** `[numGroups]` group means (0 for an empty group), when requested. */
  groupMean?: Float32Array;
  /** `[numGroups]` group standard deviations, when requested. */
  groupStd?: Float32Array;
}

const MODES: readonly string[] = ['grpo', 'mean', 'batchStd', 'rloo'];

function prepare(o: GroupNormalizeOptions): { args: unknown[]; summary: Float64Array; result: GroupNormalizeResult } {
  const k = 'groupNormalize';
  if (o === null || typeof o !== 'object') {
    throw new RlcoreError('ERR_ARG', `${k}: expected an options object; received ${o === null ? 'null' : typeof o}`);
  }
  if (!(o.rewards instanceof Float32Array)) {
    throw new RlcoreError(o.rewards === undefined ? 'ERR_ARG' : 'ERR_DTYPE', `${k}: rewards must be a Float32Array of shape [B]`);
  }
  const rewards = o.rewards, B = rewards.length;
  if (B < 1) throw new RlcoreError('ERR_SHAPE', `${k}: rewards must have at least 1 element ([B]); received 0`);
  const bshape = () => shapeText(['B'], [B]); // built only for an error message
  if ((o.groupSize === undefined) === (o.groupIds === undefined)) {
    throw new RlcoreError('ERR_ARG', `${k}: give exactly one of groupSize and groupIds`);
  }
  let groupSize: number | undefined, groupIds: Int32Array | undefined, numGroups: number;
  if (o.groupSize !== undefined) {
    if (o.numGroups !== undefined) throw new RlcoreError('ERR_ARG', `${k}: numGroups goes with groupIds, not with groupSize`);
    groupSize = checkSize(k, 'groupSize', o.groupSize);
    if (B % groupSize !== 0) throw new RlcoreError('ERR_SHAPE', `${k}: groupSize must divide B; received groupSize ${groupSize} for B = ${B}`);
    numGroups = B / groupSize;
  } else {
    groupIds = checkArray(k, 'groupIds', o.groupIds, Int32Array, B, bshape)!;
    if (o.numGroups === undefined) {
      let max = -1;
      for (let i = 0; i < B; i++) {
        const id = groupIds[i];
        if (id < 0) throw new RlcoreError('ERR_RANGE', `${k}: groupIds[${i}] must be >= 0; received ${id}`);
        if (id > max) max = id;
      }
      numGroups = max + 1;
    } else {
      // The ids are range-checked natively (in parallel, with the same errors) before anything is written.
      numGroups = checkSize(k, 'numGroups', o.numGroups);
    }
  }
  const mode = o.mode ?? 'grpo';
  if (!MODES.includes(mode)) {
    throw new RlcoreError('ERR_ARG', `${k}: mode must be 'grpo', 'mean', 'batchStd' or 'rloo'; received ${JSON.stringify(mode)}`);
  }
  const eps = checkEps(k, o.eps, 1e-6);
  const unbiased = checkFlag(k, 'unbiased', o.unbiased, true);
  const groupStats = checkFlag(k, 'groupStats', o.groupStats, false);
  const gshape = () => shapeText(['numGroups'], [numGroups]);
  const advantages = outArray(k, 'out.advantages', o.out?.advantages, Float32Array, B, bshape);
  const zeroGroups = outArray(k, 'out.zeroGroups', o.out?.zeroGroups, Uint8Array, numGroups, gshape);
  let groupMean = checkArray(k, 'out.groupMean', o.out?.groupMean, Float32Array, numGroups, gshape, true);
  let groupStd = checkArray(k, 'out.groupStd', o.out?.groupStd, Float32Array, numGroups, gshape, true);
  if (groupStats) {
    groupMean ??= new Float32Array(numGroups);
    groupStd ??= new Float32Array(numGroups);
  }
  // Outputs sharing memory with an input or with each other are rejected natively.
  const summary = new Float64Array(2);
  const useCuda = resolveDevice(o.device) === 'cuda';
  const result: GroupNormalizeResult = { advantages, zeroGroups, zeroStdGroups: 0, zeroStdFraction: 0 };
  if (groupMean) result.groupMean = groupMean;
  if (groupStd) result.groupStd = groupStd;
  return {
    args: [rewards, groupSize, groupIds, o.groupIds ? numGroups : undefined, mode, eps, unbiased, advantages, zeroGroups, groupMean, groupStd, summary, useCuda],
    summary,
    result,
  };
}

function finish(summary: Float64Array, result: GroupNormalizeResult): GroupNormalizeResult {
  result.zeroStdGroups = summary[0];
  result.zeroStdFraction = summary[1] > 0 ? summary[0] / summary[1] : 0;
  return result;
}

/**
 * Group-relative advantages for GRPO-style training: each prompt (group g, n_g responses, reward
 * mean μ_g and standard deviation σ_g) is answered several times, and each response's reward
 * r_i is compared with the others of its group:
 *
 * ```text
 * grpo      A_i = (r_i - μ_g) / (σ_g + eps)           Shao et al. 2024 (DeepSeekMath), arXiv:2402.03300
 * mean      A_i = r_i - μ_g                           Liu et al. 2025 (Dr. GRPO), arXiv:2503.20783
 * batchStd  A_i = (r_i - μ_g) / (σ_batch + eps)       σ over all B rewards
 * rloo      A_i = r_i - (Σ_{j in g, j != i} r_j) / (n_g - 1)   Ahmadian et al. 2024, arXiv:2402.14740
 * ```
 *
 * In 'rloo' a group of one gets 0 (it has no other members); with `unbiased`, σ of a group of
 * one is 0. Groups whose rewards are all equal are flagged in `zeroGroups` (their advantages are
 * 0 in every mode) and counted in `zeroStdGroups` / `zeroStdFraction`, so callers can drop or
 * resample them (as DAPO's dynamic sampling does). Statistics accumulate in float64. Group ids
 * are checked (ERR_RANGE) before anything is written.
 *
 * @example
 * ```ts
 * const { advantages, zeroGroups } = groupNormalize({ rewards, groupSize: 8, mode: 'grpo' });
 * ```
 */
export function groupNormalize(options: GroupNormalizeOptions): GroupNormalizeResult {
  const { args, summary, result } = prepare(options);
  native().groupNormalize(...args, false);
  return finish(summary, result);
}

/**
 * {@link groupNormalize} on a libuv worker thread: the event loop stays free. Do not touch the
 * arrays until it settles; `groupIds` is copied when the call is made, so a change to it cannot
 * take the call out of bounds.
 */
export async function groupNormalizeAsync(options: GroupNormalizeOptions): Promise<GroupNormalizeResult> {
  const { args, summary, result } = prepare(options);
  await native().groupNormalize(...args, true);
  return finish(summary, result);
}
