import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkArray, checkNumber, checkShape, outArray, requireArray, shapeText } from '../validate.js';

/**
 * Inputs of {@link tokenGae}. Token arrays use one of two layouts:
 *
 * - packed: all sequences back to back in one flat buffer of `total` tokens, described by
 *   `lengths` (`[B]`) or `offsets` (`[B+1]`, sequence b is `[offsets[b], offsets[b+1])`);
 * - padded: `shape: [B, L]` (row-major, index `b * L + t`) with an optional `mask`.
 */
export interface TokenGaeOptions {
  /** Packed layout: `[B]` tokens in each sequence (each >= 0, summing to `values.length`). */
  lengths?: Int32Array;
  /** Packed layout: `[B+1]` sequence starts, non-decreasing, `offsets[0] = 0`, `offsets[B] = values.length`. */
  offsets?: Int32Array;
  /** Padded layout: `[B, L]`, B sequences of L token slots. */
  shape?: [B: number, L: number];
  /**
   * Padded layout: `[B, L]` 1 for tokens that take part (e.g. response tokens), 0 for the others
   * (padding, prompt or tool-output tokens). Masked-out tokens are skipped: the recurrence passes
   * through them to the next valid token, their rewards are ignored, and their advantages and
   * returns are 0. Omitted: every token is valid.
   */
  mask?: Uint8Array;
  /** Per-token rewards r_t (same layout as `values`). Omitted: 0. */
  rewards?: Float32Array;
  /** `[B]` sequence-level reward R_b, added to the reward of each sequence's last valid token. */
  terminalRewards?: Float32Array;
  /** Per-token value estimates V_t (`[total]` packed, `[B, L]` padded). */
  values: Float32Array;
  /** Discount γ in [0, 1]. Default 1. */
  gamma?: number;
  /** GAE λ in [0, 1]. Default 0.95. */
  lambda?: number;
  /** Caller-provided outputs; when given, nothing is allocated. */
  out?: Partial<TokenGaeResult>;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Outputs of {@link tokenGae}, in the layout of the inputs. */
export interface TokenGaeResult {
  /** Advantages A_t (0 at masked-out tokens). */
  advantages: Float32Array;
  /** Value targets A_t + V_t (0 at masked-out tokens). */
  returns: Float32Array;
}

// Checks the options and calls the native kernel (async: on a worker, returning its promise).
// The arguments are passed one by one, not spread from an array: in cache that is ~5% of a call.
function run(o: TokenGaeOptions, async: boolean): { done: unknown; result: TokenGaeResult } {
  const k = 'tokenGae';
  if (o === null || typeof o !== 'object') {
    throw new RlcoreError('ERR_ARG', `${k}: expected an options object; received ${o === null ? 'null' : typeof o}`);
  }
  const values = o.values;
  if (!(values instanceof Float32Array)) {
    throw new RlcoreError('ERR_DTYPE', `${k}: values must be a Float32Array of tokens; received ${values === undefined ? 'undefined' : typeof values}`);
  }
  const packed = o.lengths !== undefined || o.offsets !== undefined;
  if (o.lengths !== undefined && o.offsets !== undefined) throw new RlcoreError('ERR_ARG', `${k}: give lengths or offsets, not both`);
  let B: number, L: number | undefined, total: number, tshape: () => string; // shape texts: built only for errors
  let lengths: Int32Array | undefined, offsets: Int32Array | undefined, mask: Uint8Array | undefined;
  if (packed) {
    if (o.shape !== undefined || o.mask !== undefined) {
      throw new RlcoreError('ERR_ARG', `${k}: the packed layout (lengths/offsets) takes no shape and no mask`);
    }
    total = values.length;
    if (o.lengths !== undefined) {
      if (!(o.lengths instanceof Int32Array)) throw new RlcoreError('ERR_DTYPE', `${k}: lengths must be an Int32Array of shape [B]`);
      lengths = o.lengths;
      B = lengths.length;
    } else {
      if (!(o.offsets instanceof Int32Array)) throw new RlcoreError('ERR_DTYPE', `${k}: offsets must be an Int32Array of shape [B+1]`);
      offsets = o.offsets;
      B = offsets.length - 1;
    }
    if (B < 1) throw new RlcoreError('ERR_SHAPE', `${k}: the packed layout needs at least one sequence; received B = ${Math.max(B, 0)}`);
    const t = total;
    tshape = () => `[total] = [${t}]`;
  } else {
    if (o.shape === undefined) {
      throw new RlcoreError('ERR_ARG', `${k}: give lengths or offsets (packed layout), or shape [B, L] (padded layout)`);
    }
    [B, L] = checkShape(k, 'shape', o.shape, ['B', 'L']);
    total = B * L;
    const [b, l] = [B, L];
    tshape = () => shapeText(['B', 'L'], [b, l]);
    requireArray(k, 'values', values, Float32Array, total, tshape);
    mask = checkArray(k, 'mask', o.mask, Uint8Array, total, tshape, true);
  }
  const rewards = checkArray(k, 'rewards', o.rewards, Float32Array, total, tshape, true);
  const terminalRewards = checkArray(k, 'terminalRewards', o.terminalRewards, Float32Array, B, () => shapeText(['B'], [B]), true);
  if (!rewards && !terminalRewards) throw new RlcoreError('ERR_ARG', `${k}: give rewards, terminalRewards or both`);
  const gamma = checkNumber(k, 'gamma', o.gamma, 0, 1, 1);
  const lambda = checkNumber(k, 'lambda', o.lambda, 0, 1, 0.95);
  const advantages = outArray(k, 'out.advantages', o.out?.advantages, Float32Array, total, tshape);
  const returns = outArray(k, 'out.returns', o.out?.returns, Float32Array, total, tshape);
  // Outputs sharing memory with an input or with each other are rejected natively.
  const useCuda = resolveDevice(o.device) === 'cuda';
  const done: unknown = native().tokenGae(lengths, offsets, packed ? undefined : B, L, mask, rewards, terminalRewards, values, gamma, lambda, advantages, returns, useCuda, async);
  return { done, result: { advantages, returns } };
}

/**
 * Generalized Advantage Estimation (Schulman et al. 2016, arXiv:1506.02438) over a batch of
 * token sequences of different lengths, as PPO for language models uses it. Every sequence ends
 * at its last token (no bootstrap), and an optional sequence-level reward R_b (a reward model's
 * score) is added there:
 *
 * ```text
 * δ_t = r_t + [t = last] R_b + γ V_{t+1} - V_t,   V after the last token = 0
 * A_t = δ_t + γ λ A_{t+1},                        A after the last token = 0
 * G_t = A_t + V_t
 * ```
 *
 * With the padded layout and a mask, masked-out tokens are skipped (t+1 is the next valid token
 * of the row, as in verl) and get A = G = 0. For one sequence this equals {@link gae} on
 * `[T, 1]` with `terminated` set at the last token. Offsets and lengths are checked (negative,
 * decreasing, or not matching the buffer: RlcoreError) before anything is written. Many short
 * sequences run in parallel; where AVX-512 is compiled in, unmasked sequences are scanned 16
 * tokens per step in registers (δ_t, the sums within a block of 16 tokens and G_t = A_t + V_t
 * rounded in float32; the value carried from block to block along the sequence in float64), so
 * one long sequence (10^6 tokens, say) runs at memory speed on one thread; otherwise long
 * sequences are split over time across threads and accumulate in float64. Offsets
 * are int32, so a packed batch holds at most 2^31 - 1 tokens.
 *
 * @example
 * ```ts
 * const { advantages, returns } = tokenGae({ lengths, values, terminalRewards: scores, gamma: 1, lambda: 0.95 });
 * ```
 */
export function tokenGae(options: TokenGaeOptions): TokenGaeResult {
  return run(options, false).result;
}

/**
 * {@link tokenGae} on a libuv worker thread: the event loop stays free. Do not touch the arrays
 * until it settles; `lengths` and `offsets` are copied when the call is made, so a change to them
 * cannot take the call out of bounds.
 */
export async function tokenGaeAsync(options: TokenGaeOptions): Promise<TokenGaeResult> {
  const { done, result } = run(options, true);
  await done;
  return result;
}
