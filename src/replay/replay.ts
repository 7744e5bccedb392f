// The native replay buffer: declared fields in a ring of `capacity` transitions, batch inserts
// straight from a VectorEnv step, and uniform, prioritized, n-step, sequence and episode sampling
// into caller-provided arrays. Seeded Philox: same seed and calls, same batches.
import { resolveDevice, type Device } from '../device.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import type { VectorBuffers } from '../envs/env.js';
import { checkArray, checkNumber, checkSize, outArray } from '../validate.js';

/** Element type of a replay field. */
export type ReplayDtype = 'f32' | 'i32' | 'u8';

/** An extra per-transition field (log-probabilities, option ids, ...). */
export interface ReplayField {
  /** Name (unique; not one of the fixed fields). */
  name: string;
  /** Element type. */
  dtype: ReplayDtype;
  /** Elements per transition; default 1. */
  width?: number;
}

/** Options of {@link ReplayBuffer}. */
export interface ReplayBufferOptions {
  /** Maximum transitions kept (ring buffer); up to 2^31 − 1. Memory is taken at the first insert. */
  capacity: number;
  /** Observation length. */
  obsDim: number;
  /** Action length; default 1. */
  actionDim?: number;
  /** 'i32' for discrete actions, 'f32' (default) for continuous ones. */
  actionDtype?: 'f32' | 'i32';
  /** Extra fields, stored and gathered like observations. */
  extraFields?: ReplayField[];
  /** Environment copies feeding the buffer (links each copy's consecutive steps); default 1. */
  numEnvs?: number;
  /** Proportional prioritized replay (sum tree + min tree); default false. */
  prioritized?: boolean;
  /** Priority exponent α ≥ 0; default 0.6. */
  alpha?: number;
  /** ε > 0 added to every priority before ^α; default 1e-6. */
  priorityEpsilon?: number;
  /** Seed of all sampling; default 0. */
  seed?: number;
  /**
   * Where the rows and priorities live: 'cuda' keeps them in GPU memory (ERR_DEVICE without a
   * usable device); 'cpu', 'auto' and the default keep the CPU buffer. A device buffer samples the
   * same rows as a CPU buffer with the same seed and calls, and gathers on the device; n-step
   * returns (`nStep` > 1), {@link ReplayBuffer.sampleSequences} and {@link ReplayBuffer.follow}
   * are CPU-only for now (ERR_DEVICE).
   */
  device?: Device;
}

/** A typed array of one replay field: Float32Array, Int32Array or Uint8Array by dtype. */
export type ReplayArray = Float32Array | Int32Array | Uint8Array;

/** One batch insert: `rows` transitions, row i from environment copy `envIds[i]` (default i). */
export interface ReplayInsert {
  /** `[rows, obsDim]` s_t. */
  observations: Float32Array;
  /** `[rows, actionDim]` a_t. */
  actions: Float32Array | Int32Array;
  /** `[rows]` r_t. */
  rewards: Float32Array;
  /** `[rows, obsDim]` s_{t+1} (rows where done are replaced by `finalObservations` when given). */
  nextObservations: Float32Array;
  /** `[rows]` 1 where the episode terminated. */
  terminated: Uint8Array;
  /** `[rows]` 1 where the episode was truncated. */
  truncated: Uint8Array;
  /** `[rows, obsDim]` the true last observations, used as s_{t+1} where terminated | truncated. */
  finalObservations?: Float32Array;
  /** Values of the extra fields, `[rows, width]` each. */
  extras?: Record<string, ReplayArray>;
  /** `[rows]` environment copy of each row; default row i → copy i. */
  envIds?: Int32Array;
}

/** A sampled batch (arrays reused when passed back as `out`). */
export interface ReplayBatch {
  /** `[B]` row indices (for {@link ReplayBuffer.updatePriorities}). */
  indices: Int32Array;
  /** `[B]` importance weights (1 for uniform sampling). */
  weights: Float32Array;
  /** `[B, obsDim]` s_t. */
  observations: Float32Array;
  /** `[B, actionDim]` a_t. */
  actions: Float32Array | Int32Array;
  /** `[B]` r_t, or the n-step return Σ_{k<m} γ^k r_{t+k}. */
  rewards: Float32Array;
  /** `[B, obsDim]` s_{t+m} (the bootstrap state). */
  nextObservations: Float32Array;
  /** `[B]` terminated at step t+m−1 (no bootstrap). */
  terminated: Uint8Array;
  /** `[B]` truncated at step t+m−1. */
  truncated: Uint8Array;
  /** `[B]` γ^m: the discount of the bootstrap value (γ for 1-step). */
  discounts: Float32Array;
  /** Extra fields, `[B, width]` each. */
  extras: Record<string, ReplayArray>;
}

/** Options of {@link ReplayBuffer.sample}. */
export interface ReplaySampleOptions {
  /** Importance-weight exponent β ≥ 0 (anneal it towards 1); default 0.4. Ignored when uniform. */
  beta?: number;
  /** Sample uniformly even from a prioritized buffer; default false. */
  uniform?: boolean;
  /** n of n-step returns; default 1. */
  nStep?: number;
  /** Discount γ in [0, 1] of n-step returns and `discounts`; default 0.99. */
  gamma?: number;
}

/** Windows of consecutive steps (see {@link ReplayBuffer.sampleSequences}). */
export interface ReplaySequences {
  /** `[B, L]` row indices, −1 where masked. */
  indices: Int32Array;
  /** `[B, L]` 1 for steps of the window's episode, 0 after its end (masked windows only). */
  mask: Uint8Array;
}

/** Episodes drawn by {@link ReplayBuffer.sampleEpisodes}. */
export interface ReplayEpisodes {
  /** `[B]` row of each episode's first step (follow it with {@link ReplayBuffer.follow}). */
  starts: Int32Array;
  /** `[B]` episode lengths. */
  lengths: Int32Array;
  /** `[B]` undiscounted episode returns. */
  returns: Float32Array;
}

/** Counters and priority statistics of a buffer. */
export interface ReplayStats {
  /** Transitions stored. */
  size: number;
  /** Transitions ever inserted (the write cursor is total mod capacity). */
  total: number;
  /** Largest raw priority + ε seen (new transitions get it). */
  maxPriority: number;
  /** Σ p_i^α over stored rows (root of the sum tree). */
  prioritySum: number;
  /** min p_i^α over stored rows (root of the min tree). */
  priorityMin: number;
  /** Finished episodes whose first step is still stored (or was, until the next insert). */
  episodes: number;
}

const DTYPES: ReplayDtype[] = ['f32', 'i32', 'u8'];
const CTORS = { f32: Float32Array, i32: Int32Array, u8: Uint8Array } as const;
const FIXED = ['observations', 'actions', 'rewards', 'nextObservations', 'terminated', 'truncated'];

interface NativeInfo {
  capacity: number; size: number; total: number; numEnvs: number; prioritized: boolean; alpha: number; eps: number;
  maxPriority: number; prioritySum: number; priorityMin: number; episodes: number;
  fields: Array<{ name: string; dtype: number; width: number }>;
  device: 'cpu' | 'cuda';
}

/**
 * A replay buffer in native memory. Fields 0–5 are fixed (observation, action, reward, next
 * observation, terminated, truncated), others are declared in `extraFields`. Each copy's
 * consecutive steps are linked, so n-step returns, sequences and episodes follow the right
 * environment however copies interleave.
 *
 * Prioritized replay (Schaul et al. 2016, arXiv:1511.05952), proportional variant:
 * ```text
 * P(i) = p_i^α / Σ_k p_k^α,   p_i = |δ_i| + ε   (new rows: max p seen so far)
 * w_i  = (N P(i))^−β / max_j (N P(j))^−β = (p_i^α / min_j p_j^α)^−β
 * ```
 * n-step (Sutton & Barto 7.1): `G = Σ_{k<m} γ^k r_{t+k}`, m = n or fewer where the episode
 * ends (terminated or truncated) or the newest stored step is reached; bootstrap γ^m V(s_{t+m}).
 *
 * Bad input (a batch from an empty buffer, indices outside [0, size), negative or NaN
 * priorities, wrong field sizes) throws {@link RlcoreError} and leaves the buffer unchanged.
 *
 * With `device: 'cuda'` the rows, links and sum/min trees live in GPU memory: an insert is one
 * host-to-device copy and a scatter, sampling and gathering run on the device and copy the batch
 * into the caller's arrays, and priority updates recompute the trees there, level by level. The
 * same seed draws the same rows with the same weights as a CPU buffer, and {@link save} writes
 * the same file. n-step returns, sequences and {@link follow} are CPU-only for now (ERR_DEVICE).
 *
 * @example
 * ```ts
 * const rb = new ReplayBuffer({ capacity: 1_000_000, obsDim: 3, actionDim: 1, numEnvs: env.numEnvs, prioritized: true, seed: 1 });
 * obs.set(env.observations); env.step(actions); rb.addFromEnv(obs, actions, env);
 * const batch = rb.sample(256, { beta: 0.4, nStep: 3, gamma: 0.99 });
 * rb.updatePriorities(batch.indices, td.tdAbs);
 * ```
 */
export class ReplayBuffer {
  /** Maximum transitions kept. */
  readonly capacity: number;
  /** Observation length. */
  readonly obsDim: number;
  /** Action length. */
  readonly actionDim: number;
  /** Action element type. */
  readonly actionDtype: 'f32' | 'i32';
  /** Environment copies. */
  readonly numEnvs: number;
  /** True for prioritized sampling. */
  readonly prioritized: boolean;
  /** Priority exponent α. */
  readonly alpha: number;
  /** The extra fields. */
  readonly extraFields: readonly Required<ReplayField>[];
  /** Where the rows and priorities live. */
  readonly device: 'cpu' | 'cuda';
  private handle: unknown;
  private readonly widths: number[];
  private readonly dtypes: ReplayDtype[];

  /** Declares the buffer (memory is allocated at the first insert). */
  constructor(options: ReplayBufferOptions);
  /** @internal wraps a native handle (from {@link load} / {@link deserialize}). */
  constructor(options: ReplayBufferOptions, handle: unknown);
  constructor(options: ReplayBufferOptions, handle?: unknown) {
    const k = 'ReplayBuffer';
    // Only an explicit 'cuda' puts the buffer on the device (resolveDevice throws ERR_DEVICE
    // without one); 'auto' keeps the CPU buffer, so existing code is unchanged on GPU machines.
    if (options?.device !== undefined) resolveDevice(options.device);
    this.device = options?.device === 'cuda' ? 'cuda' : 'cpu';
    this.capacity = checkSize(k, 'capacity', options?.capacity);
    this.obsDim = checkSize(k, 'obsDim', options.obsDim);
    this.actionDim = checkSize(k, 'actionDim', options.actionDim ?? 1);
    this.actionDtype = options.actionDtype ?? 'f32';
    if (this.actionDtype !== 'f32' && this.actionDtype !== 'i32') throw new RlcoreError('ERR_ARG', `${k}: actionDtype must be 'f32' or 'i32'`);
    this.numEnvs = checkSize(k, 'numEnvs', options.numEnvs ?? 1);
    this.prioritized = options.prioritized ?? false;
    this.alpha = checkNumber(k, 'alpha', options.alpha, 0, 10, 0.6);
    const eps = checkNumber(k, 'priorityEpsilon', options.priorityEpsilon, Number.MIN_VALUE, 1e6, 1e-6);
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 53) throw new RlcoreError('ERR_RANGE', `${k}: seed must be an integer in [0, 2^53]; received ${String(seed)}`);
    const extras = (options.extraFields ?? []).map((f, i) => {
      if (typeof f?.name !== 'string' || FIXED.includes(f.name)) throw new RlcoreError('ERR_ARG', `${k}: extraFields[${i}].name must be a string other than ${FIXED.join(', ')}`);
      if (!DTYPES.includes(f.dtype)) throw new RlcoreError('ERR_ARG', `${k}: extraFields[${i}].dtype must be 'f32', 'i32' or 'u8'`);
      return { name: f.name, dtype: f.dtype, width: checkSize(k, `extraFields[${i}].width`, f.width ?? 1) };
    });
    if (new Set(extras.map((f) => f.name)).size !== extras.length) throw new RlcoreError('ERR_ARG', `${k}: extra field names must be unique`);
    this.extraFields = extras;
    this.widths = [this.obsDim, this.actionDim, 1, this.obsDim, 1, 1, ...extras.map((f) => f.width)];
    this.dtypes = ['f32', this.actionDtype, 'f32', 'f32', 'u8', 'u8', ...extras.map((f) => f.dtype)];
    this.handle = handle ?? native().replayCreate(
      this.capacity, [...FIXED, ...extras.map((f) => f.name)], Int32Array.from(this.dtypes.map((d) => DTYPES.indexOf(d))),
      Int32Array.from(this.widths), this.numEnvs, this.prioritized, this.alpha, eps, seed, this.device === 'cuda',
    );
  }

  private h(): unknown {
    if (this.handle === undefined) throw new RlcoreError('ERR_ARG', 'ReplayBuffer: the buffer was closed');
    return this.handle;
  }

  /** Transitions stored. */
  get size(): number {
    return (native().replayInfo(this.h()) as NativeInfo).size;
  }

  /** Counters and priority statistics. */
  stats(): ReplayStats {
    const i = native().replayInfo(this.h()) as NativeInfo;
    return { size: i.size, total: i.total, maxPriority: i.maxPriority, prioritySum: i.prioritySum, priorityMin: i.priorityMin, episodes: i.episodes };
  }

  /** Appends `rows` transitions (checked whole before anything is written). */
  add(batch: ReplayInsert): void {
    const k = 'ReplayBuffer.add';
    const rows = batch?.rewards instanceof Float32Array ? batch.rewards.length : -1;
    if (rows < 1) throw new RlcoreError(batch?.rewards === undefined ? 'ERR_ARG' : 'ERR_DTYPE', `${k}: rewards must be a non-empty Float32Array [rows]`);
    const arrays: ReplayArray[] = [batch.observations, batch.actions, batch.rewards, batch.nextObservations, batch.terminated, batch.truncated];
    for (const f of this.extraFields) {
      const a = batch.extras?.[f.name];
      if (a === undefined) throw new RlcoreError('ERR_ARG', `${k}: extras.${f.name} is required ([rows, ${f.width}])`);
      arrays.push(a);
    }
    arrays.forEach((a, i) => {
      const name = i < 6 ? FIXED[i] : `extras.${this.extraFields[i - 6].name}`;
      checkArray(k, name, a, CTORS[this.dtypes[i]], rows * this.widths[i], `[rows, ${this.widths[i]}] = [${rows}, ${this.widths[i]}]`);
    });
    const fin = checkArray(k, 'finalObservations', batch.finalObservations, Float32Array, rows * this.obsDim, `[rows, obsDim] = [${rows}, ${this.obsDim}]`, true);
    const envIds = checkArray(k, 'envIds', batch.envIds, Int32Array, rows, `[rows] = [${rows}]`, true);
    native().replayAdd(this.h(), arrays, rows, fin, envIds);
  }

  /**
   * Inserts one VectorEnv step: `observations` (s_t, copied before the step), `actions`, and
   * the env's rewards, terminated, truncated and observations, with `finalObservations` as s_{t+1}
   * where an episode ended (same-step autoreset).
   */
  addFromEnv(observations: Float32Array, actions: Float32Array | Int32Array, env: VectorBuffers, extras?: Record<string, ReplayArray>): void {
    this.add({
      observations, actions, rewards: env.rewards, nextObservations: env.observations, terminated: env.terminated,
      truncated: env.truncated, finalObservations: env.finalObservations, extras,
    });
  }

  /** Arrays for a batch of `batchSize` (or `[B, L]` windows: batchSize = B·L). */
  allocateBatch(batchSize: number): ReplayBatch {
    const B = checkSize('ReplayBuffer.allocateBatch', 'batchSize', batchSize);
    const extras: Record<string, ReplayArray> = {};
    for (const f of this.extraFields) extras[f.name] = new CTORS[f.dtype](B * f.width);
    return {
      indices: new Int32Array(B), weights: new Float32Array(B), observations: new Float32Array(B * this.obsDim),
      actions: this.actionDtype === 'i32' ? new Int32Array(B * this.actionDim) : new Float32Array(B * this.actionDim),
      rewards: new Float32Array(B), nextObservations: new Float32Array(B * this.obsDim), terminated: new Uint8Array(B),
      truncated: new Uint8Array(B), discounts: new Float32Array(B), extras,
    };
  }

  /**
   * Samples `batchSize` transitions (prioritized when the buffer is, unless `uniform`) and gathers
   * them, with n-step returns when `nStep` > 1. Throws ERR_RANGE on an empty buffer.
   */
  sample(batchSize: number, options: ReplaySampleOptions = {}, out?: ReplayBatch): ReplayBatch {
    const k = 'ReplayBuffer.sample';
    const B = checkSize(k, 'batchSize', batchSize);
    const beta = checkNumber(k, 'beta', options.beta, 0, 1e6, 0.4);
    const o = out ?? this.allocateBatch(B);
    outArray(k, 'out.indices', o.indices, Int32Array, B, `[B] = [${B}]`);
    outArray(k, 'out.weights', o.weights, Float32Array, B, `[B] = [${B}]`);
    this.checkGatherOptions(k, options);
    native().replaySample(this.h(), B, options.uniform ?? false, beta, o.indices, o.weights);
    return this.gather(o.indices, options, o);
  }

  private checkGatherOptions(k: string, options: ReplaySampleOptions): { n: number; gamma: number } {
    const n = checkSize(k, 'nStep', options.nStep ?? 1);
    // Checked before anything is drawn, so that a refused call leaves the sampling stream as it was.
    if (n > 1 && this.device === 'cuda') this.cpuOnly(k, 'nStep > 1 (n-step returns)');
    return { n, gamma: checkNumber(k, 'gamma', options.gamma, 0, 1, 0.99) };
  }

  private cpuOnly(k: string, what: string): never {
    throw new RlcoreError('ERR_DEVICE', `${k}: ${what} is not available for a replay buffer on device 'cuda' yet; use device 'cpu'`);
  }

  /**
   * Copies the given rows (−1: zeros) into `out` (allocated when absent), with n-step returns
   * when `nStep` > 1. `out.indices` is set to `indices`.
   */
  gather(indices: Int32Array, options: Omit<ReplaySampleOptions, 'beta' | 'uniform'> = {}, out?: ReplayBatch): ReplayBatch {
    const k = 'ReplayBuffer.gather';
    if (!(indices instanceof Int32Array) || indices.length < 1) throw new RlcoreError('ERR_DTYPE', `${k}: indices must be a non-empty Int32Array [B]`);
    const B = indices.length;
    const { n, gamma } = this.checkGatherOptions(k, options);
    const o = out ?? this.allocateBatch(B);
    const outs: ReplayArray[] = [o.observations, o.actions, o.rewards, o.nextObservations, o.terminated, o.truncated, ...this.extraFields.map((f) => o.extras?.[f.name])] as ReplayArray[];
    outs.forEach((a, i) => {
      const name = i < 6 ? `out.${FIXED[i]}` : `out.extras.${this.extraFields[i - 6].name}`;
      outArray(k, name, a, CTORS[this.dtypes[i]], B * this.widths[i], `[B, ${this.widths[i]}] = [${B}, ${this.widths[i]}]`);
    });
    outArray(k, 'out.discounts', o.discounts, Float32Array, B, `[B] = [${B}]`);
    native().replayGather(this.h(), indices, outs, n, gamma, o.discounts);
    if (o.indices !== indices) {
      if (o.indices?.length !== B) o.indices = new Int32Array(B);
      o.indices.set(indices);
    }
    return o;
  }

  /**
   * Sets the priorities of sampled rows to `priorities` (e.g. |δ|): stored as (p + ε)^α, and the
   * running max is raised. Negative or non-finite priorities, or indices outside [0, size),
   * throw ERR_RANGE and change nothing.
   */
  updatePriorities(indices: Int32Array, priorities: Float32Array): void {
    const k = 'ReplayBuffer.updatePriorities';
    if (!(indices instanceof Int32Array)) throw new RlcoreError('ERR_DTYPE', `${k}: indices must be an Int32Array [B]`);
    checkArray(k, 'priorities', priorities, Float32Array, indices.length, `[B] = [${indices.length}]`);
    native().replayUpdatePriorities(this.h(), indices, priorities);
  }

  /** The stored leaves p_i^α of the given rows (prioritized buffers). */
  priorities(indices: Int32Array, out?: Float64Array): Float64Array {
    const k = 'ReplayBuffer.priorities';
    if (!(indices instanceof Int32Array)) throw new RlcoreError('ERR_DTYPE', `${k}: indices must be an Int32Array [B]`);
    const o = outArray(k, 'out', out, Float64Array, indices.length, `[B] = [${indices.length}]`);
    native().replayPriorities(this.h(), indices, o);
    return o;
  }

  /**
   * Samples `batchSize` windows of `length` consecutive steps of one environment copy. Strict
   * (default): every window lies inside one episode (drawn by rejection; ERR_RANGE if none is
   * found). `masked`: a window may start anywhere; steps past its episode's end get index −1 and
   * mask 0. Gather the rows with {@link gather} (a batch of B·L).
   */
  sampleSequences(batchSize: number, length: number, options: { masked?: boolean } = {}, out?: ReplaySequences): ReplaySequences {
    const k = 'ReplayBuffer.sampleSequences';
    if (this.device === 'cuda') this.cpuOnly(k, 'sequence sampling');
    const B = checkSize(k, 'batchSize', batchSize), L = checkSize(k, 'length', length);
    const indices = outArray(k, 'out.indices', out?.indices, Int32Array, B * L, `[B, L] = [${B}, ${L}]`);
    const mask = outArray(k, 'out.mask', out?.mask, Uint8Array, B * L, `[B, L] = [${B}, ${L}]`);
    native().replaySampleSequences(this.h(), B, L, options.masked ?? false, indices, mask);
    return { indices, mask };
  }

  /** Follows each start row for `length` steps within its episode (as masked windows). */
  follow(starts: Int32Array, length: number, out?: ReplaySequences): ReplaySequences {
    const k = 'ReplayBuffer.follow';
    if (this.device === 'cuda') this.cpuOnly(k, 'following episodes');
    if (!(starts instanceof Int32Array) || starts.length < 1) throw new RlcoreError('ERR_DTYPE', `${k}: starts must be a non-empty Int32Array [B]`);
    const B = starts.length, L = checkSize(k, 'length', length);
    const indices = outArray(k, 'out.indices', out?.indices, Int32Array, B * L, `[B, L] = [${B}, ${L}]`);
    const mask = outArray(k, 'out.mask', out?.mask, Uint8Array, B * L, `[B, L] = [${B}, ${L}]`);
    native().replayFollow(this.h(), starts, L, indices, mask);
    return { indices, mask };
  }

  /**
   * Samples whole finished episodes with probability ∝ exp(R / temperature) (a softmax over
   * returns, for mixed-quality data; a large temperature is uniform). ERR_RANGE when none is stored.
   */
  sampleEpisodes(batchSize: number, options: { temperature?: number } = {}, out?: ReplayEpisodes): ReplayEpisodes {
    const k = 'ReplayBuffer.sampleEpisodes';
    const B = checkSize(k, 'batchSize', batchSize);
    const t = checkNumber(k, 'temperature', options.temperature, 1e-12, 1e300, 1);
    const starts = outArray(k, 'out.starts', out?.starts, Int32Array, B, `[B] = [${B}]`);
    const lengths = outArray(k, 'out.lengths', out?.lengths, Int32Array, B, `[B] = [${B}]`);
    const returns = outArray(k, 'out.returns', out?.returns, Float32Array, B, `[B] = [${B}]`);
    native().replaySampleEpisodes(this.h(), B, t, starts, lengths, returns);
    return { starts, lengths, returns };
  }

  /** The whole buffer (data, links, priorities, cursor, RNG position) as bytes. */
  serialize(): Uint8Array {
    return native().replaySerialize(this.h()) as Uint8Array;
  }

  /** Writes {@link serialize} to a file (atomically: a temporary file, then a rename). ERR_IO on failure. */
  save(path: string): void {
    native().replaySave(this.h(), path);
  }

  /**
   * A buffer from {@link serialize} bytes, identical to the one saved (the format does not depend
   * on the device: `device` picks where the copy lives, default the CPU). ERR_IO on bad bytes.
   */
  static deserialize(bytes: Uint8Array, options: { device?: Device } = {}): ReplayBuffer {
    if (!(bytes instanceof Uint8Array)) throw new RlcoreError('ERR_DTYPE', 'ReplayBuffer.deserialize: bytes must be a Uint8Array');
    return ReplayBuffer.fromHandle(native().replayDeserialize(bytes, ReplayBuffer.onDevice(options.device)));
  }

  /** A buffer from a file written by {@link save} (on `device`, default the CPU). ERR_IO on a missing or corrupt file. */
  static load(path: string, options: { device?: Device } = {}): ReplayBuffer {
    if (typeof path !== 'string') throw new RlcoreError('ERR_ARG', 'ReplayBuffer.load: path must be a string');
    return ReplayBuffer.fromHandle(native().replayLoad(path, ReplayBuffer.onDevice(options.device)));
  }

  private static onDevice(device: Device | undefined): boolean {
    if (device !== undefined) resolveDevice(device);
    return device === 'cuda';
  }

  private static fromHandle(handle: unknown): ReplayBuffer {
    const i = native().replayInfo(handle) as NativeInfo;
    const f = i.fields;
    return new ReplayBuffer(
      {
        capacity: i.capacity, obsDim: f[0].width, actionDim: f[1].width, actionDtype: DTYPES[f[1].dtype] as 'f32' | 'i32',
        extraFields: f.slice(6).map((x) => ({ name: x.name, dtype: DTYPES[x.dtype], width: x.width })),
        numEnvs: i.numEnvs, prioritized: i.prioritized, alpha: i.alpha, priorityEpsilon: i.eps, device: i.device,
      },
      handle,
    );
  }

  /** Frees the native memory now; further calls throw ERR_ARG. */
  close(): void {
    if (this.handle !== undefined) native().replayClose(this.handle);
    this.handle = undefined;
  }
}
