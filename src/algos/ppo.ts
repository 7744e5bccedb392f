// Proximal Policy Optimization (Schulman et al. 2017, arXiv:1707.06347), CleanRL's ppo.py and
// ppo_continuous_action.py in one file. Every heavy step is a native call on preallocated
// buffers: environment stepping, forward and backward passes, sampling, GAE, advantage
// whitening, the minibatch shuffle and gathers, the losses, gradient clipping and Adam. What is
// left in TypeScript is the loop and a few O(N) bookkeeping loops per step.
import type { AlgorithmRun, AlgorithmSpec, CommonConfig, FinishedEpisodes, Metrics, RunState } from './base.js';
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkNumber, checkSize } from '../validate.js';
import { make } from '../envs/registry.js';
import { NativeVectorEnv } from '../envs/native_vector_env.js';
import { RunningMeanStd, type RunningMeanStdState } from '../envs/running_stats.js';
import type { VectorEnv } from '../envs/env.js';
import { Box, Discrete } from '../envs/spaces.js';
import { Mlp, type Sequential } from '../nn/mlp.js';
import { Adam } from '../nn/optim.js';
import { PpoUpdate, type PpoRollout, type PpoUpdateStats } from '../nn/ppo_update.js';
import type { Tensor } from '../nn/safetensors.js';
import { categoricalBackward, categoricalLogProb, categoricalSample } from '../dist/categorical.js';
import { gaussianBackward, gaussianLogProb, gaussianSample } from '../dist/gaussian.js';
import { ppoLoss } from '../losses/ppo.js';
import { valueLoss } from '../losses/value.js';
import { gae } from '../kernels/gae.js';
import { whiten } from '../kernels/normalize.js';
import { gatherRows, permutation } from '../kernels/permutation.js';

/** Hyperparameters of {@link ppo} (CleanRL's names in camelCase; defaults from {@link ppoDefaults}). */
export interface PpoConfig extends CommonConfig {
  /** Adam learning rate. */
  learningRate: number;
  /** Anneal the learning rate linearly to 0 over the run. */
  annealLr: boolean;
  /** Steps per environment copy per rollout (T). */
  numSteps: number;
  /** Discount γ. */
  gamma: number;
  /** GAE λ. */
  gaeLambda: number;
  /** Minibatches per epoch (must divide numEnvs · numSteps). */
  numMinibatches: number;
  /** Passes over each rollout. */
  updateEpochs: number;
  /** Normalise advantages per minibatch. */
  normAdv: boolean;
  /** Surrogate clip range ε. */
  clipCoef: number;
  /** Clip the value loss around the rollout's values (with clipCoef). */
  clipVloss: boolean;
  /** Entropy bonus coefficient. */
  entCoef: number;
  /** Value loss coefficient. */
  vfCoef: number;
  /** Global gradient-norm clip. */
  maxGradNorm: number;
  /** Stop an update after an epoch whose approximate KL exceeds this (null: never). */
  targetKl: number | null;
  /** Hidden layer widths of the actor and the critic. */
  hiddenSizes: number[];
  /** Hidden activation. */
  activation: 'tanh' | 'relu';
  /** One network for actor and critic (a shared trunk with logits and value in one output layer). */
  sharedNetwork: boolean;
  /** Normalise observations with running statistics (Gymnasium's NormalizeObservation). */
  normalizeObservation: boolean;
  /** Scale rewards by the running std of the discounted return (Gymnasium's NormalizeReward). */
  normalizeReward: boolean;
  /** Clamp normalised observations to ±this. */
  clipObservation: number;
  /** Clamp normalised rewards to ±this. */
  clipReward: number;
  /** Adam ε. */
  adamEps: number;
  /** Initial log σ of the Gaussian policy (continuous actions). */
  initLogStd: number;
}

/**
 * rlcore's PPO defaults for an environment: CleanRL's ppo.py for discrete actions (lr 2.5e-4
 * annealed, 128 steps, 4 minibatches, 4 epochs, clip 0.2, entropy 0.01, max grad norm 0.5,
 * 64-64 tanh networks, 4 environment copies), and for continuous actions CleanRL's
 * ppo_continuous_action.py (lr 3e-4, 2048 steps, 32 minibatches, 10 epochs, no entropy bonus,
 * observation and reward normalisation), with γ = 0.9 and 4 copies on Pendulum-v1.
 */
export function ppoDefaults(envId: string): PpoConfig {
  const base: PpoConfig = {
    envId, seed: 1, numEnvs: 4, totalSteps: 500_000,
    learningRate: 2.5e-4, annealLr: true, numSteps: 128, gamma: 0.99, gaeLambda: 0.95,
    numMinibatches: 4, updateEpochs: 4, normAdv: true, clipCoef: 0.2, clipVloss: true,
    entCoef: 0.01, vfCoef: 0.5, maxGradNorm: 0.5, targetKl: null,
    hiddenSizes: [64, 64], activation: 'tanh', sharedNetwork: false,
    normalizeObservation: false, normalizeReward: false, clipObservation: 10, clipReward: 10,
    adamEps: 1e-5, initLogStd: 0,
  };
  const continuous = envId === 'Pendulum-v1' || envId === 'MountainCarContinuous-v0';
  if (!continuous) return base;
  const c: PpoConfig = {
    ...base, numEnvs: 1, totalSteps: 1_000_000, learningRate: 3e-4, numSteps: 2048, numMinibatches: 32,
    updateEpochs: 10, entCoef: 0, normalizeObservation: true, normalizeReward: true,
  };
  if (envId === 'Pendulum-v1') return { ...c, numEnvs: 4, numSteps: 512, gamma: 0.9, learningRate: 1e-3 };
  return c;
}

// A 53-bit key from a seed and a purpose, so that sampling and shuffling use unrelated streams.
function keyOf(seed: number, purpose: number): number {
  const x = (BigInt(seed) * 0x9e3779b97f4a7c15n + BigInt(purpose) * 0xbf58476d1ce4e5b9n) & ((1n << 64n) - 1n);
  return Number((x ^ (x >> 29n)) & ((1n << 53n) - 1n));
}

const TWO53 = 2 ** 53;

function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new RlcoreError('ERR_ARG', `ppo: ${name} must be true or false; received ${JSON.stringify(v)}`);
  return v;
}

function checkInt(name: string, v: unknown, min: number, max = 2 ** 40): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RlcoreError('ERR_RANGE', `ppo: ${name} must be an integer in [${min}, ${max}]; received ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks every field of a PPO configuration; returns a normalised copy. */
export function checkPpoConfig(c: PpoConfig): PpoConfig {
  const k = 'ppo';
  if (typeof c?.envId !== 'string') throw new RlcoreError('ERR_ARG', `${k}: envId must be a string`);
  const num = (name: keyof PpoConfig, lo: number, hi: number) => checkNumber(k, name, c[name], lo, hi);
  if (!Array.isArray(c.hiddenSizes) || c.hiddenSizes.length === 0) throw new RlcoreError('ERR_ARG', `${k}: hiddenSizes must be a non-empty array of widths`);
  c.hiddenSizes.forEach((h, i) => checkSize(k, `hiddenSizes[${i}]`, h));
  if (c.activation !== 'tanh' && c.activation !== 'relu') throw new RlcoreError('ERR_ARG', `${k}: activation must be 'tanh' or 'relu'; received ${JSON.stringify(c.activation)}`);
  if (c.targetKl !== null && c.targetKl !== undefined) checkNumber(k, 'targetKl', c.targetKl, 0, 1e30);
  const out: PpoConfig = {
    ...c,
    seed: checkInt('seed', c.seed, 0, 2 ** 31 - 1),
    numEnvs: checkInt('numEnvs', c.numEnvs, 1, 1 << 20),
    totalSteps: checkInt('totalSteps', c.totalSteps, 1, 2 ** 50),
    learningRate: num('learningRate', 0, 10),
    annealLr: checkBool('annealLr', c.annealLr),
    numSteps: checkInt('numSteps', c.numSteps, 1, 1 << 20),
    gamma: num('gamma', 0, 1),
    gaeLambda: num('gaeLambda', 0, 1),
    numMinibatches: checkInt('numMinibatches', c.numMinibatches, 1),
    updateEpochs: checkInt('updateEpochs', c.updateEpochs, 1, 10_000),
    normAdv: checkBool('normAdv', c.normAdv),
    clipCoef: num('clipCoef', 0, 1e30),
    clipVloss: checkBool('clipVloss', c.clipVloss),
    entCoef: num('entCoef', -1e30, 1e30),
    vfCoef: num('vfCoef', 0, 1e30),
    maxGradNorm: num('maxGradNorm', 0, 1e30),
    targetKl: c.targetKl ?? null,
    hiddenSizes: [...c.hiddenSizes],
    sharedNetwork: checkBool('sharedNetwork', c.sharedNetwork),
    normalizeObservation: checkBool('normalizeObservation', c.normalizeObservation),
    normalizeReward: checkBool('normalizeReward', c.normalizeReward),
    clipObservation: num('clipObservation', 0, Infinity),
    clipReward: num('clipReward', 0, Infinity),
    adamEps: num('adamEps', 0, 1),
    initLogStd: num('initLogStd', -20, 20),
  };
  const batch = out.numEnvs * out.numSteps;
  if (batch % out.numMinibatches !== 0) {
    throw new RlcoreError('ERR_ARG', `${k}: numMinibatches (${out.numMinibatches}) must divide numEnvs * numSteps (${out.numEnvs} * ${out.numSteps} = ${batch})`);
  }
  return out;
}

/** JSON part of a PPO checkpoint. */
interface PpoState {
  globalStep: number;
  iteration: number;
  sampleCounter: number;
  resets: number[];
  envStates: number[][];
  episodeReturn: number[];
  episodeLength: number[];
  pending: FinishedEpisodes;
  obsRms: RunningMeanStdState | null;
  retRms: RunningMeanStdState | null;
  discountedReturn: number[];
  optimizerSteps: Record<string, number>;
}

/** A PPO training run: see {@link ppo}. */
export class PpoRun implements AlgorithmRun {
  /** The checked configuration. */
  readonly config: PpoConfig;
  /** The training environments (N copies). */
  env: VectorEnv;
  /** Actor network (logits or Gaussian means); with `sharedNetwork` also the critic (last output). */
  readonly actor: Sequential;
  /** Critic network V(s) (the actor itself with `sharedNetwork`). */
  readonly critic: Sequential;
  /** `[A]` free log σ of the Gaussian policy (empty for discrete actions). */
  readonly logStd: Float32Array;
  /** Running observation statistics (when `normalizeObservation`). */
  readonly obsRms: RunningMeanStd | null;
  /** Environment steps so far. */
  globalStep = 0;
  /** Completed iterations (rollout + update). */
  iteration = 0;

  private readonly discrete: boolean;
  private readonly A: number; // actions (discrete) or action dimensions
  private readonly D: number; // observation size
  private readonly N: number;
  private readonly T: number;
  private readonly numIterations: number;
  private readonly outSize: number; // actor output width (A, or A + 1 when shared)
  private readonly actLow: Float32Array;
  private readonly actHigh: Float32Array;
  private readonly sampleKey: number;
  private readonly shuffleKey: number;
  private sampleCounter = 0;
  private readonly opts: Array<[string, Adam]>;
  // Separate networks: each minibatch is one fused native update (actor and critic in parallel).
  // A shared network goes through the kernels one by one ({@link minibatchStep}).
  private fused: PpoUpdate | null;
  private readonly batch: PpoRollout;
  private readonly logStdGrad: Float32Array;
  private readonly retRms: RunningMeanStd | null;
  private readonly discountedReturn: Float64Array;
  private readonly epRet: Float64Array;
  private readonly epLen: Float64Array;
  private resets: Float64Array;
  private finished: FinishedEpisodes = { returns: [], lengths: [] };
  // Rollout storage, time-major [T, N, ...], with per-step row views made once.
  private readonly obs: Float32Array;
  private readonly actions: Int32Array | Float32Array;
  private readonly logProbs: Float32Array;
  private readonly values: Float32Array;
  private readonly rewards: Float32Array;
  private readonly terminated: Uint8Array;
  private readonly truncated: Uint8Array;
  private readonly finalValues: Float32Array;
  private readonly advantages: Float32Array;
  private readonly returns: Float32Array;
  private readonly rows: Array<{ obs: Float32Array; act: Int32Array | Float32Array; logp: Float32Array; val: Float32Array; rew: Float32Array; term: Uint8Array; trunc: Uint8Array; fval: Float32Array }>;
  // Per-step scratch.
  private readonly curObs: Float32Array;
  private readonly stepOut: Float32Array;
  private readonly stepEnt: Float32Array;
  private readonly finalObs: Float32Array;
  private readonly stepVal: Float32Array;
  private readonly retBuf: Float32Array;
  // Minibatch scratch.
  private readonly perm: Int32Array;
  private readonly mbIndex: Int32Array[];
  private readonly mbObs: Float32Array;
  private readonly mbAct: Int32Array | Float32Array;
  private readonly mbLogp: Float32Array;
  private readonly mbVal: Float32Array;
  private readonly mbRet: Float32Array;
  private readonly mbAdv: Float32Array;
  private readonly mbOut: Float32Array;
  private readonly mbHead: Float32Array; // actor head [M, A] when shared
  private readonly mbNewLogp: Float32Array;
  private readonly mbEnt: Float32Array;
  private readonly mbGradLogp: Float32Array;
  private readonly mbGradHead: Float32Array;
  private readonly mbGradOut: Float32Array;
  private readonly mbV: Float32Array;
  private readonly mbGradV: Float32Array;
  private readonly norm = new Float64Array(1);

  /** Creates the environments, networks and buffers (see {@link ppo}). */
  constructor(config: PpoConfig) {
    const c = (this.config = checkPpoConfig(config));
    const N = (this.N = c.numEnvs), T = (this.T = c.numSteps);
    this.env = make(c.envId, { numEnvs: N, seed: c.seed });
    const space = this.env.singleActionSpace;
    this.D = this.env.obsDim;
    if (space instanceof Discrete) {
      this.discrete = true;
      this.A = space.n;
      this.actLow = this.actHigh = new Float32Array(0);
    } else if (space instanceof Box) {
      this.discrete = false;
      this.A = space.size;
      this.actLow = Float32Array.from(space.low);
      this.actHigh = Float32Array.from(space.high);
    } else {
      throw new RlcoreError('ERR_ARG', `ppo: ${c.envId} has a ${space.kind} action space; PPO supports Discrete and Box`);
    }
    const A = this.A, D = this.D, B = N * T;
    this.numIterations = Math.ceil(c.totalSteps / B);
    this.sampleKey = keyOf(c.seed, 1);
    this.shuffleKey = keyOf(c.seed, 2);

    // CleanRL's initialisation: orthogonal √2 hidden layers, 0.01 on the policy head, 1 on the value head.
    const net = { inputSize: D, hiddenSizes: c.hiddenSizes, activation: c.activation };
    this.outSize = c.sharedNetwork ? A + 1 : A;
    this.actor = new Mlp({ ...net, outputSize: this.outSize, outputInit: { gain: c.sharedNetwork ? 1 : 0.01 }, seed: keyOf(c.seed, 3) });
    if (c.sharedNetwork) {
      // Rows 0..A-1 of the output layer are the policy head: scale them to gain 0.01.
      const last = this.actor.paramInfo[this.actor.paramInfo.length - 2];
      const w = this.actor.param(last.name), inner = last.shape[1];
      for (let i = 0; i < A * inner; i++) w[i] *= 0.01;
    }
    this.critic = c.sharedNetwork ? this.actor : new Mlp({ ...net, outputSize: 1, outputInit: { gain: 1 }, seed: keyOf(c.seed, 4) });
    this.logStd = new Float32Array(this.discrete ? 0 : A).fill(c.initLogStd);
    this.logStdGrad = new Float32Array(this.logStd.length);
    const adam = { lr: c.learningRate, eps: c.adamEps };
    this.opts = [['actor', new Adam(this.actor, adam)]];
    if (!c.sharedNetwork) this.opts.push(['critic', new Adam(this.critic, adam)]);
    if (!this.discrete) this.opts.push(['logStd', new Adam({ params: this.logStd, grads: this.logStdGrad }, adam)]);

    this.obsRms = c.normalizeObservation ? new RunningMeanStd(D) : null;
    this.retRms = c.normalizeReward ? new RunningMeanStd(1) : null;
    this.discountedReturn = new Float64Array(N);
    this.epRet = new Float64Array(N);
    this.epLen = new Float64Array(N);
    this.resets = new Float64Array(N);

    const Act = this.discrete ? Int32Array : Float32Array;
    const aw = this.discrete ? 1 : A;
    this.obs = new Float32Array(B * D);
    this.actions = new Act(B * aw);
    this.logProbs = new Float32Array(B);
    this.values = new Float32Array(B);
    this.rewards = new Float32Array(B);
    this.terminated = new Uint8Array(B);
    this.truncated = new Uint8Array(B);
    this.finalValues = new Float32Array(B);
    this.advantages = new Float32Array(B);
    this.returns = new Float32Array(B);
    this.rows = Array.from({ length: T }, (_, t) => ({
      obs: this.obs.subarray(t * N * D, (t + 1) * N * D),
      act: this.actions.subarray(t * N * aw, (t + 1) * N * aw),
      logp: this.logProbs.subarray(t * N, (t + 1) * N),
      val: this.values.subarray(t * N, (t + 1) * N),
      rew: this.rewards.subarray(t * N, (t + 1) * N),
      term: this.terminated.subarray(t * N, (t + 1) * N),
      trunc: this.truncated.subarray(t * N, (t + 1) * N),
      fval: this.finalValues.subarray(t * N, (t + 1) * N),
    }));
    this.curObs = new Float32Array(N * D);
    this.stepOut = new Float32Array(N * this.outSize);
    this.stepEnt = new Float32Array(N);
    this.finalObs = new Float32Array(N * D);
    this.stepVal = new Float32Array(N * (c.sharedNetwork ? A + 1 : 1));
    this.retBuf = new Float32Array(N);

    const M = B / c.numMinibatches;
    this.perm = new Int32Array(B);
    this.mbIndex = Array.from({ length: c.numMinibatches }, (_, m) => this.perm.subarray(m * M, (m + 1) * M));
    this.mbObs = new Float32Array(M * D);
    this.mbAct = new Act(M * aw);
    this.mbLogp = new Float32Array(M);
    this.mbVal = new Float32Array(M);
    this.mbRet = new Float32Array(M);
    this.mbAdv = new Float32Array(M);
    this.mbOut = new Float32Array(M * this.outSize);
    this.mbHead = c.sharedNetwork ? new Float32Array(M * A) : this.mbOut;
    this.mbNewLogp = new Float32Array(M);
    this.mbEnt = new Float32Array(M);
    this.mbGradLogp = new Float32Array(M);
    this.mbGradHead = new Float32Array(M * A);
    this.mbGradOut = c.sharedNetwork ? new Float32Array(M * (A + 1)) : this.mbGradHead;
    this.mbV = c.sharedNetwork ? new Float32Array(M) : new Float32Array(M);
    this.mbGradV = new Float32Array(M);
    this.batch = { obs: this.obs, actions: this.actions, logProbs: this.logProbs, values: this.values, returns: this.returns, advantages: this.advantages };
    const opt = (name: string) => this.opts.find(([n]) => n === name)![1];
    this.fused = c.sharedNetwork ? null : new PpoUpdate({
      actor: this.actor, critic: this.critic, actorOptimizer: opt('actor'), criticOptimizer: opt('critic'),
      logStd: this.discrete ? undefined : { params: this.logStd, grads: this.logStdGrad, optimizer: opt('logStd') },
      minibatchSize: M, clipCoef: c.clipCoef, entCoef: c.entCoef, vfCoef: c.vfCoef, maxGradNorm: c.maxGradNorm,
      clipVloss: c.clipVloss, normAdv: c.normAdv,
    });

    this.resetEnv();
  }

  // Starts every copy's first episode and the normalised current observation.
  private resetEnv(): void {
    this.env.reset();
    this.observe(this.env.observations, true);
  }

  // curObs = normalise(raw) (updating the statistics first, as NormalizeObservation does).
  private observe(raw: Float32Array, update: boolean): void {
    if (this.obsRms) {
      if (update) this.obsRms.update(raw, this.N);
      this.obsRms.normalize(raw, this.N, this.curObs, 1e-8, this.config.clipObservation);
    } else {
      this.curObs.set(raw);
    }
  }

  // V(s) for a [N, D] batch of (normalised) observations into out [N].
  private valueOf(obs: Float32Array, out: Float32Array): void {
    if (!this.config.sharedNetwork) {
      this.critic.forward(obs, out);
      return;
    }
    const w = this.outSize;
    this.actor.forward(obs, this.stepVal);
    for (let i = 0; i < this.N; i++) out[i] = this.stepVal[i * w + w - 1];
  }

  private nextSampleSeed(): number {
    const s = this.sampleKey + this.sampleCounter++;
    return s >= TWO53 ? s - TWO53 : s;
  }

  /** Learning rate of the next update (linearly annealed when `annealLr`). */
  get learningRate(): number {
    const c = this.config;
    return c.annealLr ? (1 - this.iteration / this.numIterations) * c.learningRate : c.learningRate;
  }

  /** One rollout of `numSteps` steps in every copy, then `updateEpochs` epochs of minibatch updates. */
  iterate(): Metrics {
    this.rollout();
    return this.update();
  }

  private rollout(): void {
    const c = this.config, env = this.env, N = this.N;
    for (let t = 0; t < this.T; t++) {
      const row = this.rows[t];
      row.obs.set(this.curObs);
      if (this.fused) {
        // Separate networks: forward passes, sampling and the environment's (clipped) actions in one call.
        this.fused.act(row.obs, this.nextSampleSeed(), { actions: row.act, logProb: row.logp, entropy: this.stepEnt, values: row.val }, env.actions, this.actLow, this.actHigh);
      } else {
        this.policyStep(row);
      }
      env.step();
      this.globalStep += N;
      const r = env.rewards, term = env.terminated, trunc = env.truncated;
      row.term.set(term);
      row.trunc.set(trunc);
      let anyTrunc = false;
      for (let i = 0; i < N; i++) {
        this.epRet[i] += r[i];
        this.epLen[i]++;
        if (term[i] | trunc[i]) {
          this.finished.returns.push(this.epRet[i]);
          this.finished.lengths.push(this.epLen[i]);
          this.epRet[i] = 0;
          this.epLen[i] = 0;
          this.resets[i]++;
          if (trunc[i] && !term[i]) anyTrunc = true;
        }
      }
      if (this.retRms) {
        const g = c.gamma;
        for (let i = 0; i < N; i++) {
          this.discountedReturn[i] = this.discountedReturn[i] * g * (1 - term[i]) + r[i];
          this.retBuf[i] = this.discountedReturn[i];
        }
        this.retRms.update(this.retBuf, N);
        const scale = 1 / Math.sqrt(this.retRms.var[0] + 1e-8), clip = c.clipReward;
        for (let i = 0; i < N; i++) {
          const v = r[i] * scale;
          row.rew[i] = v < -clip ? -clip : v > clip ? clip : v;
        }
      } else {
        row.rew.set(r);
      }
      if (anyTrunc) {
        // Truncated episodes bootstrap from V(final observation), normalised with the current statistics.
        if (this.obsRms) this.obsRms.normalize(env.finalObservations, N, this.finalObs, 1e-8, c.clipObservation);
        else this.finalObs.set(env.finalObservations);
        this.valueOf(this.finalObs, row.fval);
      }
      this.observe(env.observations, true);
    }
  }

  // The policy's half of a rollout step through the kernels one by one (what PpoUpdate.act fuses).
  private policyStep(row: PpoRun['rows'][number]): void {
    const N = this.N, A = this.A, w = this.outSize, shared = this.config.sharedNetwork, env = this.env;
    this.actor.forward(row.obs, this.stepOut);
    let head = this.stepOut;
    if (shared) {
      // Split [N, A + 1] into the policy head (compacted in place) and the values.
      for (let i = 0; i < N; i++) {
        row.val[i] = this.stepOut[i * w + A];
        for (let j = 0; j < A; j++) this.stepOut[i * A + j] = this.stepOut[i * w + j];
      }
      head = this.stepOut.subarray(0, N * A);
    } else {
      this.critic.forward(row.obs, row.val);
    }
    if (this.discrete) {
      categoricalSample({ shape: [N, A], logits: head, seed: this.nextSampleSeed(), out: { actions: row.act as Int32Array, logProb: row.logp, entropy: this.stepEnt } });
      (env.actions as Int32Array).set(row.act as Int32Array);
    } else {
      gaussianSample({ shape: [N, A], mean: head, logStd: this.logStd, seed: this.nextSampleSeed(), out: { actions: row.act as Float32Array, logProb: row.logp, entropy: this.stepEnt } });
      // The environment gets the action clipped to its bounds (CleanRL's ClipAction); the
      // rollout keeps the sample, whose log-probability the update uses.
      const a = row.act, ea = env.actions, lo = this.actLow, hi = this.actHigh;
      for (let i = 0; i < N * A; i++) {
        const j = i % A, v = a[i];
        ea[i] = v < lo[j] ? lo[j] : v > hi[j] ? hi[j] : v;
      }
    }
  }

  private update(): Metrics {
    const c = this.config, N = this.N, T = this.T, B = N * T;
    const lastValues = this.stepEnt; // [N] scratch, free between rollouts
    this.valueOf(this.curObs, lastValues);
    gae({
      shape: [T, N], rewards: this.rewards, values: this.values, terminated: this.terminated, truncated: this.truncated,
      lastValues, finalValues: this.finalValues, gamma: c.gamma, lambda: c.gaeLambda,
      out: { advantages: this.advantages, returns: this.returns },
    });
    const lr = this.learningRate;
    let last: PpoUpdateStats | null = null;
    let clipFracSum = 0, updates = 0;
    for (let epoch = 0; epoch < c.updateEpochs; epoch++) {
      permutation({ n: B, seed: this.shuffleKey, stream: this.iteration * c.updateEpochs + epoch, out: this.perm });
      for (const idx of this.mbIndex) {
        last = this.fused ? this.fused.step(this.batch, idx, lr) : this.minibatchStep(idx, lr);
        clipFracSum += last.clipFraction;
        updates++;
      }
      if (c.targetKl !== null && last!.approxKl > c.targetKl) break;
    }
    this.iteration++;

    // Explained variance of the value predictions (CleanRL's diagnostic), in float64.
    let mr = 0, md = 0;
    for (let i = 0; i < B; i++) mr += this.returns[i], md += this.returns[i] - this.values[i];
    mr /= B, md /= B;
    let vr = 0, vd = 0;
    for (let i = 0; i < B; i++) {
      const a = this.returns[i] - mr, d = this.returns[i] - this.values[i] - md;
      vr += a * a, vd += d * d;
    }
    return {
      learning_rate: lr,
      value_loss: last!.valueLoss,
      policy_loss: last!.policyLoss,
      entropy: last!.entropy,
      old_approx_kl: last!.oldApproxKl,
      approx_kl: last!.approxKl,
      clipfrac: clipFracSum / updates,
      explained_variance: vr === 0 ? NaN : 1 - vd / vr,
    };
  }

  // One minibatch through the kernels one by one: gathers, forward, log-probabilities, losses,
  // backward, global clipping and Adam. (What PpoUpdate fuses for separate networks.)
  private minibatchStep(idx: Int32Array, lr: number): PpoUpdateStats {
    const c = this.config, A = this.A, D = this.D, B = this.N * this.T;
    const M = idx.length, aw = this.discrete ? 1 : A, w = this.outSize, shared = c.sharedNetwork;
    gatherRows({ shape: [B, D], x: this.obs, indices: idx, out: this.mbObs });
    gatherRows({ shape: [B, aw], x: this.actions, indices: idx, out: this.mbAct });
    gatherRows({ shape: [B, 1], x: this.logProbs, indices: idx, out: this.mbLogp });
    gatherRows({ shape: [B, 1], x: this.values, indices: idx, out: this.mbVal });
    gatherRows({ shape: [B, 1], x: this.returns, indices: idx, out: this.mbRet });
    if (c.normAdv) whiten({ x: this.advantages, indices: idx, out: this.mbAdv });
    else gatherRows({ shape: [B, 1], x: this.advantages, indices: idx, out: this.mbAdv });
    this.actor.zeroGrad();
    if (!shared) this.critic.zeroGrad();

    // Policy: log π(a|s), the clipped surrogate, and its gradient back through the head.
    this.actor.forwardTrain(this.mbObs, this.mbOut);
    if (shared) {
      for (let i = 0; i < M; i++) {
        this.mbV[i] = this.mbOut[i * w + A];
        for (let j = 0; j < A; j++) this.mbHead[i * A + j] = this.mbOut[i * w + j];
      }
    }
    const out = { logProb: this.mbNewLogp, entropy: this.mbEnt };
    if (this.discrete) categoricalLogProb({ shape: [M, A], logits: this.mbHead, actions: this.mbAct as Int32Array, out });
    else gaussianLogProb({ shape: [M, A], mean: this.mbHead, logStd: this.logStd, actions: this.mbAct as Float32Array, out });
    const pg = ppoLoss({
      shape: [M], newLogProb: this.mbNewLogp, oldLogProb: this.mbLogp, advantages: this.mbAdv, entropy: this.mbEnt,
      clipCoef: c.clipCoef, entCoef: c.entCoef, out: { gradLogProb: this.mbGradLogp },
    });
    const grads = { gradLogProb: this.mbGradLogp, gradEntropy: pg.gradEntropy };
    if (this.discrete) {
      categoricalBackward({ shape: [M, A], logits: this.mbHead, actions: this.mbAct as Int32Array, ...grads, out: { gradLogits: this.mbGradHead } });
    } else {
      gaussianBackward({ shape: [M, A], mean: this.mbHead, logStd: this.logStd, actions: this.mbAct as Float32Array, ...grads, out: { gradMean: this.mbGradHead, gradStd: this.logStdGrad } });
    }

    // Value: (clipped) squared error, scaled by vfCoef.
    if (!shared) this.critic.forwardTrain(this.mbObs, this.mbV);
    const vl = valueLoss({ shape: [M], values: this.mbV, returns: this.mbRet, oldValues: c.clipVloss ? this.mbVal : undefined, clipCoef: c.clipCoef, out: { grad: this.mbGradV } });
    const g = this.mbGradV, vf = c.vfCoef;
    for (let i = 0; i < M; i++) g[i] *= vf;
    if (shared) {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < A; j++) this.mbGradOut[i * w + j] = this.mbGradHead[i * A + j];
        this.mbGradOut[i * w + A] = g[i];
      }
      this.actor.backward(this.mbGradOut);
    } else {
      this.actor.backward(this.mbGradHead);
      this.critic.backward(g);
    }
    const gradNorm = this.clipGradients(c.maxGradNorm);
    for (const [, opt] of this.opts) opt.step(lr);
    return { ...pg, valueLoss: vl.loss, valueClipFraction: vl.clipFraction, gradNorm };
  }

  // Clips the global gradient norm over every trained parameter (actor, critic, log σ) to
  // maxNorm as torch.nn.utils.clip_grad_norm_ does: g ← g · maxNorm / (‖g‖ + 1e-6).
  private clipGradients(maxNorm: number): number {
    const nn = native().nnClipGradNorm, norm = this.norm;
    nn(this.actor.grads, 3.4e38, norm, false, false);
    const na = norm[0];
    let nc = 0;
    if (!this.config.sharedNetwork) {
      nn(this.critic.grads, 3.4e38, norm, false, false);
      nc = norm[0];
    }
    let ns = 0;
    for (let i = 0; i < this.logStdGrad.length; i++) ns += this.logStdGrad[i] * this.logStdGrad[i];
    const total = Math.sqrt(na * na + nc * nc + ns);
    if (!(total > maxNorm)) return total;
    const s = maxNorm / (total + 1e-6);
    // nnClipGradNorm scales by max / (‖g‖ + 1e-6): asking for max = s (‖g‖ + 1e-6) scales by s.
    nn(this.actor.grads, s * (na + 1e-6), norm, false, false);
    if (!this.config.sharedNetwork) nn(this.critic.grads, s * (nc + 1e-6), norm, false, false);
    for (let i = 0; i < this.logStdGrad.length; i++) this.logStdGrad[i] *= s;
    return total;
  }

  /** Episodes finished since the previous call. */
  drainEpisodes(): FinishedEpisodes {
    const f = this.finished;
    this.finished = { returns: [], lengths: [] };
    return f;
  }

  /** Weights, optimiser moments, statistics, RNG positions and environment states. */
  checkpoint(): RunState {
    const tensors: Record<string, Tensor> = {};
    const nets: Array<[string, Sequential]> = [['actor', this.actor]];
    if (!this.config.sharedNetwork) nets.push(['critic', this.critic]);
    for (const [name, net] of nets) {
      for (const p of net.parameters()) tensors[`${name}.${p.name}`] = { dtype: 'F32', shape: p.shape, data: Float32Array.from(p.data) };
    }
    if (!this.discrete) tensors.logStd = { dtype: 'F32', shape: [this.A], data: Float32Array.from(this.logStd) };
    const optimizerSteps: Record<string, number> = {};
    for (const [name, opt] of this.opts) {
      const sd = opt.stateDict();
      for (const [k, t] of Object.entries(sd.tensors)) tensors[`optimizer.${name}.${k}`] = { ...t, data: Float32Array.from(t.data as Float32Array) };
      optimizerSteps[name] = opt.stepCount;
    }
    tensors.currentObservation = { dtype: 'F32', shape: [this.N, this.D], data: Float32Array.from(this.curObs) };
    const envStates: number[][] = [];
    if (this.env instanceof NativeVectorEnv) for (let i = 0; i < this.N; i++) envStates.push(Array.from(this.env.getState(i)));
    const state: PpoState = {
      globalStep: this.globalStep,
      iteration: this.iteration,
      sampleCounter: this.sampleCounter,
      resets: Array.from(this.resets),
      envStates,
      episodeReturn: Array.from(this.epRet),
      episodeLength: Array.from(this.epLen),
      pending: { returns: [...this.finished.returns], lengths: [...this.finished.lengths] },
      obsRms: this.obsRms?.state() ?? null,
      retRms: this.retRms?.state() ?? null,
      discountedReturn: Array.from(this.discountedReturn),
      optimizerSteps,
    };
    return { tensors, state };
  }

  /** Restores {@link checkpoint} output: the run continues exactly as if never interrupted. */
  restore(saved: RunState): void {
    const k = 'ppo.restore';
    const s = saved?.state as PpoState | undefined;
    const t = saved?.tensors;
    const bad = (what: string): never => {
      throw new RlcoreError('ERR_IO', `${k}: checkpoint does not match this configuration: ${what}`);
    };
    if (!s || typeof s !== 'object' || !t) bad('missing state');
    const st = s as PpoState;
    const vec = (name: string, a: unknown, n: number): number[] => {
      if (!Array.isArray(a) || a.length !== n || !a.every((v) => typeof v === 'number' && Number.isFinite(v))) bad(`${name} must be ${n} finite numbers`);
      return a as number[];
    };
    const tensor = (name: string, dst: Float32Array) => {
      const x = t[name];
      if (!x || x.dtype !== 'F32' || x.data.length !== dst.length) bad(`tensor ${name} missing or of the wrong size`);
      return () => dst.set(x.data as Float32Array);
    };
    // Check everything before changing anything.
    const writes: Array<() => void> = [];
    const nets: Array<[string, Sequential]> = [['actor', this.actor]];
    if (!this.config.sharedNetwork) nets.push(['critic', this.critic]);
    for (const [name, net] of nets) for (const p of net.parameters()) writes.push(tensor(`${name}.${p.name}`, p.data));
    if (!this.discrete) writes.push(tensor('logStd', this.logStd));
    writes.push(tensor('currentObservation', this.curObs));
    for (const [name, opt] of this.opts) {
      const prefix = `optimizer.${name}.`;
      const tensors: Record<string, Tensor> = {};
      for (const [key, x] of Object.entries(t)) if (key.startsWith(prefix)) tensors[key.slice(prefix.length)] = x;
      const step = st.optimizerSteps?.[name];
      if (!Number.isInteger(step)) bad(`optimizer step of ${name}`);
      try {
        // Adam checks its state fully before writing it.
        const probe = new Adam({ params: new Float32Array(opt.m.length), grads: new Float32Array(opt.m.length), paramInfo: name === 'logStd' ? undefined : (name === 'actor' ? this.actor : this.critic).paramInfo }, {});
        probe.loadStateDict({ tensors, metadata: { step: String(step) } });
      } catch (e) {
        bad(`optimizer ${name}: ${(e as Error).message}`);
      }
      writes.push(() => opt.loadStateDict({ tensors, metadata: { step: String(step) } }));
    }
    const N = this.N;
    const globalStep = vec('globalStep', [st.globalStep], 1)[0];
    const iteration = vec('iteration', [st.iteration], 1)[0];
    const sampleCounter = vec('sampleCounter', [st.sampleCounter], 1)[0];
    const resets = vec('resets', st.resets, N);
    const epRet = vec('episodeReturn', st.episodeReturn, N);
    const epLen = vec('episodeLength', st.episodeLength, N);
    const disc = vec('discountedReturn', st.discountedReturn, N);
    const native = this.env instanceof NativeVectorEnv;
    if (native) {
      if (!Array.isArray(st.envStates) || st.envStates.length !== N) bad('envStates');
      st.envStates.forEach((x, i) => vec(`envStates[${i}]`, x, (this.env as NativeVectorEnv).stateDim + 1));
    }
    if (!!st.obsRms !== !!this.obsRms || !!st.retRms !== !!this.retRms) bad('normalisation settings differ');
    try {
      if (this.obsRms && st.obsRms) new RunningMeanStd(this.D).loadState(st.obsRms);
      if (this.retRms && st.retRms) new RunningMeanStd(1).loadState(st.retRms);
    } catch (e) {
      bad((e as Error).message);
    }
    const pending = st.pending;
    if (!pending || !Array.isArray(pending.returns) || !Array.isArray(pending.lengths)) bad('pending episodes');

    for (const wr of writes) wr();
    if (this.obsRms && st.obsRms) this.obsRms.loadState(st.obsRms);
    if (this.retRms && st.retRms) this.retRms.loadState(st.retRms);
    this.globalStep = globalStep;
    this.iteration = iteration;
    this.sampleCounter = sampleCounter;
    this.epRet.set(epRet);
    this.epLen.set(epLen);
    this.discountedReturn.set(disc);
    this.resets = Float64Array.from(resets);
    this.finished = { returns: [...pending.returns], lengths: [...pending.lengths] };
    this.restoreEnv(st);
  }

  // A native environment's reset streams are sequential per copy: a fresh environment with the
  // same seed is brought to the same stream positions by replaying each copy's resets (forcing
  // them with a one-step-to-the-time-limit state), then every copy's state is set.
  private restoreEnv(st: PpoState): void {
    const c = this.config, N = this.N;
    this.env.close();
    this.env = make(c.envId, { numEnvs: N, seed: c.seed });
    this.env.reset();
    const env = this.env;
    if (!(env instanceof NativeVectorEnv)) return;
    const dim = env.stateDim, start: Float64Array[] = [];
    for (let i = 0; i < N; i++) start.push(env.getState(i));
    const x = new Float64Array(dim + 1);
    let rounds = 0;
    for (const r of st.resets) rounds = Math.max(rounds, r);
    env.actions.fill(0);
    for (let r = 1; r <= rounds; r++) {
      for (let i = 0; i < N; i++) {
        x.set(start[i]);
        x[dim] = st.resets[i] >= r ? env.maxEpisodeSteps - 1 : 0;
        env.setState(i, x);
      }
      env.step();
    }
    for (let i = 0; i < N; i++) env.setState(i, st.envStates[i]);
  }

  /**
   * Actions for `[batch, obsDim]` raw observations, normalised with the training statistics
   * (not updated): greedy (argmax, or the Gaussian mean) when `deterministic`, else sampled.
   * Continuous actions are clipped to the action bounds.
   */
  act(observations: Float32Array, batch: number, deterministic: boolean): Int32Array | Float32Array {
    const D = this.D, A = this.A, w = this.outSize;
    const x = new Float32Array(batch * D);
    if (this.obsRms) this.obsRms.normalize(observations, batch, x, 1e-8, this.config.clipObservation);
    else x.set(observations.subarray(0, batch * D));
    const y = this.actor.forward(x);
    const head = new Float32Array(batch * A);
    for (let i = 0; i < batch; i++) for (let j = 0; j < A; j++) head[i * A + j] = y[i * w + j];
    const seed = keyOf(this.config.seed, 5 + this.evalCalls++);
    if (this.discrete) {
      if (!deterministic) return categoricalSample({ shape: [batch, A], logits: head, seed }).actions;
      const out = new Int32Array(batch);
      for (let i = 0; i < batch; i++) {
        let best = 0;
        for (let j = 1; j < A; j++) if (head[i * A + j] > head[i * A + best]) best = j;
        out[i] = best;
      }
      return out;
    }
    const a = deterministic ? head : gaussianSample({ shape: [batch, A], mean: head, logStd: this.logStd, seed }).actions;
    for (let i = 0; i < batch * A; i++) a[i] = Math.min(this.actHigh[i % A], Math.max(this.actLow[i % A], a[i]));
    return a;
  }
  private evalCalls = 0;

  /** Releases the environments. */
  close(): void {
    this.env.close();
  }
}

/**
 * PPO for discrete (categorical) and continuous (diagonal Gaussian, state-independent log σ)
 * actions, CleanRL's algorithm: rollouts of `numSteps` in `numEnvs` copies, GAE(γ, λ) with
 * truncated episodes bootstrapped from their final observation, then `updateEpochs` passes of
 * `numMinibatches` shuffled minibatches minimising
 *
 * ```text
 * L = −mean min(r Â, clip(r, 1 − ε, 1 + ε) Â) − c_H mean H + c_V · ½ mean max((V − R)², (V_clip − R)²)
 * ```
 *
 * with per-minibatch advantage normalisation, global gradient clipping and Adam.
 */
export const ppo: AlgorithmSpec<PpoConfig> = {
  name: 'ppo',
  description: 'Proximal Policy Optimization (CleanRL-style; discrete and continuous actions)',
  defaults: ppoDefaults,
  create: (config) => new PpoRun(config),
};
