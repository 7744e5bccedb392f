// The environment registry and `make`: native classic control plus user TypeScript environments.
import { RlcoreError } from '../errors.js';
import { checkSize } from '../validate.js';
import { CartPoleEnv } from './cartpole.js';
import { CLASSIC_CONTROL } from './classic_control.js';
import type { Env, ResetOptions, VectorBuffers, VectorEnv } from './env.js';
import { NativeVectorEnv } from './native_vector_env.js';
import { isSeed } from './random.js';
import { SyncVectorEnv } from './sync_vector_env.js';
import { TimeLimit } from './wrappers.js';

/** How a TypeScript environment is registered. */
export interface EnvRegistration {
  /** Builds one copy from the environment-specific options given to `make`. */
  entryPoint: (options: Record<string, unknown>) => Env;
  /** Time limit added by `make` (none when omitted). */
  maxEpisodeSteps?: number;
}

const tsRegistry = new Map<string, EnvRegistration>();

/**
 * Registers a TypeScript environment under `id` so that {@link make} and {@link makeEnv} can
 * build it. Re-registering an id replaces it. A native id registered here too can be chosen
 * with `backend: 'ts'`.
 *
 * @example
 * ```ts
 * register('MyGrid-v0', { entryPoint: (o) => new MyGrid(o), maxEpisodeSteps: 100 });
 * const vec = make('MyGrid-v0', { numEnvs: 8, seed: 1 });
 * ```
 */
export function register(id: string, registration: EnvRegistration): void {
  if (typeof id !== 'string' || id.length === 0) throw new RlcoreError('ERR_ARG', 'register: id must be a non-empty string');
  if (typeof registration?.entryPoint !== 'function') throw new RlcoreError('ERR_ARG', `register: ${id}: entryPoint must be a function`);
  if (registration.maxEpisodeSteps !== undefined) checkSize(`register: ${id}`, 'maxEpisodeSteps', registration.maxEpisodeSteps);
  tsRegistry.set(id, { ...registration });
}

/** Every registered id: the native classic-control suite and the TypeScript registrations. */
export function registeredEnvs(): string[] {
  return [...new Set([...Object.keys(CLASSIC_CONTROL), ...tsRegistry.keys()])].sort();
}

/** Options of {@link make}; any other field is an environment-specific option (e.g. `g` for Pendulum-v1). */
export interface MakeOptions {
  /** Number of copies N (default 1). */
  numEnvs?: number;
  /** Seed: copy i's episodes come from seed + i (default 0). */
  seed?: number;
  /** 'native' (default for the classic-control ids) or 'ts' (the TypeScript registration, in a {@link SyncVectorEnv}). */
  backend?: 'native' | 'ts';
  /** Time limit (default: the registered one). */
  maxEpisodeSteps?: number;
  /** Caller-provided output arrays (nothing is allocated for those given). */
  out?: Partial<VectorBuffers>;
  /** Environment-specific options. */
  [option: string]: unknown;
}

/**
 * Creates N copies of environment `id` as a {@link VectorEnv}: a native batch for the
 * classic-control suite (CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0,
 * Pendulum-v1), else a {@link SyncVectorEnv} of the registered TypeScript environment with its
 * time limit. Call `reset()` before the first `step()`; with no seed it uses `options.seed`.
 */
export function make(id: string, options: MakeOptions = {}): VectorEnv {
  const { numEnvs = 1, seed = 0, backend, maxEpisodeSteps, out, ...envOptions } = options;
  if (backend !== undefined && backend !== 'native' && backend !== 'ts') {
    throw new RlcoreError('ERR_ARG', `make: backend must be 'native' or 'ts'; received ${JSON.stringify(backend)}`);
  }
  if (!isSeed(seed)) throw new RlcoreError('ERR_RANGE', `make: seed must be an integer in [0, 2^53); received ${String(seed)}`);
  const N = checkSize(`make: ${id}`, 'numEnvs', numEnvs);
  const nativeSpec = CLASSIC_CONTROL[id];
  if (nativeSpec && backend !== 'ts') {
    for (const [k, v] of Object.entries(envOptions)) {
      if (typeof v !== 'number' && typeof v !== 'boolean' && v !== undefined) {
        throw new RlcoreError('ERR_ARG', `${id}: option ${k} must be a number or a boolean; received ${typeof v}`);
      }
    }
    return new NativeVectorEnv(id, { numEnvs: N, seed, maxEpisodeSteps, out, envOptions: envOptions as Record<string, number | boolean> });
  }
  const reg = tsRegistry.get(id);
  if (!reg) {
    const why = backend === 'ts' && nativeSpec ? `no TypeScript implementation of '${id}' is registered` : `unknown environment '${id}'`;
    throw new RlcoreError('ERR_ARG', `make: ${why}; registered: ${registeredEnvs().join(', ')}`);
  }
  const limit = maxEpisodeSteps ?? reg.maxEpisodeSteps;
  const envs = Array.from({ length: N }, () => {
    const env = reg.entryPoint(envOptions);
    return limit === undefined ? env : new TimeLimit(env, limit);
  });
  return new SeededSyncVectorEnv(id, envs, seed, out);
}

/** A SyncVectorEnv whose first unseeded reset uses the seed given to `make`. */
class SeededSyncVectorEnv extends SyncVectorEnv {
  private pendingSeed: number | undefined;
  constructor(id: string, envs: Env[], seed: number, out?: Partial<VectorBuffers>) {
    super(id, envs, out);
    this.pendingSeed = seed;
  }
  override reset(options?: ResetOptions): Float32Array {
    const seed = options?.seed ?? this.pendingSeed;
    const obs = super.reset(seed === undefined ? options : { ...options, seed });
    this.pendingSeed = undefined;
    return obs;
  }
}

/**
 * Creates one TypeScript environment registered under `id`, wrapped in its time limit
 * (`options.maxEpisodeSteps` overrides it). Other options go to the entry point.
 */
export function makeEnv(id: string, options: { maxEpisodeSteps?: number; [option: string]: unknown } = {}): Env {
  const { maxEpisodeSteps, ...envOptions } = options;
  const reg = tsRegistry.get(id);
  if (!reg) throw new RlcoreError('ERR_ARG', `makeEnv: no TypeScript environment '${id}' is registered; registered: ${[...tsRegistry.keys()].join(', ')}`);
  const env = reg.entryPoint(envOptions);
  const limit = maxEpisodeSteps ?? reg.maxEpisodeSteps;
  return limit === undefined ? env : new TimeLimit(env, limit);
}

register('CartPole-v1', {
  entryPoint: (o) => {
    for (const k of Object.keys(o)) {
      if (k !== 'suttonBartoReward') throw new RlcoreError('ERR_ARG', `CartPole-v1: unknown option '${k}'; options: suttonBartoReward`);
    }
    return new CartPoleEnv({ suttonBartoReward: o.suttonBartoReward === true });
  },
  maxEpisodeSteps: 500,
});
