import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native, type NativeBinding } from '../native.js';
import { checkNumber, checkSize } from '../validate.js';
import { initLinear, type LinearInit } from './init.js';

/** One layer of a {@link Sequential} network. */
export type LayerSpec =
  | {
      /** `y = x Wᵀ + b`, W of shape `[size, in]` (PyTorch layout). */
      type: 'linear';
      /** Output features. */
      size: number;
      /** Initialisation; default the network's `init`. */
      init?: LinearInit;
    }
  | {
      /** Element-wise `tanh`. */
      type: 'tanh';
    }
  | {
      /** Element-wise `max(x, 0)`. */
      type: 'relu';
    }
  | {
      /** LayerNorm over features with affine `weight` (γ, init 1) and `bias` (β, init 0). */
      type: 'layerNorm';
    };

/** Options of {@link Sequential}. */
export interface SequentialOptions {
  /** Input features. */
  inputSize: number;
  /** Layers, applied in order. */
  layers: LayerSpec[];
  /** Seed of the weight initialisation (Philox); default 0. Same seed, same weights. */
  seed?: number;
  /** Default initialisation of Linear layers; default orthogonal with gain √2, bias 0. */
  init?: LinearInit;
  /** LayerNorm ε; default 1e-5. */
  layerNormEps?: number;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/** Where one parameter tensor lives in the flat parameter vector. */
export interface ParamInfo {
  /** PyTorch-style name: `<layer index>.weight` or `<layer index>.bias`. */
  name: string;
  /** `[out, in]` for a Linear weight, `[features]` otherwise. */
  shape: number[];
  /** First element in {@link Sequential.params}. */
  offset: number;
  /** Number of elements. */
  length: number;
}

/** A named parameter with views into the flat parameter and gradient vectors. */
export interface ParamView {
  /** See {@link ParamInfo.name}. */
  name: string;
  /** See {@link ParamInfo.shape}. */
  shape: number[];
  /** View of the values (writes go to the network). */
  data: Float32Array;
  /** View of the accumulated gradient. */
  grad: Float32Array;
}

const KIND = { linear: 0, tanh: 1, relu: 2, layerNorm: 3 } as const;

/**
 * A feed-forward network run natively, forward and backward, on row-major `[B, features]`
 * batches (B from 1 to 65 536 and beyond). Parameters and gradients are single contiguous
 * Float32Arrays ({@link params}, {@link grads}) with per-tensor views ({@link parameters}).
 *
 * ```text
 * Linear:    y = x Wᵀ + b               Tanh: y = tanh x          ReLU: y = max(x, 0)
 * LayerNorm: y = γ (x - μ) / sqrt(σ² + ε) + β   (Ba et al. 2016, arXiv:1607.06450)
 * ```
 *
 * {@link forward} is inference mode (no caches); {@link forwardTrain} keeps what {@link backward}
 * needs; {@link backward} accumulates dL/dθ into {@link grads} and can return dL/dx. One call at
 * a time per network: a call made while an async one is pending throws ERR_ARG.
 *
 * @example
 * ```ts
 * const critic = new Sequential({ inputSize: 8, layers: [{ type: 'linear', size: 64 }, { type: 'tanh' }, { type: 'linear', size: 1 }], seed: 1 });
 * const v = critic.forward(obs);            // [B, 1]
 * critic.forwardTrain(obs); critic.backward(dLdv);
 * ```
 */
export class Sequential {
  /** Input features. */
  readonly inputSize: number;
  /** Output features. */
  readonly outputSize: number;
  /** The layer list (a copy). */
  readonly layers: readonly LayerSpec[];
  /** LayerNorm ε. */
  readonly layerNormEps: number;
  /** All parameters, layer by layer (Linear: W then b; LayerNorm: γ then β). */
  readonly params: Float32Array;
  /** Gradients, same layout as {@link params}; {@link backward} accumulates into it. */
  readonly grads: Float32Array;
  /** Where each parameter tensor lives in {@link params}. */
  readonly paramInfo: readonly ParamInfo[];
  /** The device the network runs on (the CPU in this version). */
  readonly device: 'cpu' | 'cuda';
  private readonly handle: unknown;
  private readonly useCuda: boolean;
  private readonly fwd: NativeBinding[string];
  private readonly bwd: NativeBinding[string];

  /** Builds the network and initialises its parameters from `seed`. */
  constructor(options: SequentialOptions) {
    const k = 'Sequential';
    this.inputSize = checkSize(k, 'inputSize', options?.inputSize);
    if (!Array.isArray(options.layers)) {
      throw new RlcoreError('ERR_ARG', `${k}: layers must be an array of layer specs; received ${typeof options.layers}`);
    }
    this.layers = options.layers.map((l) => ({ ...l }));
    this.layerNormEps = checkNumber(k, 'layerNormEps', options.layerNormEps, 1e-12, 1, 1e-5);
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER) {
      throw new RlcoreError('ERR_RANGE', `${k}: seed must be an integer in [0, 2^53 - 1]; received ${String(seed)}`);
    }
    const kinds = new Int32Array(this.layers.length), sizes = new Int32Array(this.layers.length);
    const info: ParamInfo[] = [];
    let d = this.inputSize, offset = 0;
    const add = (name: string, shape: number[]) => {
      const length = shape.reduce((a, b) => a * b, 1);
      info.push({ name, shape, offset, length });
      offset += length;
    };
    this.layers.forEach((l, i) => {
      const type = (l as { type?: unknown })?.type;
      if (typeof type !== 'string' || !(type in KIND)) {
        throw new RlcoreError('ERR_ARG', `${k}: layers[${i}].type must be 'linear', 'tanh', 'relu' or 'layerNorm'; received ${JSON.stringify(type)}`);
      }
      kinds[i] = KIND[type as keyof typeof KIND];
      if (l.type === 'linear') {
        const size = checkSize(k, `layers[${i}].size`, l.size);
        sizes[i] = size;
        add(`${i}.weight`, [size, d]);
        add(`${i}.bias`, [size]);
        d = size;
      } else if (l.type === 'layerNorm') {
        add(`${i}.weight`, [d]);
        add(`${i}.bias`, [d]);
      }
    });
    this.outputSize = d;
    this.paramInfo = info;
    // The network kernels run on the CPU for now: an explicit 'cuda' is refused rather than
    // silently served by the CPU; 'auto' uses the CPU.
    if (resolveDevice(options.device) === 'cuda' && options.device === 'cuda') {
      throw new RlcoreError('ERR_DEVICE', `${k}: device 'cuda' is not supported by the network kernels yet; use 'cpu' or 'auto'`);
    }
    this.device = 'cpu';
    this.useCuda = false;
    const b = native();
    this.handle = b.nnMlpCreate(this.inputSize, kinds, sizes, this.layerNormEps, this.useCuda, false);
    const n = (b.nnMlpInfo(this.handle) as { numParams: number }).numParams;
    if (n !== offset) throw new RlcoreError('ERR_NATIVE', `${k}: native parameter count ${n} differs from the layout's ${offset}`);
    this.params = new Float32Array(n);
    this.grads = new Float32Array(n);
    this.fwd = b.nnMlpForward;
    this.bwd = b.nnMlpBackward;
    this.layers.forEach((l, i) => {
      if (l.type === 'linear') {
        initLinear(this.param(`${i}.weight`), this.param(`${i}.bias`), l.size, info.find((p) => p.name === `${i}.weight`)!.shape[1], l.init ?? options.init, seed, i);
      } else if (l.type === 'layerNorm') {
        this.param(`${i}.weight`).fill(1);
      }
    });
  }

  /** @internal The native network, for fused kernels that drive it (src/nn/ppo_update.ts). */
  get nativeHandle(): unknown {
    return this.handle;
  }

  /** A view of one parameter tensor by name (see {@link paramInfo}). */
  param(name: string): Float32Array {
    const p = this.info(name);
    return this.params.subarray(p.offset, p.offset + p.length);
  }

  /** A view of one parameter's gradient by name. */
  grad(name: string): Float32Array {
    const p = this.info(name);
    return this.grads.subarray(p.offset, p.offset + p.length);
  }

  /** Every parameter with views of its values and gradient. */
  parameters(): ParamView[] {
    return this.paramInfo.map((p) => ({
      name: p.name,
      shape: [...p.shape],
      data: this.params.subarray(p.offset, p.offset + p.length),
      grad: this.grads.subarray(p.offset, p.offset + p.length),
    }));
  }

  private info(name: string): ParamInfo {
    const p = this.paramInfo.find((q) => q.name === name);
    if (!p) throw new RlcoreError('ERR_ARG', `Sequential: no parameter named ${JSON.stringify(name)}; have ${this.paramInfo.map((q) => q.name).join(', ')}`);
    return p;
  }

  private batchOf(method: string, name: string, a: unknown, width: number): number {
    if (!(a instanceof Float32Array)) {
      throw new RlcoreError('ERR_DTYPE', `Sequential.${method}: ${name} must be a Float32Array of shape [B, ${width}]; received ${a === null ? 'null' : ArrayBuffer.isView(a) ? a.constructor.name : typeof a}`);
    }
    const batch = a.length / width;
    if (!Number.isInteger(batch) || batch < 1) {
      throw new RlcoreError('ERR_SHAPE', `Sequential.${method}: ${name} must have shape [B, ${width}] with B >= 1; received ${a.length} elements`);
    }
    return batch;
  }

  private outOf(method: string, name: string, out: unknown, batch: number, width: number): Float32Array {
    if (out === undefined || out === null) return new Float32Array(batch * width);
    if (!(out instanceof Float32Array) || out.length !== batch * width) {
      throw new RlcoreError(
        out instanceof Float32Array ? 'ERR_SHAPE' : 'ERR_DTYPE',
        `Sequential.${method}: ${name} must be a Float32Array of shape [B, ${width}] = [${batch}, ${width}] (${batch * width} elements); received ${out instanceof Float32Array ? `${out.length} elements` : typeof out}`,
      );
    }
    return out;
  }

  /**
   * Inference-mode forward pass: `out[B, outputSize] = f(input[B, inputSize])`, no caches.
   * Allocates `out` only when not given. For batch 1 this is a few microseconds per call.
   */
  forward(input: Float32Array, out?: Float32Array): Float32Array {
    const batch = this.batchOf('forward', 'input', input, this.inputSize);
    const o = this.outOf('forward', 'out', out, batch, this.outputSize);
    this.fwd(this.handle, this.params, input, o, batch, false, this.useCuda, false);
    return o;
  }

  /** Training-mode forward pass: like {@link forward}, and keeps what {@link backward} needs. */
  forwardTrain(input: Float32Array, out?: Float32Array): Float32Array {
    const batch = this.batchOf('forwardTrain', 'input', input, this.inputSize);
    const o = this.outOf('forwardTrain', 'out', out, batch, this.outputSize);
    this.fwd(this.handle, this.params, input, o, batch, true, this.useCuda, false);
    return o;
  }

  /**
   * Backward pass of the last {@link forwardTrain} (same batch): given `gradOutput` = dL/dy
   * `[B, outputSize]`, adds dL/dθ to {@link grads} (unless `accumulateParamGrads` is false) and,
   * when `gradInput` `[B, inputSize]` is given, writes dL/dx into it (for actor updates through
   * a critic). Returns `gradInput`. Throws ERR_ARG without a matching training forward.
   */
  backward(gradOutput: Float32Array, gradInput?: Float32Array, accumulateParamGrads = true): Float32Array | undefined {
    const batch = this.batchOf('backward', 'gradOutput', gradOutput, this.outputSize);
    const gi = gradInput === undefined ? undefined : this.outOf('backward', 'gradInput', gradInput, batch, this.inputSize);
    this.bwd(this.handle, this.params, accumulateParamGrads ? this.grads : undefined, gradOutput, gi, batch, this.useCuda, false);
    return gi;
  }

  /** {@link forward} on a libuv worker thread. Do not touch the arrays until it settles. */
  async forwardAsync(input: Float32Array, out?: Float32Array): Promise<Float32Array> {
    const batch = this.batchOf('forwardAsync', 'input', input, this.inputSize);
    const o = this.outOf('forwardAsync', 'out', out, batch, this.outputSize);
    await this.fwd(this.handle, this.params, input, o, batch, false, this.useCuda, true);
    return o;
  }

  /** {@link forwardTrain} on a libuv worker thread. */
  async forwardTrainAsync(input: Float32Array, out?: Float32Array): Promise<Float32Array> {
    const batch = this.batchOf('forwardTrainAsync', 'input', input, this.inputSize);
    const o = this.outOf('forwardTrainAsync', 'out', out, batch, this.outputSize);
    await this.fwd(this.handle, this.params, input, o, batch, true, this.useCuda, true);
    return o;
  }

  /** {@link backward} on a libuv worker thread. */
  async backwardAsync(gradOutput: Float32Array, gradInput?: Float32Array, accumulateParamGrads = true): Promise<Float32Array | undefined> {
    const batch = this.batchOf('backwardAsync', 'gradOutput', gradOutput, this.outputSize);
    const gi = gradInput === undefined ? undefined : this.outOf('backwardAsync', 'gradInput', gradInput, batch, this.inputSize);
    await this.bwd(this.handle, this.params, accumulateParamGrads ? this.grads : undefined, gradOutput, gi, batch, this.useCuda, true);
    return gi;
  }

  /** Sets every gradient to 0. */
  zeroGrad(): void {
    this.grads.fill(0);
  }

  /** True when `other` has the same parameter names and shapes. */
  sameLayout(other: Sequential): boolean {
    return (
      other instanceof Sequential &&
      other.paramInfo.length === this.paramInfo.length &&
      other.paramInfo.every((p, i) => p.name === this.paramInfo[i].name && p.shape.join() === this.paramInfo[i].shape.join())
    );
  }

  private checkLayout(method: string, other: unknown): Sequential {
    if (!(other instanceof Sequential) || !this.sameLayout(other)) {
      throw new RlcoreError('ERR_SHAPE', `Sequential.${method}: source must be a network with the same parameter layout (${this.params.length} parameters)`);
    }
    return other;
  }

  /** Copies all parameters from a network of the same layout (hard target update). */
  copyFrom(source: Sequential): void {
    this.params.set(this.checkLayout('copyFrom', source).params);
  }

  /**
   * Polyak averaging (soft target update), natively: θ ← (1 − τ) θ + τ θ_source, τ in [0, 1]
   * (τ = 1 copies exactly). As in DDPG (Lillicrap et al. 2016, arXiv:1509.02971).
   */
  polyakFrom(source: Sequential, tau: number): void {
    const s = this.checkLayout('polyakFrom', source);
    native().nnPolyak(this.params, s.params, checkNumber('Sequential.polyakFrom', 'tau', tau, 0, 1), false, false);
  }

  /** A new network with the same architecture and a copy of the parameters (e.g. a target network). */
  clone(): Sequential {
    const c = new Sequential({ inputSize: this.inputSize, layers: this.layers as LayerSpec[], layerNormEps: this.layerNormEps, device: this.device, init: { scheme: 'zeros' } });
    c.params.set(this.params);
    return c;
  }
}

/** Options of {@link Mlp}. */
export interface MlpOptions {
  /** Input features. */
  inputSize: number;
  /** Widths of the hidden layers, e.g. `[64, 64]`. */
  hiddenSizes: number[];
  /** Output features. */
  outputSize: number;
  /** Hidden activation; default `'tanh'`. */
  activation?: 'tanh' | 'relu';
  /** LayerNorm after each hidden Linear (before the activation); default false. */
  layerNorm?: boolean;
  /** Initialisation of the hidden Linear layers; default orthogonal, gain √2. */
  init?: LinearInit;
  /** Initialisation of the output layer; default orthogonal with gain 1 (use 0.01 for a policy head). */
  outputInit?: LinearInit;
  /** Seed of the initialisation; default 0. */
  seed?: number;
  /** LayerNorm ε; default 1e-5. */
  layerNormEps?: number;
  /** Where to run; default RLCORE_DEVICE or 'auto'. */
  device?: Device;
}

/**
 * The usual RL network: `Linear → [LayerNorm] → act` per hidden width, then a Linear output
 * layer. A {@link Sequential} with those layers, so parameter names are PyTorch's
 * (`0.weight`, `0.bias`, `2.weight`, ...).
 *
 * @example
 * ```ts
 * const actor = new Mlp({ inputSize: 4, hiddenSizes: [64, 64], outputSize: 2, outputInit: { gain: 0.01 }, seed: 1 });
 * const logits = actor.forward(obs);
 * ```
 */
export class Mlp extends Sequential {
  /** Builds the layers from the widths and initialises them from `seed`. */
  constructor(options: MlpOptions) {
    const k = 'Mlp';
    if (!Array.isArray(options?.hiddenSizes)) {
      throw new RlcoreError('ERR_ARG', `${k}: hiddenSizes must be an array of widths; received ${typeof options?.hiddenSizes}`);
    }
    const act = options.activation ?? 'tanh';
    if (act !== 'tanh' && act !== 'relu') {
      throw new RlcoreError('ERR_ARG', `${k}: activation must be 'tanh' or 'relu'; received ${JSON.stringify(act)}`);
    }
    const layers: LayerSpec[] = [];
    for (const h of options.hiddenSizes) {
      layers.push({ type: 'linear', size: h, init: options.init });
      if (options.layerNorm) layers.push({ type: 'layerNorm' });
      layers.push({ type: act });
    }
    layers.push({ type: 'linear', size: checkSize(k, 'outputSize', options.outputSize), init: { gain: 1, ...options.outputInit } });
    super({ inputSize: options.inputSize, layers, seed: options.seed, layerNormEps: options.layerNormEps, device: options.device });
  }
}
