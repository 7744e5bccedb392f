import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkNumber, checkSize } from '../validate.js';
import type { Sequential } from './mlp.js';
import type { Adam } from './optim.js';

/** Options of {@link PpoUpdate}. */
export interface PpoUpdateOptions {
  /** Policy network `[M, D] → [M, A]` (logits, or Gaussian means). */
  actor: Sequential;
  /** Value network `[M, D] → [M, 1]`, a different network. */
  critic: Sequential;
  /** Adam over the actor's parameters. */
  actorOptimizer: Adam;
  /** Adam over the critic's parameters. */
  criticOptimizer: Adam;
  /** Continuous actions: the free log σ `[A]`, its gradient and its Adam. Omitted: categorical actions. */
  logStd?: { params: Float32Array; grads: Float32Array; optimizer: Adam };
  /** Rows per minibatch (M). */
  minibatchSize: number;
  /** Surrogate clip range ε (also the value clip range). */
  clipCoef: number;
  /** Entropy bonus coefficient c_H. */
  entCoef: number;
  /** Value loss coefficient c_V. */
  vfCoef: number;
  /** Global gradient-norm clip c. */
  maxGradNorm: number;
  /** Clip the value loss around the rollout's values. */
  clipVloss: boolean;
  /** Normalise the advantages per minibatch (unbiased std, ε = 1e-8). */
  normAdv: boolean;
}

/** The rollout a minibatch is drawn from: B rows, time-major or not (rows are picked by index). */
export interface PpoRollout {
  /** `[B, D]` observations. */
  obs: Float32Array;
  /** `[B]` categorical actions or `[B, A]` continuous ones. */
  actions: Int32Array | Float32Array;
  /** `[B]` log π_old(a|s). */
  logProbs: Float32Array;
  /** `[B]` V_old(s). */
  values: Float32Array;
  /** `[B]` return targets. */
  returns: Float32Array;
  /** `[B]` advantages (unnormalised). */
  advantages: Float32Array;
}

/** Outputs of {@link PpoUpdate.act}, N rows each. */
export interface PpoActOutputs {
  /** `[N]` sampled categorical actions, or `[N, A]` Gaussian samples. */
  actions: Int32Array | Float32Array;
  /** `[N]` log π(a|s). */
  logProb: Float32Array;
  /** `[N]` entropy of π(·|s). */
  entropy: Float32Array;
  /** `[N]` V(s). */
  values: Float32Array;
}

/** Statistics of one {@link PpoUpdate.step} (those of {@link ppoLoss} and {@link valueLoss}, before the update). */
export interface PpoUpdateStats {
  /** Policy loss including the entropy term. */
  loss: number;
  /** Clipped surrogate loss alone. */
  policyLoss: number;
  /** Mean entropy. */
  entropy: number;
  /** Fraction of samples with |r − 1| > ε. */
  clipFraction: number;
  /** mean((r − 1) − log r). */
  approxKl: number;
  /** mean(−log r). */
  oldApproxKl: number;
  /** ½ mean (clipped) squared value error, before c_V. */
  valueLoss: number;
  /** Fraction of samples with |V − V_old| > ε. */
  valueClipFraction: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/**
 * One PPO minibatch update of a separate actor and critic (Schulman et al. 2017,
 * arXiv:1707.06347; CleanRL's ppo.py), as one native call:
 *
 * ```text
 * Â = whiten(A[idx])                                   (when normAdv)
 * L = −mean min(r Â, clip(r, 1 − ε, 1 + ε) Â) − c_H mean H + c_V · ½ mean max((V − R)², (V_clip − R)²)
 * g = ∇L;  g ← g · c / (‖g‖ + 1e-6) if ‖g‖ > c          (‖g‖ over actor, critic and log σ)
 * Adam step of every part with learning rate lr
 * ```
 *
 * It computes exactly (bit for bit) what the unfused sequence computes: `gatherRows`, `whiten`,
 * `forwardTrain`, `categoricalLogProb` / `gaussianLogProb`, `ppoLoss`, the distribution's
 * backward, `valueLoss`, `backward`, `nnClipGradNorm`, `Adam.step`; but the actor's and the
 * critic's passes run at the same time on the thread pool, and nothing is allocated per call.
 * The networks' gradients are overwritten; their caches hold the minibatch afterwards.
 *
 * @example
 * ```ts
 * const upd = new PpoUpdate({ actor, critic, actorOptimizer, criticOptimizer, minibatchSize: 128, clipCoef: 0.2, entCoef: 0.01, vfCoef: 0.5, maxGradNorm: 0.5, clipVloss: true, normAdv: true });
 * for (const idx of minibatches) upd.step(rollout, idx, lr);
 * ```
 */
export class PpoUpdate {
  /** Rows per minibatch. */
  readonly minibatchSize: number;
  private readonly o: PpoUpdateOptions;
  private readonly handle: unknown;
  private readonly coefs: Float64Array;
  private readonly adam = new Float64Array(21);
  private readonly stats = new Float64Array(10);
  private readonly noLogStd: [undefined, undefined, undefined, undefined] = [undefined, undefined, undefined, undefined];

  /** Checks the networks, optimisers and coefficients once; allocates the minibatch scratch. */
  constructor(options: PpoUpdateOptions) {
    const k = 'PpoUpdate';
    const o = options;
    if (!o || typeof o !== 'object') throw new RlcoreError('ERR_ARG', `${k}: expected an options object`);
    const { actor, critic } = o;
    if (actor === critic) throw new RlcoreError('ERR_ARG', `${k}: actor and critic must be different networks`);
    const own = (name: string, opt: Adam, p: { params: Float32Array; grads: Float32Array }) => {
      if (!opt || opt.target?.params !== p.params || opt.target.grads !== p.grads) {
        throw new RlcoreError('ERR_ARG', `${k}: ${name} must be an Adam over the same params and grads`);
      }
    };
    own('actorOptimizer', o.actorOptimizer, actor);
    own('criticOptimizer', o.criticOptimizer, critic);
    if (critic.inputSize !== actor.inputSize || critic.outputSize !== 1) {
      throw new RlcoreError('ERR_SHAPE', `${k}: the critic must map the actor's ${actor.inputSize} inputs to 1 output; it maps ${critic.inputSize} to ${critic.outputSize}`);
    }
    const A = actor.outputSize;
    if (o.logStd) {
      if (!(o.logStd.params instanceof Float32Array) || o.logStd.params.length !== A) throw new RlcoreError('ERR_SHAPE', `${k}: logStd.params must be a Float32Array of shape [A] = [${A}]`);
      own('logStd.optimizer', o.logStd.optimizer, o.logStd);
    }
    this.minibatchSize = checkSize(k, 'minibatchSize', o.minibatchSize);
    this.coefs = Float64Array.of(
      checkNumber(k, 'clipCoef', o.clipCoef, 0, 1e30),
      checkNumber(k, 'entCoef', o.entCoef, -1e30, 1e30),
      checkNumber(k, 'vfCoef', o.vfCoef, 0, 1e30),
      checkNumber(k, 'maxGradNorm', o.maxGradNorm, 0, 1e30),
      o.clipVloss ? 1 : 0,
      o.normAdv ? 1 : 0,
    );
    this.o = { ...o };
    this.handle = native().nnPpoUpdateCreate(this.minibatchSize, actor.inputSize, A, !o.logStd);
  }

  /**
   * One rollout step of the policy for `[N, D]` observations: actor and critic forward
   * (inference), then a ~ π(·|s) with row b from Philox stream (seed, b), its log-probability
   * and the entropy, as {@link Sequential.forward} and `categoricalSample` / `gaussianSample`
   * compute them. `envActions` gets the actions, clipped to `[low, high]` for continuous ones
   * (the rollout keeps the unclipped sample).
   */
  act(obs: Float32Array, seed: number, out: PpoActOutputs, envActions: Int32Array | Float32Array, low?: Float32Array, high?: Float32Array): void {
    const o = this.o;
    native().nnPpoAct(this.handle, o.actor.nativeHandle, o.actor.params, o.critic.nativeHandle, o.critic.params, o.logStd?.params,
      obs, seed, out.actions, out.logProb, out.entropy, out.values, envActions, low, high);
  }

  /**
   * Updates on the minibatch `indices` `[M]` (rows of `rollout`, each in [0, B)) with learning
   * rate `lr` for every optimiser; each optimiser's step count advances by one. Throws
   * ERR_RANGE, changing no parameter, for a non-finite policy gradient or gradient norm.
   */
  step(rollout: PpoRollout, indices: Int32Array, lr: number): PpoUpdateStats {
    const o = this.o, a = this.adam, opts = [o.actorOptimizer, o.criticOptimizer, o.logStd?.optimizer];
    const rate = checkNumber('PpoUpdate.step', 'lr', lr, 0, 1e6);
    for (let i = 0; i < 3; i++) {
      const opt = opts[i];
      if (!opt) continue;
      a[i * 7] = opt.stepCount + 1;
      a[i * 7 + 1] = rate;
      a[i * 7 + 2] = opt.beta1;
      a[i * 7 + 3] = opt.beta2;
      a[i * 7 + 4] = opt.eps;
      a[i * 7 + 5] = opt.weightDecay;
      a[i * 7 + 6] = opt.decoupled ? 1 : 0;
    }
    const ls = o.logStd ? [o.logStd.params, o.logStd.grads, o.logStd.optimizer.m, o.logStd.optimizer.v] : this.noLogStd;
    const ac = o.actorOptimizer, cr = o.criticOptimizer;
    native().nnPpoUpdate(
      this.handle,
      o.actor.nativeHandle, o.actor.params, o.actor.grads, ac.m, ac.v,
      o.critic.nativeHandle, o.critic.params, o.critic.grads, cr.m, cr.v,
      ls[0], ls[1], ls[2], ls[3],
      rollout.obs, rollout.actions, rollout.logProbs, rollout.values, rollout.returns, rollout.advantages, indices,
      this.coefs, a, this.stats,
    );
    for (const opt of opts) if (opt) opt.stepCount++;
    const s = this.stats;
    return { loss: s[0], policyLoss: s[1], entropy: s[2], clipFraction: s[3], approxKl: s[4], oldApproxKl: s[5], valueLoss: s[6], valueClipFraction: s[7], gradNorm: s[9] };
  }
}
