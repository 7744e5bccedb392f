// SyncVectorEnv: N TypeScript environments stepped one after another into batch arrays.
import { RlcoreError } from '../errors.js';
import { checkSize } from '../validate.js';
import type { ActionSpace, Env, ResetOptions, VectorBuffers, VectorEnv } from './env.js';
import { actionDim, allocBuffers, copyActions } from './buffers.js';
import { isSeed } from './random.js';
import type { Box } from './spaces.js';

/**
 * Wraps N copies of any TypeScript {@link Env} as a {@link VectorEnv}, stepping them in turn
 * on the calling thread, with the same same-step autoreset and `finalObservations` as the
 * native batches. `reset({ seed })` seeds copy i with seed + i.
 */
export class SyncVectorEnv implements VectorEnv {
  /** Environment id. */
  readonly id: string;
  /** Number of copies. */
  readonly numEnvs: number;
  /** Length of one observation. */
  readonly obsDim: number;
  /** Observation space of one copy. */
  readonly singleObservationSpace: Box;
  /** Action space of one copy. */
  readonly singleActionSpace: ActionSpace;
  /** The copies. */
  readonly envs: readonly Env[];
  /** `[N, actDim]` action buffer. */
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
  private readonly actDim: number;
  private readonly actionViews: Array<Int32Array | Float32Array>;
  private needsReset = true;

  /**
   * @param id - name reported in errors
   * @param envs - the copies (at least one), all with the spaces of the first
   * @param out - caller-provided output arrays (nothing is allocated for those given)
   */
  constructor(id: string, envs: Env[], out?: Partial<VectorBuffers>) {
    if (!Array.isArray(envs) || envs.length < 1) throw new RlcoreError('ERR_ARG', `${id}: SyncVectorEnv needs at least one environment`);
    this.id = id;
    this.envs = envs;
    this.numEnvs = checkSize(id, 'numEnvs', envs.length);
    this.singleObservationSpace = envs[0].observationSpace;
    this.singleActionSpace = envs[0].actionSpace;
    this.obsDim = this.singleObservationSpace.size;
    this.actDim = actionDim(this.singleActionSpace);
    const b = allocBuffers(id, this.numEnvs, this.obsDim, this.singleActionSpace, out);
    this.actions = b.actions;
    this.observations = b.observations;
    this.rewards = b.rewards;
    this.terminated = b.terminated;
    this.truncated = b.truncated;
    this.finalObservations = b.finalObservations;
    this.actionViews = envs.map((_, i) => this.actions.subarray(i * this.actDim, (i + 1) * this.actDim));
  }

  /** Resets every copy (copy i seeded with seed + i when a seed is given). */
  reset(options?: ResetOptions): Float32Array {
    const seed = options?.seed;
    if (seed !== undefined && !isSeed(seed)) throw new RlcoreError('ERR_RANGE', `${this.id}: seed must be an integer in [0, 2^53); received ${String(seed)}`);
    for (let i = 0; i < this.numEnvs; i++) {
      const r = this.envs[i].reset(seed === undefined ? undefined : { seed: seed + i });
      this.observations.set(r.observation, i * this.obsDim);
    }
    this.needsReset = false;
    return this.observations;
  }

  /** Steps every copy; a finished copy is reset in the same step. */
  step(actions?: ArrayLike<number>): VectorBuffers {
    if (this.needsReset) throw new RlcoreError('ERR_ARG', `${this.id}: call reset() before step()`);
    if (actions !== undefined) copyActions(this.id, actions, this.actions);
    const space = this.singleActionSpace;
    // Validate every action first, so that a bad one leaves every copy unchanged.
    for (let i = 0; i < this.numEnvs; i++) {
      const a = space.kind === 'discrete' ? this.actions[i] : this.actionViews[i];
      const ok = space.kind === 'box' ? (a as Float32Array).every(Number.isFinite) : space.contains(space.kind === 'discrete' ? a : Array.from(a as Int32Array));
      if (!ok) {
        throw new RlcoreError('ERR_RANGE', `${this.id}: actions[${i}] is not a valid action; received ${String(a)}`);
      }
    }
    const D = this.obsDim;
    for (let i = 0; i < this.numEnvs; i++) {
      const env = this.envs[i];
      const r = env.step(space.kind === 'discrete' ? this.actions[i] : this.actionViews[i]);
      this.rewards[i] = r.reward;
      this.terminated[i] = r.terminated ? 1 : 0;
      this.truncated[i] = r.truncated ? 1 : 0;
      if (r.terminated || r.truncated) {
        this.finalObservations.set(r.observation, i * D);
        this.observations.set(env.reset().observation, i * D);
      } else {
        this.observations.set(r.observation, i * D);
      }
    }
    return this;
  }

  /** Closes every copy. */
  close(): void {
    for (const e of this.envs) e.close?.();
  }
}
