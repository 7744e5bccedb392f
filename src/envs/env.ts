// The Gymnasium API in TypeScript: single environments and vectorised batches of them.
import type { Box, Discrete, MultiDiscrete } from './spaces.js';

/** What an action space can be. */
export type ActionSpace = Discrete | Box | MultiDiscrete;

/** An action for one environment: a number (Discrete) or a typed array (Box, MultiDiscrete). */
export type Action = number | Float32Array | Int32Array;

/** Options of {@link Env.reset} and {@link VectorEnv.reset}. */
export interface ResetOptions {
  /** Re-seeds the environment (vector copy i: seed + i); an integer in [0, 2^53). */
  seed?: number;
}

/** What {@link Env.reset} returns. */
export interface ResetResult {
  /** First observation of the episode. */
  observation: Float32Array;
  /** Extra information. */
  info: Record<string, unknown>;
}

/** What {@link Env.step} returns (Gymnasium's 5-tuple). */
export interface StepResult {
  /** Observation after the step. */
  observation: Float32Array;
  /** Reward of the step. */
  reward: number;
  /** The episode ended in a terminal state of the MDP (do not bootstrap). */
  terminated: boolean;
  /** The episode was cut short, e.g. by a time limit (bootstrap from `observation`). */
  truncated: boolean;
  /** Extra information. */
  info: Record<string, unknown>;
}

/**
 * One environment with Gymnasium's semantics: `reset` starts an episode, `step` advances it;
 * after `terminated` or `truncated`, call `reset` before stepping again.
 */
export interface Env<A extends Action = Action> {
  /** Space of the observations. */
  readonly observationSpace: Box;
  /** Space of the actions. */
  readonly actionSpace: ActionSpace;
  /** Starts a new episode. */
  reset(options?: ResetOptions): ResetResult;
  /** Applies one action. Throws RlcoreError (and changes nothing) for an invalid action. */
  step(action: A): StepResult;
  /** Releases resources. */
  close?(): void;
}

/**
 * The arrays one batched step writes: N copies, observations `[N, obsDim]` row-major.
 * `finalObservations` row i holds the last observation of the episode that ended at this step
 * in copy i (valid only where `terminated[i] | truncated[i]`; other rows are left as they were).
 */
export interface VectorBuffers {
  /** `[N, obsDim]` observations (after an automatic reset: the first observation of the new episode). */
  observations: Float32Array;
  /** `[N]` rewards. */
  rewards: Float32Array;
  /** `[N]` 1 where the episode terminated at this step. */
  terminated: Uint8Array;
  /** `[N]` 1 where the episode was truncated (time limit) at this step. */
  truncated: Uint8Array;
  /** `[N, obsDim]` final observation of the episodes that ended at this step. */
  finalObservations: Float32Array;
}

/**
 * N copies of an environment stepped as one batch, writing into preallocated typed arrays.
 * A copy whose episode ends is reset within the same step ("same-step" autoreset): its
 * row of `observations` is already the new episode's first observation and the last
 * observation of the finished one is in `finalObservations`, which is what bootstrapping
 * a truncated episode needs: V(finalObservations[i]).
 */
export interface VectorEnv extends VectorBuffers {
  /** Environment id. */
  readonly id: string;
  /** Number of copies N. */
  readonly numEnvs: number;
  /** Length of one observation. */
  readonly obsDim: number;
  /** Observation space of one copy. */
  readonly singleObservationSpace: Box;
  /** Action space of one copy. */
  readonly singleActionSpace: ActionSpace;
  /**
   * `[N, actDim]` action buffer: write actions here and call `step()` without an argument to
   * avoid a copy. Int32Array for discrete actions, Float32Array for continuous ones.
   */
  readonly actions: Int32Array | Float32Array;
  /** Resets every copy; returns `observations`. */
  reset(options?: ResetOptions): Float32Array;
  /**
   * Steps every copy with `actions` (default: the `actions` buffer) and returns the buffers.
   * Invalid actions throw RlcoreError and leave every copy unchanged.
   */
  step(actions?: ArrayLike<number>): VectorBuffers;
  /** Releases resources. */
  close(): void;
}
