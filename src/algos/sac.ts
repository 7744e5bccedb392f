// Soft Actor-Critic (Haarnoja et al. 2018, arXiv:1801.01290 and arXiv:1812.05905), CleanRL's
// sac_continuous_action.py: twin Q networks with Polyak-averaged targets, a tanh-squashed
// Gaussian actor with state-dependent log σ, delayed actor updates (policyFrequency actor steps
// every policyFrequency steps) and automatic entropy tuning towards H = −dim(A).
import type { AlgorithmRun, AlgorithmSpec, CommonConfig, FinishedEpisodes, Metrics, RunState } from './base.js';
import { RlcoreError } from '../errors.js';
import { RandomStream } from '../envs/random.js';
import { Box } from '../envs/spaces.js';
import { Mlp, type Sequential } from '../nn/mlp.js';
import { Adam } from '../nn/optim.js';
import { TwinCritic } from '../nn/twin_critic.js';
import type { Tensor } from '../nn/safetensors.js';
import { squashedGaussianBackward, squashedGaussianSample } from '../dist/squashed_gaussian.js';
import { tdLoss } from '../losses/td.js';
import { ReplayBuffer, type ReplayBatch } from '../replay/replay.js';
import { Collector, addReplayTensor, netTensors, restoreReplay, type CollectorState, prepareNetsRestore, prepareOptimizerRestore } from '../replay/collector.js';
import { checkNumber, checkSize } from '../validate.js';

/**
 * SAC hyperparameters (CleanRL's defaults). On Pendulum-v1, RL Baselines3 Zoo's setting
 * (hyperparams/sac.yml: learning rate 1e-3 for actor, critics and α) learned no better than these
 * in 50k-step runs (seeds 1–3: last-100 mean −134/−149/−155 against −134/−145/−158), so the
 * defaults stay CleanRL's for every environment.
 */
export interface SacConfig extends CommonConfig {
  /** Replay capacity; 1 000 000. */
  bufferSize: number;
  /** Discount γ; 0.99. */
  gamma: number;
  /** Target smoothing τ; 0.005. */
  tau: number;
  /** Minibatch size; 256. */
  batchSize: number;
  /** Steps of uniformly random actions before learning; 5000. */
  learningStarts: number;
  /** Actor (and α) learning rate; 3e-4. */
  policyLr: number;
  /** Q learning rate; 1e-3. */
  qLr: number;
  /** Actor updates are delayed: policyFrequency of them every policyFrequency steps; 2. */
  policyFrequency: number;
  /** Steps between target updates; 1. */
  targetNetworkFrequency: number;
  /** Entropy coefficient α when not tuned; 0.2. */
  alpha: number;
  /** Tune α towards the target entropy −dim(A); true. */
  autotune: boolean;
  /** Hidden widths of the actor and the critics (ReLU); [256, 256]. */
  hiddenSizes: number[];
  /** n of n-step returns; 1. */
  nStep: number;
  /** Environment steps per {@link AlgorithmRun.iterate} call; 1000. */
  stepsPerIteration: number;
  /** Put the replay buffer in checkpoints; false. */
  checkpointReplay: boolean;
  /**
   * Noise ε of the rollout actions: 'white' (i.i.d. N(0, 1), standard SAC) or 'pink' (1/f noise,
   * correlated in time: Eberhard et al. 2023, "Pink Noise Is All You Need", ICLR; the warm-up
   * actions are then tanh(ε) instead of uniform). 'white', except 'pink' for
   * MountainCarContinuous-v0, whose goal i.i.d. noise practically never reaches.
   */
  explorationNoise: 'white' | 'pink';
}

function sacDefaults(envId: string): SacConfig {
  return {
    envId, seed: 1, numEnvs: 1, totalSteps: 1_000_000, bufferSize: 1_000_000, gamma: 0.99, tau: 0.005, batchSize: 256,
    learningStarts: 5000, policyLr: 3e-4, qLr: 1e-3, policyFrequency: 2, targetNetworkFrequency: 1, alpha: 0.2, autotune: true,
    hiddenSizes: [256, 256], nStep: 1, stepsPerIteration: 1000, checkpointReplay: false,
    explorationNoise: envId === 'MountainCarContinuous-v0' ? 'pink' : 'white',
  };
}

const LOG_STD_MIN = -5, LOG_STD_MAX = 2;
// PyTorch's default Linear weights, U(±1/√fan_in), as CleanRL's networks use: He-uniform with gain 1/√3.
const TORCH_INIT = { scheme: 'heUniform', gain: 1 / Math.sqrt(3) } as const;

/** A 53-bit seed for call number `counter` of purpose `purpose` (splitmix-style). */
function mix(seed: number, purpose: number, counter: number): number {
  const x = (BigInt(seed) * 0x9e3779b97f4a7c15n + BigInt(purpose) * 0xbf58476d1ce4e5b9n + BigInt(counter) * 0x94d049bb133111ebn) & ((1n << 64n) - 1n);
  return Number((x ^ (x >> 31n)) & ((1n << 53n) - 1n));
}

/** A standard normal draw (Box–Muller). */
function normal(rand: RandomStream): number {
  const u = 1 - rand.uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand.uniform());
}

/**
 * Unit-variance Gaussian noise with a ~1/f spectrum, one stream per (env, action) element, by
 * the Voss–McCartney algorithm: 16 Gaussian sources, source k redrawn every 2^k steps, summed
 * with a fresh white term and scaled by 1/√17. Step t draws from Philox stream (seed, 2^41 + t).
 */
class PinkNoise {
  static readonly K = 16;
  sources: Float64Array;
  t = 0;
  constructor(readonly n: number, readonly seed: number) {
    const rand = new RandomStream(seed, 2 ** 41);
    this.sources = Float64Array.from({ length: n * PinkNoise.K }, () => normal(rand));
  }
  next(out: Float32Array): Float32Array {
    const K = PinkNoise.K, rand = new RandomStream(this.seed, 2 ** 41 + ++this.t);
    const k = Math.min(K - 1, 31 - Math.clz32(this.t & -this.t));
    for (let i = 0; i < this.n; i++) {
      this.sources[i * K + k] = normal(rand);
      let s = normal(rand);
      for (let j = 0; j < K; j++) s += this.sources[i * K + j];
      out[i] = s / Math.sqrt(K + 1);
    }
    return out;
  }
}

interface SacState {
  globalStep: number;
  iteration: number;
  updates: number;
  draws: number;
  logAlpha: number;
  pink: { t: number; sources: number[] } | null;
  optimizerSteps: Record<string, number>;
  collector: CollectorState;
  replayBytes: number;
}

class SacRun implements AlgorithmRun {
  globalStep = 0;
  private readonly c: SacConfig;
  private readonly col: Collector;
  private readonly D: number;
  private readonly A: number;
  private readonly scale: Float32Array;
  private readonly bias: Float32Array;
  private readonly logScaleSum: number;
  private readonly actor: Mlp;
  private readonly q1: Mlp;
  private readonly q2: Mlp;
  private readonly q1t: Sequential;
  private readonly q2t: Sequential;
  private readonly opts: Array<[string, Adam]>;
  // Both critics (and both targets) in one native call, one per pool thread; null: the kernels
  // one by one (the reference the tests compare it with, bit for bit).
  private twin: { online: TwinCritic; target: TwinCritic } | null;
  private readonly logAlpha = { params: new Float32Array(1), grads: new Float32Array(1) };
  private rb: ReplayBuffer;
  private readonly batch: ReplayBatch;
  private iteration = 0;
  private updates = 0;
  private draws = 0;
  private readonly s: ReturnType<typeof scratch>;
  private readonly pink: PinkNoise | undefined;

  constructor(config: SacConfig) {
    const c = (this.c = { ...sacDefaults(config.envId), ...config });
    const k = 'sac';
    for (const key of ['bufferSize', 'batchSize', 'policyFrequency', 'targetNetworkFrequency', 'nStep', 'stepsPerIteration', 'numEnvs', 'totalSteps'] as const) checkSize(k, key, c[key]);
    checkNumber(k, 'gamma', c.gamma, 0, 1);
    checkNumber(k, 'tau', c.tau, 0, 1);
    this.col = new Collector(c.envId, c.numEnvs, c.seed);
    const space = this.col.env.singleActionSpace;
    if (!(space instanceof Box)) throw new RlcoreError('ERR_ARG', `sac: ${c.envId} has a discrete action space; SAC here needs continuous actions (try dqn)`);
    this.D = this.col.obsDim;
    this.A = space.size;
    this.scale = Float32Array.from(space.high, (h, j) => (h - space.low[j]) / 2);
    this.bias = Float32Array.from(space.high, (h, j) => (h + space.low[j]) / 2);
    this.logScaleSum = Array.from(this.scale).reduce((a, s) => a + Math.log(s), 0);
    const { D, A } = this;
    this.actor = new Mlp({ inputSize: D, hiddenSizes: c.hiddenSizes, outputSize: 2 * A, activation: 'relu', init: TORCH_INIT, outputInit: TORCH_INIT, seed: c.seed });
    this.q1 = new Mlp({ inputSize: D + A, hiddenSizes: c.hiddenSizes, outputSize: 1, activation: 'relu', init: TORCH_INIT, outputInit: TORCH_INIT, seed: c.seed + 1 });
    this.q2 = new Mlp({ inputSize: D + A, hiddenSizes: c.hiddenSizes, outputSize: 1, activation: 'relu', init: TORCH_INIT, outputInit: TORCH_INIT, seed: c.seed + 2 });
    this.q1t = this.q1.clone();
    this.q2t = this.q2.clone();
    this.logAlpha.params[0] = Math.log(c.alpha);
    this.opts = [
      ['actor', new Adam(this.actor, { lr: c.policyLr })],
      ['q1', new Adam(this.q1, { lr: c.qLr })],
      ['q2', new Adam(this.q2, { lr: c.qLr })],
      ['logAlpha', new Adam(this.logAlpha, { lr: c.qLr })],
    ];
    this.twin = {
      online: new TwinCritic({ q1: this.q1, q2: this.q2, q1Optimizer: this.opt('q1'), q2Optimizer: this.opt('q2') }),
      target: new TwinCritic({ q1: this.q1t, q2: this.q2t }),
    };
    this.rb = new ReplayBuffer({ capacity: c.bufferSize, obsDim: D, actionDim: A, numEnvs: c.numEnvs, seed: c.seed });
    this.batch = this.rb.allocateBatch(c.batchSize);
    this.s = scratch(c.batchSize, c.numEnvs, D, A);
    if (c.explorationNoise !== 'white' && c.explorationNoise !== 'pink') throw new RlcoreError('ERR_ARG', `${k}: explorationNoise must be 'white' or 'pink'`);
    this.pink = c.explorationNoise === 'pink' ? new PinkNoise(c.numEnvs * A, c.seed) : undefined;
  }

  private get alpha(): number {
    return Math.exp(this.logAlpha.params[0]);
  }

  private opt(name: string): Adam {
    return this.opts.find(([n]) => n === name)![1];
  }

  /**
   * π(·|s) for B rows of `obs`: a = scale · tanh(u) + bias, log π(a) (with CleanRL's −Σ log scale).
   * Keeps what {@link actorBackward} needs when `train`.
   */
  private policy(obs: Float32Array, B: number, train: boolean, deterministic = false, noise?: Float32Array) {
    const A = this.A, s = this.s;
    const out = (train ? this.actor.forwardTrain(obs, s.actorOut.subarray(0, B * 2 * A)) : this.actor.forward(obs, s.actorOut.subarray(0, B * 2 * A)));
    const mean = s.mean.subarray(0, B * A), logStd = s.logStd.subarray(0, B * A);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < A; j++) {
        mean[b * A + j] = out[b * 2 * A + j];
        logStd[b * A + j] = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (Math.tanh(out[b * 2 * A + A + j]) + 1);
      }
    }
    const r = squashedGaussianSample({
      shape: [B, A], mean, logStd, deterministic, noise,
      seed: deterministic || noise ? undefined : mix(this.c.seed, 1, this.draws++),
      out: { actions: s.squashed.subarray(0, B * A), noise: s.noise.subarray(0, B * A), logProb: s.logProb.subarray(0, B) },
    });
    const env = s.envActions.subarray(0, B * A);
    for (let i = 0; i < B * A; i++) env[i] = this.scale[i % A] * r.actions[i] + this.bias[i % A];
    for (let b = 0; b < B; b++) r.logProb[b] -= this.logScaleSum;
    return { actions: env, logProb: r.logProb, mean, logStd, noise: r.noise, raw: out };
  }

  private concat(obs: Float32Array, act: Float32Array, B: number): Float32Array {
    const { D, A } = this, x = this.s.qIn.subarray(0, B * (D + A));
    for (let b = 0; b < B; b++) {
      x.set(obs.subarray(b * D, b * D + D), b * (D + A));
      x.set(act.subarray(b * A, b * A + A), b * (D + A) + D);
    }
    return x;
  }

  iterate(): Metrics {
    const c = this.c, N = c.numEnvs, A = this.A;
    const rand = new RandomStream(c.seed, 1 + this.iteration++);
    const actions = new Float32Array(N * A);
    let qLoss = 0, aLoss = 0, n = 0, na = 0;
    const t0 = performance.now(), start = this.globalStep;
    while (this.globalStep - start < c.stepsPerIteration && this.globalStep < c.totalSteps) {
      if (this.globalStep < c.learningStarts) {
        // Warm-up: uniform random actions, or tanh of the pink noise (its long pushes explore).
        const eps = this.pink?.next(this.s.pinkNoise.subarray(0, N * A));
        for (let i = 0; i < N * A; i++) actions[i] = this.bias[i % A] + this.scale[i % A] * (eps ? Math.tanh(eps[i]) : rand.uniform(-1, 1));
      } else {
        const eps = this.pink?.next(this.s.pinkNoise.subarray(0, N * A));
        actions.set(this.policy(this.col.observations, N, false, false, eps).actions);
      }
      const buffers = this.col.step(actions);
      this.rb.addFromEnv(this.col.previous, actions, buffers);
      const before = this.globalStep;
      this.globalStep += N;
      if (this.globalStep <= c.learningStarts) continue;
      qLoss += this.updateCritics();
      n++;
      const crossed = (f: number) => Math.floor(this.globalStep / f) > Math.floor(before / f);
      if (crossed(c.policyFrequency)) {
        for (let i = 0; i < c.policyFrequency; i++) {
          aLoss += this.updateActor();
          na++;
        }
      }
      if (crossed(c.targetNetworkFrequency)) {
        this.q1t.polyakFrom(this.q1, c.tau);
        this.q2t.polyakFrom(this.q2, c.tau);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    return { qf_loss: n ? qLoss / n : NaN, actor_loss: na ? aLoss / na : NaN, alpha: this.alpha, updates: this.updates, sps: (this.globalStep - start) / seconds };
  }

  // y = r + γ^m (1 − terminated) (min_i Q_i'(s', a') − α log π(a'|s')),  a' ~ π(·|s');  L = Σ_i mean ½ (Q_i(s, a) − y)²
  private updateCritics(): number {
    const c = this.c, B = c.batchSize, s = this.s;
    const b = this.rb.sample(B, { nStep: c.nStep, gamma: c.gamma }, this.batch);
    const next = this.policy(b.nextObservations, B, false);
    const xn = this.concat(b.nextObservations, next.actions, B);
    let q1n: Float32Array = s.q1, q2n: Float32Array = s.q2;
    if (this.twin) this.twin.target.forward(xn, q1n, q2n);
    else (q1n = this.q1t.forward(xn, s.q1)), (q2n = this.q2t.forward(xn, s.q2));
    const alpha = this.alpha;
    for (let i = 0; i < B; i++) s.y[i] = b.rewards[i] + b.discounts[i] * (1 - b.terminated[i]) * (Math.min(q1n[i], q2n[i]) - alpha * next.logProb[i]);
    const x = this.concat(b.observations, b.actions as Float32Array, B);
    if (this.twin) {
      const t = this.twin.online.train(x, s.y, s.q1, s.q2, s.gradQ, s.gradQ2);
      this.updates++;
      return 0 + t.loss1 + t.loss2;
    }
    let loss = 0;
    for (const [net, name] of [[this.q1, 'q1'], [this.q2, 'q2']] as const) {
      const q = net.forwardTrain(x, s.q1);
      const td = tdLoss({ shape: [B, 1], q, targets: s.y, out: { grad: s.gradQ, tdAbs: s.tdAbs, targets: s.yOut } });
      loss += td.loss;
      net.zeroGrad();
      net.backward(s.gradQ);
      this.opt(name).step();
    }
    this.updates++;
    return loss;
  }

  // L_π = mean(α log π(a|s) − min_i Q_i(s, a)), a = scale · tanh(μ + σ ε) + bias (reparameterised);
  // then L_α = mean(−α (log π + H_target)) on a fresh sample.
  private updateActor(): number {
    const c = this.c, B = c.batchSize, A = this.A, D = this.D, s = this.s, b = this.batch;
    const pi = this.policy(b.observations, B, true);
    const x = this.concat(b.observations, pi.actions, B);
    // ∂ min(Q1, Q2)/∂a: through whichever critic is smaller on each row.
    let q1: Float32Array, q2: Float32Array;
    if (this.twin) this.twin.online.inputGrad(x, (q1 = s.q1), (q2 = s.q2), s.gradQ, s.gradQ2, s.gradIn, s.gradIn2);
    else (q1 = Float32Array.from(this.q1.forwardTrain(x, s.q1))), (q2 = this.q2.forwardTrain(x, s.q2));
    const alpha = this.alpha;
    let loss = 0;
    s.gradActions.fill(0);
    for (const [net, q, mine] of [[this.q1, q1, true], [this.q2, q2, false]] as const) {
      const gIn = this.twin ? (mine ? s.gradIn : s.gradIn2) : s.gradIn;
      if (!this.twin) {
        for (let i = 0; i < B; i++) s.gradQ[i] = (q1[i] <= q2[i]) === mine ? 1 : 0;
        net.backward(s.gradQ.subarray(0, B), s.gradIn.subarray(0, B * (D + A)), false);
      }
      for (let i = 0; i < B; i++) for (let j = 0; j < A; j++) s.gradActions[i * A + j] -= (gIn[i * (D + A) + D + j] * this.scale[j]) / B;
    }
    for (let i = 0; i < B; i++) loss += (alpha * pi.logProb[i] - Math.min(q1[i], q2[i])) / B;
    const g = squashedGaussianBackward({
      shape: [B, A], mean: pi.mean, logStd: pi.logStd, noise: pi.noise, gradLogProb: alpha / B, gradActions: s.gradActions,
      out: { gradMean: s.gradMean, gradLogStd: s.gradLogStd },
    });
    // Through log σ = min + ½ (max − min)(tanh z + 1).
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < A; j++) {
        const t = Math.tanh(pi.raw[i * 2 * A + A + j]);
        s.gradActor[i * 2 * A + j] = g.gradMean[i * A + j];
        s.gradActor[i * 2 * A + A + j] = g.gradLogStd[i * A + j] * 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (1 - t * t);
      }
    }
    this.actor.zeroGrad();
    this.actor.backward(s.gradActor);
    this.opt('actor').step();
    if (c.autotune) {
      const fresh = this.policy(b.observations, B, false);
      let m = 0;
      for (let i = 0; i < B; i++) m += fresh.logProb[i] - A; // log π + H_target, H_target = −A
      this.logAlpha.grads[0] = (-alpha * m) / B;
      this.opt('logAlpha').step();
    }
    return loss;
  }

  drainEpisodes(): FinishedEpisodes {
    return this.col.drain();
  }

  private nets(): Array<[string, Sequential]> {
    return [['actor', this.actor], ['q1', this.q1], ['q2', this.q2], ['q1_target', this.q1t], ['q2_target', this.q2t]];
  }

  checkpoint(): RunState {
    const { tensors, optimizerSteps } = netTensors(this.nets(), this.opts);
    const col = this.col.checkpoint();
    Object.assign(tensors, col.tensors);
    const replayBytes = addReplayTensor(tensors, this.rb, this.c.checkpointReplay);
    const state: SacState = {
      globalStep: this.globalStep, iteration: this.iteration, updates: this.updates, draws: this.draws, logAlpha: this.logAlpha.params[0],
      pink: this.pink ? { t: this.pink.t, sources: Array.from(this.pink.sources) } : null, optimizerSteps, collector: col.state, replayBytes,
    };
    return { tensors, state };
  }

  restore(saved: RunState): void {
    const bad = (what: string): never => {
      throw new RlcoreError('ERR_IO', `sac.restore: checkpoint does not match this configuration: ${what}`);
    };
    const st = saved?.state as SacState | undefined, t = saved?.tensors;
    if (!st || typeof st !== 'object' || !t) bad('missing state');
    const s = st as SacState, tensors = t as Record<string, Tensor>;
    const writes = prepareNetsRestore(tensors, this.nets(), bad);
    for (const [name, opt] of this.opts) {
      const net = name === 'logAlpha' ? undefined : this.nets().find(([n]) => n === name)![1];
      writes.push(prepareOptimizerRestore(tensors, `optimizer.${name}.`, opt, net?.paramInfo, s.optimizerSteps?.[name], bad));
    }
    for (const key of ['globalStep', 'iteration', 'updates', 'draws'] as const) if (!Number.isInteger(s[key]) || s[key] < 0) bad(key);
    if (!Number.isFinite(s.logAlpha)) bad('logAlpha');
    const pink = s.pink;
    if (!!pink !== !!this.pink) bad('explorationNoise differs');
    if (pink && this.pink && (!Number.isInteger(pink.t) || !Array.isArray(pink.sources) || pink.sources.length !== this.pink.sources.length)) bad('pink noise state');
    const rb = restoreReplay(tensors, s.replayBytes, (r) => r.capacity === this.rb.capacity && r.obsDim === this.D && r.actionDim === this.A, bad);
    writes.push(this.col.prepareRestore(tensors, s.collector, bad));
    for (const w of writes) w();
    if (rb) {
      this.rb.close();
      this.rb = rb;
    }
    this.globalStep = s.globalStep;
    this.iteration = s.iteration;
    this.updates = s.updates;
    this.draws = s.draws;
    this.logAlpha.params[0] = s.logAlpha;
    if (pink && this.pink) {
      this.pink.t = pink.t;
      this.pink.sources = Float64Array.from(pink.sources);
    }
  }

  act(observations: Float32Array, batch: number, deterministic: boolean): Float32Array {
    const out = new Float32Array(batch * this.A);
    for (let b0 = 0; b0 < batch; b0 += this.c.batchSize) {
      const B = Math.min(this.c.batchSize, batch - b0);
      out.set(this.policy(observations.subarray(b0 * this.D, (b0 + B) * this.D), B, false, deterministic).actions, b0 * this.A);
    }
    return out;
  }

  close(): void {
    this.col.close();
    this.rb.close();
  }
}

// Preallocated arrays of one update (B rows) and of action selection (N rows).
function scratch(B: number, N: number, D: number, A: number) {
  const R = Math.max(B, N);
  return {
    actorOut: new Float32Array(R * 2 * A), mean: new Float32Array(R * A), logStd: new Float32Array(R * A), squashed: new Float32Array(R * A),
    noise: new Float32Array(R * A), logProb: new Float32Array(R), envActions: new Float32Array(R * A), qIn: new Float32Array(R * (D + A)),
    q1: new Float32Array(B), q2: new Float32Array(B), y: new Float32Array(B), yOut: new Float32Array(B), gradQ: new Float32Array(B), gradQ2: new Float32Array(B),
    tdAbs: new Float32Array(B), gradIn: new Float32Array(B * (D + A)), gradIn2: new Float32Array(B * (D + A)), gradActions: new Float32Array(B * A), gradMean: new Float32Array(B * A),
    gradLogStd: new Float32Array(B * A), gradActor: new Float32Array(B * 2 * A), pinkNoise: new Float32Array(N * A),
  };
}

/**
 * Soft Actor-Critic for continuous actions, CleanRL's sac_continuous_action.py:
 *
 * ```text
 * y   = r + γ (1 − terminated) (min_i Q'_i(s', a') − α log π(a'|s')),   a' ~ π(·|s')
 * L_Q = Σ_i mean (Q_i(s, a) − y)²,   L_π = mean(α log π(ã|s) − min_i Q_i(s, ã)),   L_α = mean(−α (log π(ã|s) − dim A))
 * ```
 *
 * `act` returns tanh(μ) scaled to the action bounds when deterministic, else a sample.
 */
export const sac: AlgorithmSpec<SacConfig> = {
  name: 'sac',
  description: 'Soft Actor-Critic (CleanRL-style; twin Q, squashed Gaussian, automatic entropy tuning)',
  defaults: sacDefaults,
  create: (config) => new SacRun(config),
};
