// DQN (Mnih et al. 2015), CleanRL's dqn.py: ε-greedy collection into a replay buffer, a target
// network copied every `targetNetworkFrequency` steps, one TD update every `trainFrequency`
// steps. Options: Double DQN (van Hasselt et al. 2016), dueling heads (Wang et al. 2016),
// prioritized replay with β annealed to 1 (Schaul et al. 2016) and n-step returns.
import type { AlgorithmRun, AlgorithmSpec, CommonConfig, FinishedEpisodes, Metrics, RunState } from './base.js';
import { RlcoreError } from '../errors.js';
import { RandomStream } from '../envs/random.js';
import { Discrete } from '../envs/spaces.js';
import { Mlp } from '../nn/mlp.js';
import { Adam } from '../nn/optim.js';
import type { Tensor } from '../nn/safetensors.js';
import { tdLoss } from '../losses/td.js';
import { ReplayBuffer, type ReplayBatch } from '../replay/replay.js';
import { Collector, addReplayTensor, netTensors, restoreReplay, type CollectorState, prepareNetsRestore, prepareOptimizerRestore } from '../replay/collector.js';
import { checkNumber, checkSize } from '../validate.js';

/** DQN hyperparameters (CleanRL's defaults for CartPole-v1). */
export interface DqnConfig extends CommonConfig {
  /** Adam learning rate; 2.5e-4. */
  learningRate: number;
  /** Replay capacity; 10 000. */
  bufferSize: number;
  /** Discount γ; 0.99. */
  gamma: number;
  /** Target update rate (1: hard copy); 1. */
  tau: number;
  /** Steps between target updates; 500. */
  targetNetworkFrequency: number;
  /** Minibatch size; 128. */
  batchSize: number;
  /** ε at the start; 1. */
  startE: number;
  /** ε at the end of exploration; 0.05. */
  endE: number;
  /** Fraction of totalSteps over which ε decays linearly; 0.5. */
  explorationFraction: number;
  /** Steps of pure collection before learning; 10 000. */
  learningStarts: number;
  /** Environment steps per gradient step; 10. */
  trainFrequency: number;
  /** Hidden widths of the Q network (ReLU); [120, 84]. */
  hiddenSizes: number[];
  /** Double DQN targets; false. */
  double: boolean;
  /** Dueling head Q = V + A − mean A; false. */
  dueling: boolean;
  /** Prioritized replay; false. */
  prioritized: boolean;
  /** Priority exponent α; 0.6. */
  alpha: number;
  /** Initial importance exponent β, annealed linearly to 1 over training; 0.4. */
  beta0: number;
  /** n of n-step returns; 1. */
  nStep: number;
  /** 'mse' (CleanRL) or 'huber'; 'mse'. */
  loss: 'mse' | 'huber';
  /** Environment steps per {@link AlgorithmRun.iterate} call; 1000. */
  stepsPerIteration: number;
  /** Put the replay buffer in checkpoints; false. */
  checkpointReplay: boolean;
}

function dqnDefaults(envId: string): DqnConfig {
  return {
    envId, seed: 1, numEnvs: 1, totalSteps: 500_000, learningRate: 2.5e-4, bufferSize: 10_000, gamma: 0.99, tau: 1,
    targetNetworkFrequency: 500, batchSize: 128, startE: 1, endE: 0.05, explorationFraction: 0.5, learningStarts: 10_000,
    trainFrequency: 10, hiddenSizes: [120, 84], double: false, dueling: false, prioritized: false, alpha: 0.6, beta0: 0.4,
    nStep: 1, loss: 'mse', stepsPerIteration: 1000, checkpointReplay: false,
  };
}

/** Linear schedule from `start` to `end` over `duration` steps, then constant (CleanRL's linear_schedule). */
function linear(start: number, end: number, duration: number, t: number): number {
  return start + (end - start) * Math.min(1, t / Math.max(duration, 1));
}

// PyTorch's default Linear weights, U(±1/√fan_in), as CleanRL's networks use: He-uniform with gain 1/√3.
const TORCH_INIT = { scheme: 'heUniform', gain: 1 / Math.sqrt(3) } as const;

interface DqnState {
  globalStep: number;
  iteration: number;
  updates: number;
  collector: CollectorState;
  optimizerStep: number;
  replayBytes: number;
}

class DqnRun implements AlgorithmRun {
  globalStep = 0;
  private readonly c: DqnConfig;
  private readonly col: Collector;
  private readonly A: number;
  private readonly D: number;
  private readonly q: Mlp;
  private readonly target: Mlp;
  private readonly opt: Adam;
  private rb: ReplayBuffer;
  private readonly batch: ReplayBatch;
  private readonly actions: Int32Array;
  private iteration = 0;
  private updates = 0;
  // Scratch for one update: Q(s, ·), Q'(s', ·), Q(s', ·) and dL/dQ.
  private readonly qS: Float32Array;
  private readonly qNext: Float32Array;
  private readonly qNextOnline: Float32Array;
  private readonly raw: Float32Array;
  private readonly gradRaw: Float32Array;

  constructor(config: DqnConfig) {
    const c = (this.c = { ...dqnDefaults(config.envId), ...config });
    const k = 'dqn';
    for (const key of ['bufferSize', 'batchSize', 'targetNetworkFrequency', 'trainFrequency', 'nStep', 'stepsPerIteration', 'numEnvs', 'totalSteps'] as const) checkSize(k, key, c[key]);
    checkNumber(k, 'gamma', c.gamma, 0, 1);
    checkNumber(k, 'tau', c.tau, 0, 1);
    this.col = new Collector(c.envId, c.numEnvs, c.seed);
    const space = this.col.env.singleActionSpace;
    if (!(space instanceof Discrete)) throw new RlcoreError('ERR_ARG', `dqn: ${c.envId} has a continuous action space; DQN needs discrete actions (try sac or td3)`);
    this.A = space.n;
    this.D = this.col.obsDim;
    const out = c.dueling ? this.A + 1 : this.A;
    this.q = new Mlp({ inputSize: this.D, hiddenSizes: c.hiddenSizes, outputSize: out, activation: 'relu', init: TORCH_INIT, outputInit: TORCH_INIT, seed: c.seed });
    this.target = this.q.clone();
    this.opt = new Adam(this.q, { lr: c.learningRate });
    this.rb = new ReplayBuffer({ capacity: c.bufferSize, obsDim: this.D, actionDtype: 'i32', numEnvs: c.numEnvs, prioritized: c.prioritized, alpha: c.alpha, seed: c.seed });
    this.batch = this.rb.allocateBatch(c.batchSize);
    this.actions = new Int32Array(c.numEnvs);
    const B = c.batchSize;
    this.qS = new Float32Array(B * this.A);
    this.qNext = new Float32Array(B * this.A);
    this.qNextOnline = new Float32Array(B * this.A);
    this.raw = new Float32Array(B * out);
    this.gradRaw = new Float32Array(B * out);
  }

  // Q values from the network's raw outputs: identity, or the dueling combination.
  private qValues(raw: Float32Array, rows: number, q: Float32Array): Float32Array {
    const A = this.A;
    if (!this.c.dueling) {
      q.set(raw.subarray(0, rows * A));
      return q;
    }
    for (let b = 0; b < rows; b++) {
      const o = b * (A + 1);
      let mean = 0;
      for (let a = 0; a < A; a++) mean += raw[o + 1 + a];
      mean /= A;
      for (let a = 0; a < A; a++) q[b * A + a] = raw[o] + raw[o + 1 + a] - mean;
    }
    return q;
  }

  private greedy(q: Float32Array, rows: number, out: Int32Array): Int32Array {
    for (let b = 0; b < rows; b++) {
      let best = 0;
      for (let a = 1; a < this.A; a++) if (q[b * this.A + a] > q[b * this.A + best]) best = a;
      out[b] = best;
    }
    return out;
  }

  iterate(): Metrics {
    const c = this.c, N = c.numEnvs, A = this.A;
    const rand = new RandomStream(c.seed, 1 + this.iteration++);
    const qObs = new Float32Array(N * A), rawObs = new Float32Array(N * (c.dueling ? A + 1 : A));
    let lossSum = 0, qSum = 0, n = 0, epsilon = c.startE;
    const t0 = performance.now(), start = this.globalStep;
    while (this.globalStep - start < c.stepsPerIteration && this.globalStep < c.totalSteps) {
      // ε-greedy action selection with the linearly decaying ε.
      epsilon = linear(c.startE, c.endE, c.explorationFraction * c.totalSteps, this.globalStep);
      this.greedy(this.qValues(this.q.forward(this.col.observations, rawObs), N, qObs), N, this.actions);
      for (let i = 0; i < N; i++) if (rand.uniform() < epsilon) this.actions[i] = rand.below(A);
      const buffers = this.col.step(this.actions);
      this.rb.addFromEnv(this.col.previous, this.actions, buffers);
      const before = this.globalStep;
      this.globalStep += N;
      if (this.globalStep <= c.learningStarts) continue;
      // One update per trainFrequency steps, one target update per targetNetworkFrequency steps.
      if (Math.floor(this.globalStep / c.trainFrequency) > Math.floor(before / c.trainFrequency)) {
        const s = this.update();
        lossSum += s.loss;
        qSum += s.q;
        n++;
      }
      if (Math.floor(this.globalStep / c.targetNetworkFrequency) > Math.floor(before / c.targetNetworkFrequency)) this.target.polyakFrom(this.q, c.tau);
    }
    const seconds = (performance.now() - t0) / 1000;
    return { td_loss: n ? lossSum / n : NaN, q_values: n ? qSum / n : NaN, epsilon, updates: this.updates, sps: (this.globalStep - start) / seconds };
  }

  private update(): { loss: number; q: number } {
    const c = this.c, B = c.batchSize, A = this.A;
    const beta = c.prioritized ? linear(c.beta0, 1, c.totalSteps, this.globalStep) : 0;
    const b = this.rb.sample(B, { beta, nStep: c.nStep, gamma: c.gamma }, this.batch);
    // Targets: r + γ^m (1 − terminated) max_a Q'(s', a) (or Q'(s', argmax_a Q(s', a)) for Double DQN).
    this.qValues(this.target.forward(b.nextObservations, this.raw), B, this.qNext);
    if (c.double) this.qValues(this.q.forward(b.nextObservations, this.raw), B, this.qNextOnline);
    this.qValues(this.q.forwardTrain(b.observations, this.raw), B, this.qS);
    const td = tdLoss({
      shape: [B, A], q: this.qS, actions: b.actions as Int32Array, rewards: b.rewards, dones: b.terminated, nextQ: this.qNext,
      nextQSelect: c.double ? this.qNextOnline : undefined, gamma: b.discounts, weights: c.prioritized ? b.weights : undefined,
      kind: c.loss,
    });
    // dL/d(raw outputs): identity, or through Q = V + A − mean A.
    if (c.dueling) {
      for (let r = 0; r < B; r++) {
        let sum = 0;
        for (let a = 0; a < A; a++) sum += td.grad[r * A + a];
        const o = r * (A + 1);
        this.gradRaw[o] = sum;
        for (let a = 0; a < A; a++) this.gradRaw[o + 1 + a] = td.grad[r * A + a] - sum / A;
      }
    } else {
      this.gradRaw.set(td.grad);
    }
    this.q.zeroGrad();
    this.q.backward(this.gradRaw);
    this.opt.step();
    if (c.prioritized) this.rb.updatePriorities(b.indices, td.tdAbs);
    this.updates++;
    return { loss: td.loss, q: td.meanQ };
  }

  drainEpisodes(): FinishedEpisodes {
    return this.col.drain();
  }

  checkpoint(): RunState {
    const { tensors } = netTensors([['q', this.q], ['target', this.target]], [['', this.opt]]);
    const col = this.col.checkpoint();
    Object.assign(tensors, col.tensors);
    const replayBytes = addReplayTensor(tensors, this.rb, this.c.checkpointReplay);
    const state: DqnState = { globalStep: this.globalStep, iteration: this.iteration, updates: this.updates, collector: col.state, optimizerStep: this.opt.stepCount, replayBytes };
    return { tensors, state };
  }

  restore(saved: RunState): void {
    const bad = (what: string): never => {
      throw new RlcoreError('ERR_IO', `dqn.restore: checkpoint does not match this configuration: ${what}`);
    };
    const st = saved?.state as DqnState | undefined, t = saved?.tensors;
    if (!st || typeof st !== 'object' || !t) bad('missing state');
    const s = st as DqnState, tensors = t as Record<string, Tensor>;
    const writes = prepareNetsRestore(tensors, [['q', this.q], ['target', this.target]], bad);
    writes.push(prepareOptimizerRestore(tensors, 'optimizer.', this.opt, this.q.paramInfo, s.optimizerStep, bad));
    for (const key of ['globalStep', 'iteration', 'updates'] as const) if (!Number.isInteger(s[key]) || s[key] < 0) bad(key);
    const rb = restoreReplay(tensors, s.replayBytes, (r) => r.capacity === this.rb.capacity && r.obsDim === this.D && r.prioritized === this.c.prioritized, bad);
    writes.push(this.col.prepareRestore(tensors, s.collector, bad));
    for (const w of writes) w();
    if (rb) {
      this.rb.close();
      this.rb = rb;
    }
    this.globalStep = s.globalStep;
    this.iteration = s.iteration;
    this.updates = s.updates;
  }

  act(observations: Float32Array, batch: number, deterministic: boolean): Int32Array {
    const raw = this.q.forward(observations.subarray(0, batch * this.D));
    const out = this.greedy(this.qValues(raw, batch, new Float32Array(batch * this.A)), batch, new Int32Array(batch));
    if (!deterministic) {
      const rand = new RandomStream(this.c.seed, 2 ** 40 + this.evalCalls++);
      for (let i = 0; i < batch; i++) if (rand.uniform() < this.c.endE) out[i] = rand.below(this.A);
    }
    return out;
  }
  private evalCalls = 0;

  close(): void {
    this.col.close();
    this.rb.close();
  }
}

/**
 * Deep Q-Network for discrete actions, CleanRL's dqn.py with its CartPole-v1 defaults:
 *
 * ```text
 * y = r + γ^m (1 − terminated) max_a Q_target(s', a)          (Double DQN: Q_target(s', argmax_a Q(s', a)))
 * L = mean_b w_b ½ (Q(s_b, a_b) − y_b)²                         (w = 1 without prioritized replay)
 * ```
 *
 * `act` is greedy when deterministic, else ε-greedy with the final ε.
 */
export const dqn: AlgorithmSpec<DqnConfig> = {
  name: 'dqn',
  description: 'Deep Q-Network (CleanRL-style; Double, dueling, prioritized, n-step options)',
  defaults: dqnDefaults,
  create: (config) => new DqnRun(config),
};
