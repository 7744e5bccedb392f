import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkDisjoint } from '../dist/common.js';
import { checkArray, checkNumber, checkShape, checkStepParam, outArray, requireArray, shapeText } from '../validate.js';

/**
 * Inputs of {@link tdLoss}. Give either `targets`, or `rewards` with `nextQ` (and optionally
 * `dones`, `gamma`, `nextQSelect`) to build them.
 */
export interface TdLossOptions {
  /** `[B, A]`: B transitions, A discrete actions (A = 1 for a critic Q(s, a) of continuous actions). */
  shape: [B: number, A: number];
  /** `[B, A]` Q(s_b, ·) of the online network. */
  q: Float32Array;
  /** `[B]` taken actions in [0, A); required when A > 1. */
  actions?: Int32Array;
  /** `[B]` TD targets y computed by the caller (e.g. SAC's soft target). */
  targets?: Float32Array;
  /** `[B]` rewards r (n-step returns for n-step targets). */
  rewards?: Float32Array;
  /** `[B]` 1 where s' is terminal (no bootstrap). Omitted: none. */
  dones?: Uint8Array;
  /** `[B]` bootstrap values v', or `[B, A]` target-network Q'(s', ·) (max over actions, or Double DQN with `nextQSelect`). */
  nextQ?: Float32Array;
  /** `[B, A]` online-network Q(s', ·): its argmax picks the action whose `nextQ` is used (Double DQN). */
  nextQSelect?: Float32Array;
  /** Discount in [0, 1]: a number or `[B]` (e.g. γ^n per sample). Default 0.99. */
  gamma?: number | Float32Array;
  /** `[B]` importance-sampling weights (prioritized replay), finite and ≥ 0. Omitted: 1. */
  weights?: Float32Array;
  /** 'mse' (½ δ²) or 'huber' (SB3/DQN's smooth L1 with threshold `delta`). Default 'mse'. */
  kind?: 'mse' | 'huber';
  /** Huber threshold > 0 (finite). Default 1. */
  delta?: number;
  /** Caller-provided outputs; when given, nothing is allocated but the statistics. */
  out?: Partial<Pick<TdLossResult, 'grad' | 'tdAbs' | 'targets'>>;
  /** Where to run; default RLCORE_DEVICE or 'auto'. These host-array kernels run on the CPU either way. */
  device?: Device;
}

/** Outputs of {@link tdLoss}. */
export interface TdLossResult {
  /** mean_b w_b ρ(δ_b). */
  loss: number;
  /** mean Q(s, a). */
  meanQ: number;
  /** mean |δ|. */
  meanAbsTd: number;
  /** mean target y. */
  meanTarget: number;
  /** `[B, A]` dL/dQ(s, ·): nonzero only at the taken action. */
  grad: Float32Array;
  /** `[B]` |δ_b| = |Q(s_b, a_b) − y_b|, the new priorities for prioritized replay. */
  tdAbs: Float32Array;
  /** `[B]` the targets y used. */
  targets: Float32Array;
}

const SYNC_STATS = new Float64Array(4);

function prepare(isAsync: boolean, o: TdLossOptions) {
  const k = 'tdLoss';
  const [B, A] = checkShape(k, 'shape', o?.shape, ['B', 'A']);
  const ba = shapeText(['B', 'A'], [B, A]), b1 = shapeText(['B'], [B]);
  const q = requireArray(k, 'q', o.q, Float32Array, B * A, ba);
  const actions = checkArray(k, 'actions', o.actions, Int32Array, B, b1, A === 1);
  const targets = checkArray(k, 'targets', o.targets, Float32Array, B, b1, true);
  const rewards = checkArray(k, 'rewards', o.rewards, Float32Array, B, b1, true);
  const dones = checkArray(k, 'dones', o.dones, Uint8Array, B, b1, true);
  let nextQ: Float32Array | undefined;
  if (o.nextQ !== undefined) {
    if (!(o.nextQ instanceof Float32Array)) throw new RlcoreError('ERR_DTYPE', `${k}: nextQ must be a Float32Array of shape [B] or [B, A]`);
    if (o.nextQ.length !== B && o.nextQ.length !== B * A) throw new RlcoreError('ERR_SHAPE', `${k}: nextQ must have ${B} ([B]) or ${B * A} ([B, A]) elements; received ${o.nextQ.length}`);
    nextQ = o.nextQ;
  }
  const nextQSelect = checkArray(k, 'nextQSelect', o.nextQSelect, Float32Array, B * A, ba, true);
  if (!!targets === !!(rewards || nextQ)) throw new RlcoreError('ERR_ARG', `${k}: give either targets ([B]) or rewards ([B]) with nextQ ([B] or [B, A])`);
  if (!targets && (!rewards || !nextQ)) throw new RlcoreError('ERR_ARG', `${k}: computing targets needs both rewards ([B]) and nextQ ([B] or [B, A])`);
  if (nextQSelect && nextQ && nextQ.length === B && A > 1) throw new RlcoreError('ERR_ARG', `${k}: nextQSelect (Double DQN) needs nextQ of shape [B, A]`);
  const gamma = targets ? 0 : checkStepParam(k, 'gamma', o.gamma, B, 1, 0, 1, 0.99);
  const weights = checkArray(k, 'weights', o.weights, Float32Array, B, b1, true);
  const kind = o.kind ?? 'mse';
  if (kind !== 'mse' && kind !== 'huber') throw new RlcoreError('ERR_ARG', `${k}: kind must be 'mse' or 'huber'; received ${JSON.stringify(kind)}`);
  const delta = checkNumber(k, 'delta', o.delta, Number.MIN_VALUE, 1e30, 1);
  const grad = outArray(k, 'out.grad', o.out?.grad, Float32Array, B * A, ba);
  const tdAbs = outArray(k, 'out.tdAbs', o.out?.tdAbs, Float32Array, B, b1);
  const targetsOut = outArray(k, 'out.targets', o.out?.targets, Float32Array, B, b1);
  checkDisjoint(
    k,
    [['out.grad', grad], ['out.tdAbs', tdAbs], ['out.targets', targetsOut]],
    [['q', q], ['actions', actions], ['targets', targets], ['rewards', rewards], ['dones', dones], ['nextQ', nextQ], ['nextQSelect', nextQSelect], ['gamma', gamma], ['weights', weights]],
  );
  const useCuda = resolveDevice(o.device) === 'cuda';
  // Sync calls share one statistics buffer (read right after the call); async calls get their own.
  const stats = isAsync ? new Float64Array(4) : SYNC_STATS;
  return {
    args: [B, A, q, actions, targets, rewards, dones, nextQ, nextQSelect, gamma, weights, kind === 'huber' ? delta : 0, grad, tdAbs, targetsOut, stats, useCuda],
    stats, grad, tdAbs, targetsOut,
  };
}

function finish(p: ReturnType<typeof prepare>): TdLossResult {
  const s = p.stats;
  return { loss: s[0], meanQ: s[1], meanAbsTd: s[2], meanTarget: s[3], grad: p.grad, tdAbs: p.tdAbs, targets: p.targetsOut };
}

/**
 * Q-learning TD loss: DQN (Mnih et al. 2015), Double DQN (van Hasselt et al. 2016,
 * arXiv:1509.06461), with importance weights for prioritized replay (Schaul et al. 2016,
 * arXiv:1511.05952):
 *
 * ```text
 * y_b = r_b + γ_b (1 − done_b) v'_b,   v'_b = nextQ_b  |  max_a Q'(s'_b, a)  |  Q'(s'_b, argmax_a Q(s'_b, a))
 * δ_b = Q(s_b, a_b) − y_b
 * L   = mean_b w_b ρ(δ_b),   ρ = ½ δ²  or  Huber
 * ∂L/∂Q(s_b, a_b) = w_b ρ'(δ_b) / B   (targets are constants)
 * ```
 *
 * The argmax takes the first maximum. Throws ERR_RANGE for an action outside [0, A) or a
 * negative or non-finite weight, before writing.
 *
 * @example
 * ```ts
 * const td = tdLoss({ shape: [B, A], q, actions, rewards, dones, nextQ: qTargetNext, nextQSelect: qOnlineNext, gamma: 0.99, kind: 'huber', weights });
 * replay.updatePriorities(indices, td.tdAbs);
 * ```
 */
export function tdLoss(options: TdLossOptions): TdLossResult {
  const p = prepare(false, options);
  native().tdLoss(...p.args, false);
  return finish(p);
}

/** {@link tdLoss} on a libuv worker thread. Do not touch the arrays until it settles. */
export async function tdLossAsync(options: TdLossOptions): Promise<TdLossResult> {
  const p = prepare(true, options);
  await native().tdLoss(...p.args, true);
  return finish(p);
}
