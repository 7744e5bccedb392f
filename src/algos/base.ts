// The contract between an algorithm (src/algos/<name>.ts) and the command line. An algorithm
// file reads top to bottom (CleanRL style); this interface is all the CLI needs to train,
// log, checkpoint, resume and evaluate it.
import type { Tensor } from '../nn/safetensors.js';

/** Metrics an iteration reports (logged as JSONL/CSV/TensorBoard scalars under these names). */
export type Metrics = Record<string, number>;

/** Episodes that finished since the last call. */
export interface FinishedEpisodes {
  /** Undiscounted episodic returns. */
  returns: number[];
  /** Episode lengths in steps. */
  lengths: number[];
}

/** Everything needed to resume a run exactly: tensors go to a safetensors file, the rest to JSON. */
export interface RunState {
  /** Network weights, optimiser moments, normaliser statistics, replay contents, ... */
  tensors: Record<string, Tensor>;
  /** JSON-serialisable state: counters, RNG positions, environment states, schedules. */
  state: unknown;
}

/** A training run in progress. */
export interface AlgorithmRun {
  /** Environment steps taken so far, over all copies. */
  readonly globalStep: number;
  /** One iteration: collect experience and update. Returns metrics to log. */
  iterate(): Promise<Metrics> | Metrics;
  /** Episodes finished since the previous call (the CLI logs and plots them). */
  drainEpisodes(): FinishedEpisodes;
  /** State for a checkpoint, taken between iterations. */
  checkpoint(): RunState;
  /** Restores what checkpoint() returned (same config): the run continues as if uninterrupted. */
  restore(state: RunState): void;
  /**
   * Actions for a batch of observations `[B, obsDim]` (evaluation): greedy when
   * `deterministic`, else sampled. Int32Array for discrete actions, Float32Array `[B, actDim]` otherwise.
   */
  act(observations: Float32Array, batch: number, deterministic: boolean): Int32Array | Float32Array;
  /** Releases native resources. */
  close(): void;
}

/** Settings every algorithm receives from the command line. */
export interface CommonConfig {
  /** Environment id, e.g. "CartPole-v1". */
  envId: string;
  /** Seed of everything random in the run. */
  seed: number;
  /** Parallel environment copies. */
  numEnvs: number;
  /** Total environment steps to train for. */
  totalSteps: number;
}

/** An algorithm as the CLI registry sees it. */
export interface AlgorithmSpec<C extends CommonConfig = CommonConfig> {
  /** Name on the command line, e.g. "ppo". */
  name: string;
  /** One line for `rlcore train --help`. */
  description: string;
  /** Default configuration for an environment (CleanRL-like defaults), merged under user options. */
  defaults(envId: string): C;
  /** Starts a run. */
  create(config: C): AlgorithmRun;
}
