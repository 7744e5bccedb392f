import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import type { Sequential } from './mlp.js';
import type { Adam } from './optim.js';

/** Options of {@link TwinCritic}. */
export interface TwinCriticOptions {
  /** First critic `[B, I] → [B, 1]`. */
  q1: Sequential;
  /** Second critic, a different network of the same input size. */
  q2: Sequential;
  /** Adam over q1's parameters (needed by {@link TwinCritic.train}). */
  q1Optimizer?: Adam;
  /** Adam over q2's parameters (needed by {@link TwinCritic.train}). */
  q2Optimizer?: Adam;
}

/** Losses of one {@link TwinCritic.train} step (those of {@link tdLoss}, before the update). */
export interface TwinTrainStats {
  /** ½ mean (Q_1 − y)². */
  loss1: number;
  /** ½ mean (Q_2 − y)². */
  loss2: number;
}

/**
 * Twin Q networks (clipped double Q: Fujimoto et al. 2018, arXiv:1802.09477; SAC: Haarnoja et
 * al. 2018, arXiv:1812.05905) evaluated side by side, one network per pool thread:
 *
 * ```text
 * forward:    q_i = Q_i(x)
 * train:      L_i = mean ½ (Q_i(x) − y)²;  θ_i ← Adam(θ_i, ∇θ_i L_i)          (gradients overwritten)
 * inputGrad:  ∂ min(Q_1, Q_2)/∂x, split by network: row b through Q_1 if Q_1 ≤ Q_2, else Q_2
 * ```
 *
 * Each computes exactly (bit for bit) what the one-by-one calls compute (`forward`,
 * `forwardTrain` + `tdLoss` + `zeroGrad` + `backward` + `Adam.step`, `forwardTrain` + `backward`
 * without parameter gradients), in one native call with both networks at once.
 *
 * @example
 * ```ts
 * const twin = new TwinCritic({ q1, q2, q1Optimizer, q2Optimizer });
 * twin.forward(xNext, q1Next, q2Next);         // with the target networks: new TwinCritic({ q1: q1t, q2: q2t })
 * const { loss1, loss2 } = twin.train(x, y, q1Out, q2Out, g1, g2);
 * ```
 */
export class TwinCritic {
  private readonly o: TwinCriticOptions;
  private readonly adam = new Float64Array(14);
  private readonly stats = new Float64Array(8);

  /** Checks the networks and optimisers once. */
  constructor(options: TwinCriticOptions) {
    const k = 'TwinCritic';
    const o = options;
    if (!o || typeof o !== 'object') throw new RlcoreError('ERR_ARG', `${k}: expected an options object`);
    if (o.q1 === o.q2) throw new RlcoreError('ERR_ARG', `${k}: q1 and q2 must be different networks`);
    for (const [name, q] of [['q1', o.q1], ['q2', o.q2]] as const) {
      if (q.outputSize !== 1 || q.inputSize !== o.q1.inputSize) {
        throw new RlcoreError('ERR_SHAPE', `${k}: ${name} must map ${o.q1.inputSize} inputs to 1 output; it maps ${q.inputSize} to ${q.outputSize}`);
      }
    }
    for (const [name, opt, q] of [['q1Optimizer', o.q1Optimizer, o.q1], ['q2Optimizer', o.q2Optimizer, o.q2]] as const) {
      if (opt && (opt.target?.params !== q.params || opt.target.grads !== q.grads)) {
        throw new RlcoreError('ERR_ARG', `${k}: ${name} must be an Adam over the same params and grads as its critic`);
      }
    }
    this.o = { ...o };
  }

  /** q_i = Q_i(x) for `[B, I]` inputs (inference), into `out1`, `out2` `[B]`. */
  forward(x: Float32Array, out1: Float32Array, out2: Float32Array): void {
    const o = this.o;
    native().nnTwinForward(o.q1.nativeHandle, o.q1.params, o.q2.nativeHandle, o.q2.params, x, out1, out2);
  }

  /**
   * One regression step of both critics towards targets `y` `[B]`: Q_i(x) into `out_i`, ∂L_i/∂Q_i
   * into `grad_i` (`[B]` each), then an Adam step (learning rate: the optimiser's `lr`) on each.
   */
  train(x: Float32Array, y: Float32Array, out1: Float32Array, out2: Float32Array, grad1: Float32Array, grad2: Float32Array): TwinTrainStats {
    const o = this.o, a = this.adam, opts = [o.q1Optimizer, o.q2Optimizer];
    for (let i = 0; i < 2; i++) {
      const opt = opts[i];
      if (!opt) throw new RlcoreError('ERR_ARG', `TwinCritic.train: q${i + 1}Optimizer is required`);
      a[i * 7] = opt.stepCount + 1;
      a[i * 7 + 1] = opt.lr;
      a[i * 7 + 2] = opt.beta1;
      a[i * 7 + 3] = opt.beta2;
      a[i * 7 + 4] = opt.eps;
      a[i * 7 + 5] = opt.weightDecay;
      a[i * 7 + 6] = opt.decoupled ? 1 : 0;
    }
    const m1 = opts[0]!, m2 = opts[1]!;
    native().nnTwinTrain(o.q1.nativeHandle, o.q1.params, o.q2.nativeHandle, o.q2.params, x, out1, out2, y, grad1, grad2,
      o.q1.grads, m1.m, m1.v, o.q2.grads, m2.m, m2.v, a, this.stats);
    m1.stepCount++;
    m2.stepCount++;
    return { loss1: this.stats[0], loss2: this.stats[4] };
  }

  /**
   * Training-mode Q_i(x) into `out_i` `[B]`, then ∂ min(Q_1, Q_2)/∂x `[B, I]` split by network:
   * `gradX1` holds row b's gradient through Q_1 where Q_1 ≤ Q_2 (zero elsewhere), `gradX2`
   * through Q_2 on the other rows. `grad_i` `[B]` receive the 0/1 row masks. No parameter
   * gradients are touched.
   */
  inputGrad(x: Float32Array, out1: Float32Array, out2: Float32Array, grad1: Float32Array, grad2: Float32Array, gradX1: Float32Array, gradX2: Float32Array): void {
    const o = this.o;
    native().nnTwinInputGrad(o.q1.nativeHandle, o.q1.params, o.q2.nativeHandle, o.q2.params, x, out1, out2, grad1, grad2, gradX1, gradX2);
  }
}
