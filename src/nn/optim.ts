import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkNumber, requireArray } from '../validate.js';
import type { SafetensorsContents, Tensor } from './safetensors.js';
import type { ParamInfo } from './mlp.js';

/** What an optimiser updates: a flat parameter vector and its gradient (a {@link Sequential} is one). */
export interface Parametrized {
  /** Parameters, updated in place. */
  params: Float32Array;
  /** Gradients, read. */
  grads: Float32Array;
  /** Optional per-tensor layout, used to name optimiser state in files. */
  paramInfo?: readonly ParamInfo[];
}

function target(kernel: string, t: unknown): Parametrized {
  const p = t as Parametrized | undefined;
  if (!p || !(p.params instanceof Float32Array)) {
    throw new RlcoreError('ERR_ARG', `${kernel}: expected a network or { params, grads } of Float32Arrays`);
  }
  requireArray(kernel, 'grads', p.grads, Float32Array, p.params.length, `[P] = [${p.params.length}]`);
  if (p.grads.buffer === p.params.buffer && p.grads.byteOffset < p.params.byteOffset + p.params.byteLength && p.params.byteOffset < p.grads.byteOffset + p.grads.byteLength) {
    throw new RlcoreError('ERR_ARG', `${kernel}: grads must not share memory with params`);
  }
  return p;
}

// Names of the state tensors of a flat buffer: per parameter when the layout is known.
function stateTensors(prefix: string, buf: Float32Array, info: readonly ParamInfo[] | undefined): Record<string, Tensor> {
  if (!info) return { [prefix]: { dtype: 'F32', shape: [buf.length], data: buf } };
  const out: Record<string, Tensor> = {};
  for (const p of info) out[`${prefix}.${p.name}`] = { dtype: 'F32', shape: [...p.shape], data: buf.subarray(p.offset, p.offset + p.length) };
  return out;
}

function loadStateTensors(kernel: string, prefix: string, buf: Float32Array, info: readonly ParamInfo[] | undefined, state: Record<string, Tensor>): Array<() => void> {
  const parts = info ?? [{ name: '', shape: [buf.length], offset: 0, length: buf.length }];
  return parts.map((p) => {
    const name = info ? `${prefix}.${p.name}` : prefix;
    const t = state[name];
    if (!t) throw new RlcoreError('ERR_ARG', `${kernel}: state has no tensor ${JSON.stringify(name)}`);
    if (t.dtype !== 'F32' || t.shape.join() !== p.shape.join()) {
      throw new RlcoreError('ERR_SHAPE', `${kernel}: tensor ${JSON.stringify(name)} must be F32 of shape [${p.shape.join(', ')}]; received ${t.dtype} [${t.shape.join(', ')}]`);
    }
    return () => buf.set(t.data as Float32Array, p.offset);
  });
}

function stepOf(kernel: string, metadata: Record<string, string> | undefined, key: string): number {
  const s = Number(metadata?.[key]);
  if (!Number.isInteger(s) || s < 0) throw new RlcoreError('ERR_ARG', `${kernel}: metadata ${JSON.stringify(key)} must be a step count; received ${JSON.stringify(metadata?.[key])}`);
  return s;
}

/** Options of {@link Adam} and {@link AdamW}. */
export interface AdamOptions {
  /** Learning rate; default 1e-3. Can be overridden per {@link Adam.step}. */
  lr?: number;
  /** (β₁, β₂); default (0.9, 0.999). */
  betas?: [number, number];
  /** ε; default 1e-8. */
  eps?: number;
  /** Weight decay λ; default 0 for Adam (L2, added to g), 0.01 for AdamW (decoupled). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba 2015, arXiv:1412.6980) as one fused native pass over params, grads and the
 * moments. At step t (1, 2, ...):
 *
 * ```text
 * g  = ∇θ + λ θ                       (Adam; AdamW instead decays θ ← θ (1 − lr λ))
 * m  = β₁ m + (1 − β₁) g,   v = β₂ v + (1 − β₂) g²
 * θ −= lr / (1 − β₁ᵗ) · m / (sqrt(v) / sqrt(1 − β₂ᵗ) + ε)
 * ```
 * (PyTorch's form of the bias correction.) Gradients are read, not cleared.
 *
 * @example
 * ```ts
 * const opt = new Adam(net, { lr: 3e-4 });
 * net.zeroGrad(); net.forwardTrain(x); net.backward(dy); opt.step(lrNow);
 * ```
 */
export class Adam {
  /** First moment m, same layout as the parameters. */
  readonly m: Float32Array;
  /** Second moment v. */
  readonly v: Float32Array;
  /** Steps taken (t of the last step). */
  stepCount = 0;
  /** Learning rate used when {@link step} gets none. */
  lr: number;
  /** β₁. */
  readonly beta1: number;
  /** β₂. */
  readonly beta2: number;
  /** ε. */
  readonly eps: number;
  /** Weight decay λ. */
  readonly weightDecay: number;
  /** True for AdamW's decoupled weight decay. */
  readonly decoupled: boolean;
  private readonly t: Parametrized;

  /** Creates zeroed moments for `params` (a network or `{ params, grads }`). */
  constructor(params: Parametrized, options: AdamOptions = {}, decoupled = false) {
    const k = decoupled ? 'AdamW' : 'Adam';
    this.t = target(k, params);
    this.lr = checkNumber(k, 'lr', options.lr, 0, 1e6, 1e-3);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new RlcoreError('ERR_ARG', `${k}: betas must be [beta1, beta2]`);
    this.beta1 = checkNumber(k, 'betas[0]', betas[0], 0, 0.999999);
    this.beta2 = checkNumber(k, 'betas[1]', betas[1], 0, 0.999999);
    this.eps = checkNumber(k, 'eps', options.eps, 0, 1, 1e-8);
    this.weightDecay = checkNumber(k, 'weightDecay', options.weightDecay, 0, 1e6, decoupled ? 0.01 : 0);
    this.decoupled = decoupled;
    this.m = new Float32Array(this.t.params.length);
    this.v = new Float32Array(this.t.params.length);
  }

  /** @internal What this optimiser updates, for fused kernels that step it (src/nn/ppo_update.ts). */
  get target(): Parametrized {
    return this.t;
  }

  private args(lr: number | undefined): unknown[] {
    const k = this.decoupled ? 'AdamW.step' : 'Adam.step';
    const rate = checkNumber(k, 'lr', lr, 0, 1e6, this.lr);
    return [this.t.params, this.t.grads, this.m, this.v, this.stepCount + 1, rate, this.beta1, this.beta2, this.eps, this.weightDecay, this.decoupled, false];
  }

  /** One update with learning rate `lr` (default: the `lr` property); a NaN or negative lr throws ERR_RANGE and changes nothing. */
  step(lr?: number): void {
    native().nnAdam(...this.args(lr), false);
    this.stepCount++;
  }

  /** {@link step} on a libuv worker thread. */
  async stepAsync(lr?: number): Promise<void> {
    const pending = native().nnAdam(...this.args(lr), true);
    this.stepCount++;
    await pending;
  }

  /** Clears the moments and the step count. */
  reset(): void {
    this.m.fill(0);
    this.v.fill(0);
    this.stepCount = 0;
  }

  /** State tensors (`exp_avg.<param>`, `exp_avg_sq.<param>`, views) and metadata (`step`). */
  stateDict(): SafetensorsContents {
    return {
      tensors: { ...stateTensors('exp_avg', this.m, this.t.paramInfo), ...stateTensors('exp_avg_sq', this.v, this.t.paramInfo) },
      metadata: { step: String(this.stepCount) },
    };
  }

  /** Restores {@link stateDict} output; checks everything before writing anything. */
  loadStateDict(state: Pick<SafetensorsContents, 'tensors'> & Partial<SafetensorsContents>): void {
    const k = this.decoupled ? 'AdamW.loadStateDict' : 'Adam.loadStateDict';
    const writes = [
      ...loadStateTensors(k, 'exp_avg', this.m, this.t.paramInfo, state.tensors),
      ...loadStateTensors(k, 'exp_avg_sq', this.v, this.t.paramInfo, state.tensors),
    ];
    const step = stepOf(k, state.metadata, 'step');
    for (const w of writes) w();
    this.stepCount = step;
  }
}

/**
 * AdamW (Loshchilov & Hutter 2019, arXiv:1711.05101): {@link Adam} with decoupled weight decay
 * θ ← θ (1 − lr λ) before the Adam update; default λ = 0.01.
 */
export class AdamW extends Adam {
  /** Creates zeroed moments for `params`. */
  constructor(params: Parametrized, options: AdamOptions = {}) {
    super(params, options, true);
  }
}

/** Options of {@link Sgd}. */
export interface SgdOptions {
  /** Learning rate; default 1e-2. */
  lr?: number;
  /** Momentum μ in [0, 1]; default 0. */
  momentum?: number;
  /** Dampening in [0, 1]; default 0. */
  dampening?: number;
  /** L2 weight decay λ; default 0. */
  weightDecay?: number;
  /** Nesterov momentum (needs μ > 0, dampening 0); default false. */
  nesterov?: boolean;
}

/**
 * SGD with momentum (PyTorch's form; Sutskever et al. 2013), one fused native pass:
 *
 * ```text
 * g = ∇θ + λ θ
 * b = g (first step) or μ b + (1 − dampening) g
 * θ −= lr · (nesterov ? g + μ b : b)          (μ = 0: θ −= lr g)
 * ```
 */
export class Sgd {
  /** Momentum buffer (empty when μ = 0). */
  readonly momentumBuffer: Float32Array;
  /** Steps taken. */
  stepCount = 0;
  /** Learning rate used when {@link step} gets none. */
  lr: number;
  /** μ. */
  readonly momentum: number;
  /** Dampening. */
  readonly dampening: number;
  /** λ. */
  readonly weightDecay: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  private readonly t: Parametrized;

  /** Creates the momentum buffer for `params`. */
  constructor(params: Parametrized, options: SgdOptions = {}) {
    const k = 'Sgd';
    this.t = target(k, params);
    this.lr = checkNumber(k, 'lr', options.lr, 0, 1e6, 1e-2);
    this.momentum = checkNumber(k, 'momentum', options.momentum, 0, 1, 0);
    this.dampening = checkNumber(k, 'dampening', options.dampening, 0, 1, 0);
    this.weightDecay = checkNumber(k, 'weightDecay', options.weightDecay, 0, 1e6, 0);
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new RlcoreError('ERR_ARG', `${k}: nesterov needs momentum > 0 and dampening = 0`);
    }
    this.momentumBuffer = new Float32Array(this.momentum > 0 ? this.t.params.length : 0);
  }

  private args(lr: number | undefined): unknown[] {
    const rate = checkNumber('Sgd.step', 'lr', lr, 0, 1e6, this.lr);
    const buf = this.momentum > 0 ? this.momentumBuffer : undefined;
    return [this.t.params, this.t.grads, buf, rate, this.momentum, this.dampening, this.weightDecay, this.nesterov, this.stepCount === 0, false];
  }

  /** One update with learning rate `lr` (default: the `lr` property). */
  step(lr?: number): void {
    native().nnSgd(...this.args(lr), false);
    this.stepCount++;
  }

  /** {@link step} on a libuv worker thread. */
  async stepAsync(lr?: number): Promise<void> {
    const pending = native().nnSgd(...this.args(lr), true);
    this.stepCount++;
    await pending;
  }

  /** State tensors (`momentum_buffer.<param>`) and metadata (`step`). */
  stateDict(): SafetensorsContents {
    return {
      tensors: this.momentum > 0 ? stateTensors('momentum_buffer', this.momentumBuffer, this.t.paramInfo) : {},
      metadata: { step: String(this.stepCount) },
    };
  }

  /** Restores {@link stateDict} output; checks everything before writing anything. */
  loadStateDict(state: Pick<SafetensorsContents, 'tensors'> & Partial<SafetensorsContents>): void {
    const k = 'Sgd.loadStateDict';
    const writes = this.momentum > 0 ? loadStateTensors(k, 'momentum_buffer', this.momentumBuffer, this.t.paramInfo, state.tensors) : [];
    const step = stepOf(k, state.metadata, 'step');
    for (const w of writes) w();
    this.stepCount = step;
  }
}

/** An optimiser whose state can be saved ({@link Adam}, {@link AdamW}, {@link Sgd}). */
export type Optimizer = Adam | Sgd;

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** Gradients to clip in place (a network's `grads`). */
  grads: Float32Array;
  /** Largest allowed global L2 norm (≥ 0). */
  maxNorm: number;
}

/**
 * Global gradient-norm clipping (Pascanu et al. 2013, arXiv:1211.5063), natively:
 * `n = ‖g‖₂` (float64), and if `n > maxNorm`, `g ← g · maxNorm / (n + 1e-6)` (PyTorch's
 * `clip_grad_norm_`). Returns `n` before clipping. A non-finite norm is returned and leaves the
 * gradients unchanged.
 */
export function clipGradNorm(options: ClipGradNormOptions): number {
  const k = 'clipGradNorm';
  const grads = requireArray(k, 'grads', options?.grads, Float32Array, options?.grads?.length ?? 0, '[P]');
  const maxNorm = checkNumber(k, 'maxNorm', options.maxNorm, 0, 3.4e38);
  const out = new Float64Array(1);
  native().nnClipGradNorm(grads, maxNorm, out, false, false);
  return out[0];
}

/** The global L2 norm of `grads` (float64 accumulation), without changing them. */
export function gradNorm(grads: Float32Array): number {
  const g = requireArray('gradNorm', 'grads', grads, Float32Array, grads?.length ?? 0, '[P]');
  const out = new Float64Array(1);
  native().nnClipGradNorm(g, 3.4e38, out, false, false);
  return out[0];
}

/** Options of {@link polyakUpdate}. */
export interface PolyakOptions {
  /** Target parameters, updated in place `[P]`. */
  target: Float32Array;
  /** Source parameters `[P]`. */
  source: Float32Array;
  /** τ in [0, 1]; 1 copies. */
  tau: number;
}

/** Polyak averaging of parameter vectors, natively: `target ← (1 − τ) target + τ source`. */
export function polyakUpdate(options: PolyakOptions): void {
  const k = 'polyakUpdate';
  const t = requireArray(k, 'target', options?.target, Float32Array, options?.target?.length ?? 0, '[P]');
  const s = requireArray(k, 'source', options.source, Float32Array, t.length, `[P] = [${t.length}]`);
  native().nnPolyak(t, s, checkNumber(k, 'tau', options.tau, 0, 1), false, false);
}
