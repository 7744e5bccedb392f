// Wrappers: a time limit for single environments; episode statistics, normalisation, clipping
// and action rescaling for vector environments. Each vector wrapper owns the arrays it changes
// and passes the others through, so the wrapped environment's own arrays stay raw.
import { RlcoreError } from '../errors.js';
import { checkNumber, checkSize } from '../validate.js';
import type { Action, ActionSpace, Env, ResetOptions, ResetResult, StepResult, VectorBuffers, VectorEnv } from './env.js';
import { copyActions } from './buffers.js';
import { RunningMeanStd, type RunningMeanStdState } from './running_stats.js';
import { Box } from './spaces.js';

/**
 * Ends an episode with `truncated = true` once it has lasted `maxEpisodeSteps` steps
 * (Gymnasium's TimeLimit: set even when the same step also terminates).
 */
export class TimeLimit<A extends Action = Action> implements Env<A> {
  /** The wrapped environment. */
  readonly env: Env<A>;
  /** The limit in steps. */
  readonly maxEpisodeSteps: number;
  /** Steps taken in the current episode. */
  elapsedSteps = 0;

  /**
   * @param env - the environment to limit
   * @param maxEpisodeSteps - the limit (a positive integer)
   */
  constructor(env: Env<A>, maxEpisodeSteps: number) {
    this.env = env;
    this.maxEpisodeSteps = checkSize('TimeLimit', 'maxEpisodeSteps', maxEpisodeSteps);
  }
  /** The wrapped observation space. */
  get observationSpace(): Box {
    return this.env.observationSpace;
  }
  /** The wrapped action space. */
  get actionSpace(): ActionSpace {
    return this.env.actionSpace;
  }
  /** Resets the wrapped environment and the step count. */
  reset(options?: ResetOptions): ResetResult {
    this.elapsedSteps = 0;
    return this.env.reset(options);
  }
  /** Steps the wrapped environment and truncates at the limit. */
  step(action: A): StepResult {
    const r = this.env.step(action);
    if (++this.elapsedSteps >= this.maxEpisodeSteps) r.truncated = true;
    return r;
  }
  /** Closes the wrapped environment. */
  close(): void {
    this.env.close?.();
  }
}

/** Base of the vector wrappers: forwards everything to the wrapped environment. */
export class VectorWrapper implements VectorEnv {
  /** The wrapped environment. */
  readonly env: VectorEnv;
  /** @param env - the environment to wrap */
  constructor(env: VectorEnv) {
    this.env = env;
  }
  /** Environment id. */
  get id(): string {
    return this.env.id;
  }
  /** Number of copies. */
  get numEnvs(): number {
    return this.env.numEnvs;
  }
  /** Length of one observation. */
  get obsDim(): number {
    return this.env.obsDim;
  }
  /** Observation space of one copy. */
  get singleObservationSpace(): Box {
    return this.env.singleObservationSpace;
  }
  /** Action space of one copy. */
  get singleActionSpace(): ActionSpace {
    return this.env.singleActionSpace;
  }
  /** Action buffer. */
  get actions(): Int32Array | Float32Array {
    return this.env.actions;
  }
  /** `[N, obsDim]` observations. */
  get observations(): Float32Array {
    return this.env.observations;
  }
  /** `[N]` rewards. */
  get rewards(): Float32Array {
    return this.env.rewards;
  }
  /** `[N]` terminated flags. */
  get terminated(): Uint8Array {
    return this.env.terminated;
  }
  /** `[N]` truncated flags. */
  get truncated(): Uint8Array {
    return this.env.truncated;
  }
  /** `[N, obsDim]` final observations. */
  get finalObservations(): Float32Array {
    return this.env.finalObservations;
  }
  /** Resets the wrapped environment. */
  reset(options?: ResetOptions): Float32Array {
    this.env.reset(options);
    return this.observations;
  }
  /** Steps the wrapped environment. */
  step(actions?: ArrayLike<number>): VectorBuffers {
    if (actions !== undefined && actions !== this.actions) copyActions(this.id, actions, this.actions);
    this.env.step();
    return this;
  }
  /** Closes the wrapped environment. */
  close(): void {
    this.env.close();
  }
}

/** One finished episode, as {@link RecordEpisodeStatistics} reports it. */
export interface EpisodeRecord {
  /** Which copy it ran in. */
  env: number;
  /** Sum of its rewards (as seen by this wrapper). */
  return: number;
  /** Number of steps. */
  length: number;
  /** Wall-clock seconds from its first to its last step. */
  time: number;
}

/**
 * Records the return, length and duration of every episode. After each step, where copy i's
 * episode ended, `episodeReturns[i]`, `episodeLengths[i]` and `episodeTimes[i]` hold its totals
 * and `episodeDone[i]` is 1; the last `queueSize` episodes are kept in `recent`.
 */
export class RecordEpisodeStatistics extends VectorWrapper {
  /** `[N]` return of the episode that ended at the last step. */
  readonly episodeReturns: Float64Array;
  /** `[N]` length of the episode that ended at the last step. */
  readonly episodeLengths: Int32Array;
  /** `[N]` seconds taken by the episode that ended at the last step. */
  readonly episodeTimes: Float64Array;
  /** `[N]` 1 where an episode ended at the last step. */
  readonly episodeDone: Uint8Array;
  /** The most recent finished episodes, oldest first. */
  readonly recent: EpisodeRecord[] = [];
  /** Episodes finished so far. */
  episodeCount = 0;
  private readonly queueSize: number;
  private readonly ret: Float64Array;
  private readonly len: Int32Array;
  private readonly start: Float64Array;

  /**
   * @param env - the environment to record
   * @param queueSize - how many recent episodes to keep (default 100)
   */
  constructor(env: VectorEnv, queueSize = 100) {
    super(env);
    const N = env.numEnvs;
    this.queueSize = checkSize('RecordEpisodeStatistics', 'queueSize', queueSize);
    this.episodeReturns = new Float64Array(N);
    this.episodeLengths = new Int32Array(N);
    this.episodeTimes = new Float64Array(N);
    this.episodeDone = new Uint8Array(N);
    this.ret = new Float64Array(N);
    this.len = new Int32Array(N);
    this.start = new Float64Array(N);
  }

  /** Resets and starts counting afresh. */
  override reset(options?: ResetOptions): Float32Array {
    super.reset(options);
    this.ret.fill(0);
    this.len.fill(0);
    this.start.fill(performance.now());
    this.episodeDone.fill(0);
    return this.observations;
  }

  /** Steps and accumulates. */
  override step(actions?: ArrayLike<number>): VectorBuffers {
    super.step(actions);
    const now = performance.now();
    const { rewards, terminated, truncated } = this;
    for (let i = 0; i < this.numEnvs; i++) {
      this.ret[i] += rewards[i];
      this.len[i]++;
      const done = terminated[i] | truncated[i];
      this.episodeDone[i] = done;
      if (done) {
        const rec = { env: i, return: this.ret[i], length: this.len[i], time: (now - this.start[i]) / 1000 };
        this.episodeReturns[i] = rec.return;
        this.episodeLengths[i] = rec.length;
        this.episodeTimes[i] = rec.time;
        this.recent.push(rec);
        if (this.recent.length > this.queueSize) this.recent.shift();
        this.episodeCount++;
        this.ret[i] = 0;
        this.len[i] = 0;
        this.start[i] = now;
      }
    }
    return this;
  }
}

/** Options of {@link NormalizeObservation}. */
export interface NormalizeObservationOptions {
  /** Added to the variance (default 1e-8). */
  epsilon?: number;
  /** Clamp normalised values to ±clip (default: no clamping). */
  clip?: number;
}

/**
 * Normalises observations with a running mean and variance (native): obs' = (obs - μ) / √(σ² + ε),
 * updated with every batch while `training` is true. `finalObservations` are normalised with the
 * same statistics (rows of copies whose episode just ended), so values bootstrap consistently.
 * Save `state()` with a checkpoint and `loadState()` it for evaluation.
 */
export class NormalizeObservation extends VectorWrapper {
  /** The running statistics. */
  readonly rms: RunningMeanStd;
  /** Update the statistics with each batch (turn off for evaluation). */
  training = true;
  private readonly obs: Float32Array;
  private readonly finalObs: Float32Array;
  private readonly epsilon: number;
  private readonly clip: number;

  /**
   * @param env - the environment to wrap
   * @param options - see {@link NormalizeObservationOptions}
   */
  constructor(env: VectorEnv, options: NormalizeObservationOptions = {}) {
    super(env);
    this.rms = new RunningMeanStd(env.obsDim);
    this.obs = new Float32Array(env.numEnvs * env.obsDim);
    this.finalObs = new Float32Array(env.numEnvs * env.obsDim);
    this.epsilon = checkNumber('NormalizeObservation', 'epsilon', options.epsilon, 0, 1, 1e-8);
    this.clip = checkNumber('NormalizeObservation', 'clip', options.clip, 0, Infinity, Infinity);
  }
  /** Normalised observations. */
  override get observations(): Float32Array {
    return this.obs;
  }
  /** Normalised final observations. */
  override get finalObservations(): Float32Array {
    return this.finalObs;
  }
  /** Resets and normalises the first observations. */
  override reset(options?: ResetOptions): Float32Array {
    this.env.reset(options);
    this.transform();
    return this.obs;
  }
  /** Steps and normalises. */
  override step(actions?: ArrayLike<number>): VectorBuffers {
    if (actions !== undefined && actions !== this.actions) copyActions(this.id, actions, this.actions);
    this.env.step();
    this.transform();
    return this;
  }
  /** The statistics, for a checkpoint. */
  state(): RunningMeanStdState {
    return this.rms.state();
  }
  /** Restores statistics saved by {@link NormalizeObservation.state}. */
  loadState(s: RunningMeanStdState): void {
    this.rms.loadState(s);
  }
  private transform(): void {
    const N = this.numEnvs;
    if (this.training) this.rms.update(this.env.observations, N);
    this.rms.normalize(this.env.observations, N, this.obs, this.epsilon, this.clip);
    const done = this.env.terminated, trunc = this.env.truncated;
    let any = false;
    for (let i = 0; i < N; i++) any ||= (done[i] | trunc[i]) === 1;
    if (any) this.rms.normalize(this.env.finalObservations, N, this.finalObs, this.epsilon, this.clip);
  }
}

/** Options of {@link NormalizeReward}. */
export interface NormalizeRewardOptions {
  /** Discount of the running return whose variance scales the rewards (default 0.99). */
  gamma?: number;
  /** Added to the variance (default 1e-8). */
  epsilon?: number;
}

/**
 * Scales rewards by the running standard deviation of the discounted return (native running
 * variance): G_i ← γ G_i (1 - done_i) + r_i, r' = r / √(Var[G] + ε) (Gymnasium's NormalizeReward,
 * with the return restarted at every episode end). Save `state()` with a checkpoint.
 */
export class NormalizeReward extends VectorWrapper {
  /** The running statistics of the discounted return. */
  readonly rms = new RunningMeanStd(1);
  /** Update the statistics with each batch (turn off for evaluation). */
  training = true;
  private readonly gamma: number;
  private readonly epsilon: number;
  private readonly ret: Float64Array;
  private readonly retF32: Float32Array;
  private readonly rew: Float32Array;

  /**
   * @param env - the environment to wrap
   * @param options - see {@link NormalizeRewardOptions}
   */
  constructor(env: VectorEnv, options: NormalizeRewardOptions = {}) {
    super(env);
    this.gamma = checkNumber('NormalizeReward', 'gamma', options.gamma, 0, 1, 0.99);
    this.epsilon = checkNumber('NormalizeReward', 'epsilon', options.epsilon, 0, 1, 1e-8);
    this.ret = new Float64Array(env.numEnvs);
    this.retF32 = new Float32Array(env.numEnvs);
    this.rew = new Float32Array(env.numEnvs);
  }
  /** Scaled rewards. */
  override get rewards(): Float32Array {
    return this.rew;
  }
  /** Resets (and restarts the running returns). */
  override reset(options?: ResetOptions): Float32Array {
    this.ret.fill(0);
    return super.reset(options);
  }
  /** Steps and scales the rewards. */
  override step(actions?: ArrayLike<number>): VectorBuffers {
    if (actions !== undefined && actions !== this.actions) copyActions(this.id, actions, this.actions);
    this.env.step();
    const N = this.numEnvs, r = this.env.rewards, term = this.env.terminated, trunc = this.env.truncated;
    for (let i = 0; i < N; i++) {
      this.ret[i] = this.ret[i] * this.gamma + r[i];
      this.retF32[i] = this.ret[i];
      if (term[i] | trunc[i]) this.ret[i] = 0;
    }
    if (this.training) this.rms.update(this.retF32, N);
    const scale = 1 / Math.sqrt(this.rms.var[0] + this.epsilon);
    for (let i = 0; i < N; i++) this.rew[i] = r[i] * scale;
    return this;
  }
  /** The statistics, for a checkpoint. */
  state(): RunningMeanStdState {
    return this.rms.state();
  }
  /** Restores statistics saved by {@link NormalizeReward.state}. */
  loadState(s: RunningMeanStdState): void {
    this.rms.loadState(s);
  }
}

/** Clamps every observation (and final observation) element to [low, high]. */
export class ClipObservation extends VectorWrapper {
  private readonly obs: Float32Array;
  private readonly finalObs: Float32Array;
  private readonly low: number;
  private readonly high: number;
  /**
   * @param env - the environment to wrap
   * @param low - lower bound
   * @param high - upper bound (>= low)
   */
  constructor(env: VectorEnv, low: number, high: number) {
    super(env);
    this.low = checkNumber('ClipObservation', 'low', low, -Infinity, Infinity);
    this.high = checkNumber('ClipObservation', 'high', high, low, Infinity);
    this.obs = new Float32Array(env.numEnvs * env.obsDim);
    this.finalObs = new Float32Array(env.numEnvs * env.obsDim);
  }
  /** Clipped observations. */
  override get observations(): Float32Array {
    return this.obs;
  }
  /** Clipped final observations. */
  override get finalObservations(): Float32Array {
    return this.finalObs;
  }
  /** Resets and clips. */
  override reset(options?: ResetOptions): Float32Array {
    this.env.reset(options);
    clip(this.env.observations, this.obs, this.low, this.high);
    return this.obs;
  }
  /** Steps and clips. */
  override step(actions?: ArrayLike<number>): VectorBuffers {
    if (actions !== undefined && actions !== this.actions) copyActions(this.id, actions, this.actions);
    this.env.step();
    clip(this.env.observations, this.obs, this.low, this.high);
    clip(this.env.finalObservations, this.finalObs, this.low, this.high);
    return this;
  }
}

/** Clamps every reward to [min, max]. */
export class ClipReward extends VectorWrapper {
  private readonly rew: Float32Array;
  private readonly min: number;
  private readonly max: number;
  /**
   * @param env - the environment to wrap
   * @param min - lower bound
   * @param max - upper bound (>= min)
   */
  constructor(env: VectorEnv, min: number, max: number) {
    super(env);
    this.min = checkNumber('ClipReward', 'min', min, -Infinity, Infinity);
    this.max = checkNumber('ClipReward', 'max', max, min, Infinity);
    this.rew = new Float32Array(env.numEnvs);
  }
  /** Clipped rewards. */
  override get rewards(): Float32Array {
    return this.rew;
  }
  /** Steps and clips. */
  override step(actions?: ArrayLike<number>): VectorBuffers {
    super.step(actions);
    clip(this.env.rewards, this.rew, this.min, this.max);
    return this;
  }
}

function clip(src: Float32Array, dst: Float32Array, lo: number, hi: number): void {
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    dst[i] = v < lo ? lo : v > hi ? hi : v;
  }
}

function boxOf(env: VectorEnv, who: string): Box {
  const s = env.singleActionSpace;
  if (s.kind !== 'box') throw new RlcoreError('ERR_ARG', `${who}: needs a Box action space; ${env.id} has a ${s.kind} one`);
  return s;
}

/** Clamps continuous actions to the action space's bounds before they reach the environment. NaN stays NaN (and is rejected). */
export class ClipAction extends VectorWrapper {
  private readonly own: Float32Array;
  private readonly box: Box;
  private readonly space: Box;
  /** @param env - an environment with a Box action space */
  constructor(env: VectorEnv) {
    super(env);
    this.box = boxOf(env, 'ClipAction');
    this.space = new Box(-Infinity, Infinity, this.box.shape);
    this.own = new Float32Array(env.actions.length);
  }
  /** Unclipped action buffer (write actions here). */
  override get actions(): Float32Array {
    return this.own;
  }
  /** Any finite actions: the space is unbounded. */
  override get singleActionSpace(): Box {
    return this.space;
  }
  /** Clips the actions and steps. */
  override step(actions?: ArrayLike<number>): VectorBuffers {
    if (actions !== undefined && actions !== this.own) copyActions(this.id, actions, this.own);
    const inner = this.env.actions, A = this.box.size;
    for (let i = 0; i < inner.length; i++) {
      const k = i % A, v = this.own[i], lo = this.box.low[k], hi = this.box.high[k];
      inner[i] = v < lo ? lo : v > hi ? hi : v;
    }
    this.env.step();
    return this;
  }
}

/**
 * Affinely maps actions from [minAction, maxAction] onto the environment's Box bounds:
 * a' = low + (high - low) (a - minAction) / (maxAction - minAction). No clipping.
 */
export class RescaleAction extends VectorWrapper {
  private readonly own: Float32Array;
  private readonly box: Box;
  private readonly minAction: number;
  private readonly maxAction: number;
  private readonly space: Box;
  /**
   * @param env - an environment with a bounded Box action space
   * @param minAction - the new lower bound (default -1)
   * @param maxAction - the new upper bound (> minAction, default 1)
   */
  constructor(env: VectorEnv, minAction = -1, maxAction = 1) {
    super(env);
    this.box = boxOf(env, 'RescaleAction');
    for (let k = 0; k < this.box.size; k++) {
      if (!Number.isFinite(this.box.low[k]) || !Number.isFinite(this.box.high[k])) {
        throw new RlcoreError('ERR_ARG', `RescaleAction: the action space of ${env.id} must be bounded`);
      }
    }
    this.minAction = checkNumber('RescaleAction', 'minAction', minAction, -Number.MAX_VALUE, Number.MAX_VALUE);
    this.maxAction = checkNumber('RescaleAction', 'maxAction', maxAction, -Number.MAX_VALUE, Number.MAX_VALUE);
    if (!(this.maxAction > this.minAction)) throw new RlcoreError('ERR_RANGE', `RescaleAction: need minAction < maxAction; received ${minAction} and ${maxAction}`);
    this.space = new Box(this.minAction, this.maxAction, this.box.shape);
    this.own = new Float32Array(env.actions.length);
  }
  /** Action buffer in [minAction, maxAction]. */
  override get actions(): Float32Array {
    return this.own;
  }
  /** Box(minAction, maxAction) of the wrapped shape. */
  override get singleActionSpace(): Box {
    return this.space;
  }
  /** Rescales the actions and steps. */
  override step(actions?: ArrayLike<number>): VectorBuffers {
    if (actions !== undefined && actions !== this.own) copyActions(this.id, actions, this.own);
    const inner = this.env.actions, A = this.box.size, span = this.maxAction - this.minAction;
    for (let i = 0; i < inner.length; i++) {
      const k = i % A, lo = this.box.low[k], hi = this.box.high[k];
      inner[i] = lo + ((hi - lo) * (this.own[i] - this.minAction)) / span;
    }
    this.env.step();
    return this;
  }
}
