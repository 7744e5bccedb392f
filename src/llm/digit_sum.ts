// A synthetic task with a verifiable reward for language-model RL: the prompt is a target sum S,
// the completion is a string of L digits, and the reward is 1 when the digits add up to S.
import { RlcoreError } from '../errors.js';
import type { Env, ResetOptions, ResetResult, StepResult } from '../envs/env.js';
import { isSeed, RandomStream } from '../envs/random.js';
import { register, registeredEnvs } from '../envs/registry.js';
import { Box, Discrete } from '../envs/spaces.js';

/** Options of {@link DigitSumTask}. */
export interface DigitSumOptions {
  /** Completion length L (tokens); default 4. */
  numDigits?: number;
  /** Targets are drawn uniformly from [lo, hi] (within [0, 9L]); default [6, 30] for L = 4. */
  targetRange?: [lo: number, hi: number];
}

/**
 * The digit-sum task: vocabulary {0, …, 9}, prompt "target S", completion y_1 … y_L, and the
 * verifiable reward 1[Σ y_t = S]. A uniformly random policy solves about 1 prompt in 20, so
 * many GRPO groups start with no signal (all rewards 0). The policy sees, at step t, the
 * observation `[one-hot S (9L + 1), one-hot y_1 … y_{t−1} (L · 10, zeros after t − 1), one-hot t (L)]`:
 * an autoregressive model with the whole prefix as context.
 */
export class DigitSumTask {
  /** Vocabulary size (10 digits). */
  readonly vocab = 10;
  /** Completion length L. */
  readonly numDigits: number;
  /** Smallest target. */
  readonly lo: number;
  /** Largest target. */
  readonly hi: number;
  /** Observation width: 9L + 1 + 10 L + L. */
  readonly obsDim: number;

  /** Checks the options. */
  constructor(options: DigitSumOptions = {}) {
    const k = 'DigitSumTask';
    const L = options.numDigits ?? 4;
    if (!Number.isInteger(L) || L < 1 || L > 64) throw new RlcoreError('ERR_RANGE', `${k}: numDigits must be an integer in [1, 64]; received ${String(L)}`);
    const [lo, hi] = options.targetRange ?? [Math.round(1.5 * L), Math.round(7.5 * L)];
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > 9 * L || lo > hi) {
      throw new RlcoreError('ERR_RANGE', `${k}: targetRange must be integers 0 <= lo <= hi <= ${9 * L}; received [${lo}, ${hi}]`);
    }
    this.numDigits = L;
    this.lo = lo;
    this.hi = hi;
    this.obsDim = 9 * L + 1 + 10 * L + L;
  }

  /** `count` targets drawn from `rng`. */
  prompts(count: number, rng: RandomStream): Int32Array {
    return Int32Array.from({ length: count }, () => this.lo + rng.below(this.hi - this.lo + 1));
  }

  /** Writes the observation of step `t` for completion `b` (target `target`, digits so far in `tokens[b * L ..]`). */
  observe(out: Float32Array, row: number, target: number, tokens: Int32Array, b: number, t: number): void {
    const L = this.numDigits, o = row * this.obsDim;
    out.fill(0, o, o + this.obsDim);
    out[o + target] = 1;
    const base = o + 9 * L + 1;
    for (let s = 0; s < t; s++) out[base + 10 * s + tokens[b * L + s]] = 1;
    out[base + 10 * L + t] = 1;
  }

  /** `[B]` rewards 1[Σ digits = target] of completions `tokens` `[B, L]` answering `targets` `[B]`. */
  rewards(targets: Int32Array, tokens: Int32Array): Float32Array {
    const L = this.numDigits;
    return Float32Array.from(targets, (s, b) => {
      let sum = 0;
      for (let t = 0; t < L; t++) sum += tokens[b * L + t];
      return sum === s ? 1 : 0;
    });
  }
}

/**
 * {@link DigitSumTask} as a Gymnasium-style environment (id `DigitSum-v0`), so that the CLI can
 * evaluate and render a trained GRPO policy: an episode writes L digits, one per step; the
 * reward is 1 at the last step when they add up to the target (drawn at reset), else 0.
 */
export class DigitSumEnv implements Env<number> {
  /** The features of {@link DigitSumTask.observe}, in [0, 1]. */
  readonly observationSpace: Box;
  /** The 10 digits. */
  readonly actionSpace = new Discrete(10);
  /** The task (sizes and rewards). */
  readonly task: DigitSumTask;
  private rng = new RandomStream(0);
  private target = 0;
  private t = 0;
  private readonly tokens: Int32Array;

  /** Options as for {@link DigitSumTask}. */
  constructor(options: DigitSumOptions = {}) {
    this.task = new DigitSumTask(options);
    this.observationSpace = new Box(0, 1, [this.task.obsDim]);
    this.tokens = new Int32Array(this.task.numDigits);
  }

  private obs(): Float32Array {
    const o = new Float32Array(this.task.obsDim);
    this.task.observe(o, 0, this.target, this.tokens, 0, Math.min(this.t, this.task.numDigits - 1));
    return o;
  }

  /** Draws a new target. */
  reset(options?: ResetOptions): ResetResult {
    if (options?.seed !== undefined) {
      if (!isSeed(options.seed)) throw new RlcoreError('ERR_RANGE', `DigitSum-v0: seed must be an integer in [0, 2^53); received ${String(options.seed)}`);
      this.rng = new RandomStream(options.seed, 0);
    }
    this.target = this.task.prompts(1, this.rng)[0];
    this.t = 0;
    this.tokens.fill(0);
    return { observation: this.obs(), info: { target: this.target } };
  }

  /** Writes one digit; the last one ends the episode with the verifiable reward. */
  step(action: number): StepResult {
    if (!Number.isInteger(action) || action < 0 || action > 9) throw new RlcoreError('ERR_RANGE', `DigitSum-v0: action must be a digit 0..9; received ${String(action)}`);
    if (this.t >= this.task.numDigits) throw new RlcoreError('ERR_ARG', 'DigitSum-v0: the episode is over; call reset()');
    this.tokens[this.t++] = action;
    const done = this.t === this.task.numDigits;
    const reward = done ? this.task.rewards(new Int32Array([this.target]), this.tokens)[0] : 0;
    return { observation: this.obs(), reward, terminated: done, truncated: false, info: {} };
  }
}

/** Registers `DigitSum-v0` (idempotent), so that `make('DigitSum-v0')` works. */
export function registerDigitSum(): void {
  if (!registeredEnvs().includes('DigitSum-v0')) register('DigitSum-v0', { entryPoint: (o) => new DigitSumEnv(o as DigitSumOptions) });
}
