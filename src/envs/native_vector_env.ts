// NativeVectorEnv: a batched C++ environment (native/envs) behind the VectorEnv interface.
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import type { ActionSpace, ResetOptions, VectorBuffers, VectorEnv } from './env.js';
import { allocBuffers, copyActions } from './buffers.js';
import { CLASSIC_CONTROL } from './classic_control.js';
import { isSeed } from './random.js';
import type { Box } from './spaces.js';

interface NativeHandle {
  numEnvs: number;
  obsDim: number;
  stateDim: number;
  discrete: boolean;
  maxEpisodeSteps: number;
  bind(...arrays: ArrayBufferView[]): void;
  step(): void;
  reset(seed?: number): void;
  getState(index: number, out: Float64Array): void;
  setState(index: number, state: Float64Array): void;
}

/** Options of {@link NativeVectorEnv}. */
export interface NativeVectorEnvOptions {
  /** Number of copies N (default 1). */
  numEnvs?: number;
  /** Seed: copy i draws its episodes from seed + i (default 0). */
  seed?: number;
  /** Time limit (default: Gymnasium's max_episode_steps for the id). */
  maxEpisodeSteps?: number;
  /** Caller-provided output arrays (nothing is allocated for those given). */
  out?: Partial<VectorBuffers>;
  /** Environment-specific options, e.g. `{ g: 9.81 }` for Pendulum-v1. */
  envOptions?: Record<string, number | boolean>;
}

/**
 * N copies of a native classic-control environment, stepped in C++ (on the thread pool for
 * large N) and written straight into the batch arrays. The arrays are bound to the native
 * environment once, so `step()` is one argument-free call into the addon.
 *
 * Autoreset is "same-step": see {@link VectorEnv}. Copy i uses Philox stream seed + i.
 */
export class NativeVectorEnv implements VectorEnv {
  /** Environment id. */
  readonly id: string;
  /** Number of copies. */
  readonly numEnvs: number;
  /** Length of one observation. */
  readonly obsDim: number;
  /** Length of one copy's physical state (see {@link NativeVectorEnv.getState}). */
  readonly stateDim: number;
  /** Time limit in steps. */
  readonly maxEpisodeSteps: number;
  /** Observation space of one copy. */
  readonly singleObservationSpace: Box;
  /** Action space of one copy. */
  readonly singleActionSpace: ActionSpace;
  /** `[N]` action buffer (Int32Array for discrete, Float32Array for continuous actions). */
  readonly actions: Int32Array | Float32Array;
  /** `[N, obsDim]` observations. */
  readonly observations: Float32Array;
  /** `[N]` rewards. */
  readonly rewards: Float32Array;
  /** `[N]` terminated flags. */
  readonly terminated: Uint8Array;
  /** `[N]` truncated flags. */
  readonly truncated: Uint8Array;
  /** `[N, obsDim]` final observations of the episodes that ended at the last step. */
  readonly finalObservations: Float32Array;
  private readonly handle: NativeHandle;
  private needsReset = true;

  /**
   * @param id - a native environment id, e.g. 'CartPole-v1'
   * @param options - see {@link NativeVectorEnvOptions}
   */
  constructor(id: string, options: NativeVectorEnvOptions = {}) {
    const spec = CLASSIC_CONTROL[id];
    if (!spec) throw new RlcoreError('ERR_ARG', `unknown native environment '${id}'; known: ${Object.keys(CLASSIC_CONTROL).join(', ')}`);
    const seed = options.seed ?? 0;
    if (!isSeed(seed)) throw new RlcoreError('ERR_RANGE', `${id}: seed must be an integer in [0, 2^53); received ${String(seed)}`);
    const envOptions: Record<string, number | boolean> = { ...options.envOptions };
    for (const key of Object.keys(envOptions)) {
      if (!(key in spec.options)) {
        const known = Object.keys(spec.options);
        throw new RlcoreError('ERR_ARG', `${id}: unknown option '${key}'${known.length ? `; options: ${known.join(', ')}` : ' (it takes none)'}`);
      }
    }
    if (options.maxEpisodeSteps !== undefined) envOptions.maxEpisodeSteps = options.maxEpisodeSteps;
    this.handle = native().envCreate(id, options.numEnvs ?? 1, seed, envOptions) as NativeHandle;
    this.id = id;
    this.numEnvs = this.handle.numEnvs;
    this.obsDim = this.handle.obsDim;
    this.stateDim = this.handle.stateDim;
    this.maxEpisodeSteps = this.handle.maxEpisodeSteps;
    this.singleObservationSpace = spec.observationSpace();
    this.singleActionSpace = spec.actionSpace();
    const b = allocBuffers(id, this.numEnvs, this.obsDim, this.singleActionSpace, options.out);
    this.actions = b.actions;
    this.observations = b.observations;
    this.rewards = b.rewards;
    this.terminated = b.terminated;
    this.truncated = b.truncated;
    this.finalObservations = b.finalObservations;
    this.handle.bind(this.actions, this.observations, this.rewards, this.terminated, this.truncated, this.finalObservations);
  }

  /** Resets every copy (re-seeding copy i with seed + i when a seed is given). */
  reset(options?: ResetOptions): Float32Array {
    const seed = options?.seed;
    if (seed !== undefined && !isSeed(seed)) throw new RlcoreError('ERR_RANGE', `${this.id}: seed must be an integer in [0, 2^53); received ${String(seed)}`);
    this.handle.reset(seed);
    this.needsReset = false;
    return this.observations;
  }

  /** Steps every copy; see {@link VectorEnv.step}. */
  step(actions?: ArrayLike<number>): VectorBuffers {
    if (this.needsReset) throw new RlcoreError('ERR_ARG', `${this.id}: call reset() before step()`);
    if (actions !== undefined && actions !== this.actions) copyActions(this.id, actions, this.actions);
    this.handle.step();
    return this;
  }

  /**
   * Copy `index`'s physical state followed by its step count in the current episode
   * (`stateDim + 1` numbers, float64). CartPole: [x, ẋ, θ, θ̇]; Acrobot: [θ1, θ2, θ̇1, θ̇2];
   * MountainCar(Continuous): [x, v]; Pendulum: [θ, θ̇].
   */
  getState(index: number, out = new Float64Array(this.stateDim + 1)): Float64Array {
    this.handle.getState(index, out);
    return out;
  }

  /** Sets copy `index`'s state (as {@link NativeVectorEnv.getState} gives it) and rewrites its observation row. */
  setState(index: number, state: ArrayLike<number>): void {
    this.handle.setState(index, state instanceof Float64Array ? state : Float64Array.from(state));
    this.needsReset = false;
  }

  /** Nothing to release explicitly: the native state is freed with this object. */
  close(): void {}
}
