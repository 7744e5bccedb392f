// GRPO (Shao et al. 2024, "DeepSeekMath", arXiv:2402.03300) on a verifiable synthetic task: a
// small autoregressive policy writes digit strings whose sum must hit a prompted target. Per
// iteration: sample a group of G completions for each prompt, score them with the verifiable
// reward, turn rewards into group-relative advantages (groupNormalize), drop or resample the
// groups with no signal (DAPO's dynamic sampling, Yu et al. 2025, arXiv:2503.14476), and
// update with a token-level policy loss (policyLoss) chained to the logits (tokenLogProbs).
import type { AlgorithmRun, AlgorithmSpec, CommonConfig, FinishedEpisodes, Metrics, RunState } from './base.js';
import { RlcoreError } from '../errors.js';
import { RandomStream } from '../envs/random.js';
import { categoricalSample } from '../dist/categorical.js';
import { groupNormalize, type GroupNormalizeMode } from '../kernels/group_normalize.js';
import { DigitSumTask, registerDigitSum } from '../llm/digit_sum.js';
import { policyLoss, type KlEstimatorKind, type LossAggregation, type PolicyLossKind } from '../llm/policy_loss.js';
import { tokenLogProbs, tokenLogProbsBackward } from '../llm/token_logprobs.js';
import { Mlp, type Sequential } from '../nn/mlp.js';
import { Adam, clipGradNorm } from '../nn/optim.js';
import { loadNetworkTensors, networkTensors, type Tensor } from '../nn/safetensors.js';

/** GRPO's configuration. `numEnvs` is the number of prompts per iteration; `totalSteps` counts sampled completions. */
export interface GrpoConfig extends CommonConfig {
  /** Digits per completion (tokens); default 4. */
  numDigits: number;
  /** Range of target sums [lo, hi]; default [6, 30]. */
  targetRange: [number, number];
  /** Completions per prompt G; default 8. */
  groupSize: number;
  /** Group normalisation of rewards ('grpo', 'mean' (Dr. GRPO), 'batchStd', 'rloo'); default 'grpo'. */
  advantageMode: GroupNormalizeMode;
  /** Groups whose rewards are all equal: 'keep', 'drop', or 'resample' (draw new prompts, up to `maxResample` rounds); default 'resample'. */
  zeroGroups: 'keep' | 'drop' | 'resample';
  /** Extra sampling rounds for 'resample'; default 3. */
  maxResample: number;
  /** Token-level objective; default 'ppo'. */
  loss: PolicyLossKind;
  /** Loss aggregation; default 'tokenMean'. */
  aggregation: LossAggregation;
  /** ε_low; default 0.2. */
  clipLow: number;
  /** ε_high (clip-higher); default 0.28. */
  clipHigh: number;
  /** Dual-clip constant (0 = off); default 0. */
  dualClip: number;
  /** KL-to-reference coefficient (the reference is the initial policy); default 0. */
  klCoef: number;
  /** KL estimator; default 'k3'. */
  klEstimator: KlEstimatorKind;
  /** Entropy bonus coefficient (keeps the policy from collapsing on prompts it still fails); default 0.003. */
  entCoef: number;
  /** Adam learning rate; default 2e-3. */
  learningRate: number;
  /** Passes over each batch; default 2. */
  updateEpochs: number;
  /** Minibatches per pass (over completions); default 2. */
  numMinibatches: number;
  /** Global gradient-norm clip; default 1. */
  maxGradNorm: number;
  /** Hidden widths of the policy MLP; default [128, 128]. */
  hiddenSizes: number[];
  /** Sampling temperature (the training log-probs use the same); default 1. */
  temperature: number;
}

/** The only task this trainer knows. */
export const DIGIT_SUM_ENV = 'DigitSum-v0';

registerDigitSum(); // `rlcore evaluate` replays the policy on the environment form of the task

function defaults(envId: string): GrpoConfig {
  return {
    envId, seed: 1, numEnvs: 32, totalSteps: 200_000,
    numDigits: 4, targetRange: [6, 30], groupSize: 8, advantageMode: 'grpo', zeroGroups: 'resample', maxResample: 3,
    loss: 'ppo', aggregation: 'tokenMean', clipLow: 0.2, clipHigh: 0.28, dualClip: 0, klCoef: 0, klEstimator: 'k3', entCoef: 0.003,
    learningRate: 2e-3, updateEpochs: 2, numMinibatches: 2, maxGradNorm: 1, hiddenSizes: [128, 128], temperature: 1,
  };
}

class GrpoRun implements AlgorithmRun {
  globalStep = 0;
  private iteration = 0;
  private sampleCalls = 0;
  private readonly task: DigitSumTask;
  private readonly policy: Sequential;
  private readonly reference: Sequential | undefined;
  private readonly optimizer: Adam;
  private episodes: FinishedEpisodes = { returns: [], lengths: [] };

  constructor(private readonly c: GrpoConfig) {
    if (c.envId !== DIGIT_SUM_ENV) throw new RlcoreError('ERR_ARG', `grpo: unknown task ${JSON.stringify(c.envId)}; the GRPO trainer runs on ${DIGIT_SUM_ENV}`);
    this.task = new DigitSumTask({ numDigits: c.numDigits, targetRange: c.targetRange });
    this.policy = new Mlp({ inputSize: this.task.obsDim, hiddenSizes: c.hiddenSizes, outputSize: this.task.vocab, activation: 'relu', outputInit: { gain: 0.01 }, seed: c.seed });
    this.reference = c.klCoef !== 0 ? this.policy.clone() : undefined;
    this.optimizer = new Adam(this.policy, { lr: c.learningRate });
  }

  // A fresh sampling seed per call, so that a restored run draws the same tokens.
  private nextSeed(): number {
    return (this.c.seed * 1_000_003 + ++this.sampleCalls) % 2 ** 52;
  }

  // Autoregressive sampling of G completions per prompt: L forward passes of the whole batch.
  private generate(prompts: Int32Array): { targets: Int32Array; tokens: Int32Array } {
    const { groupSize: G, temperature } = this.c, { numDigits: L, vocab: V, obsDim: D } = this.task;
    const B = prompts.length * G;
    const targets = Int32Array.from({ length: B }, (_, b) => prompts[Math.floor(b / G)]);
    const tokens = new Int32Array(B * L), obs = new Float32Array(B * D);
    for (let t = 0; t < L; t++) {
      for (let b = 0; b < B; b++) this.task.observe(obs, b, targets[b], tokens, b, t);
      const logits = this.policy.forward(obs);
      if (temperature !== 1) for (let i = 0; i < logits.length; i++) logits[i] /= temperature;
      const { actions } = categoricalSample({ shape: [B, V], logits, seed: this.nextSeed() });
      for (let b = 0; b < B; b++) tokens[b * L + t] = actions[b];
    }
    return { targets, tokens };
  }

  iterate(): Metrics {
    const c = this.c, G = c.groupSize, P = c.numEnvs, { numDigits: L, vocab: V, obsDim: D } = this.task;
    const rng = new RandomStream(c.seed, 1_000_000 + this.iteration);
    // 1. Rollouts, group-relative advantages, and dynamic sampling of groups with signal.
    const kept: Array<{ targets: Int32Array; tokens: Int32Array; adv: Float32Array }> = [];
    let keptGroups = 0, sampled = 0, rewardSum = 0, zeroFraction = 0;
    const rounds = c.zeroGroups === 'resample' ? 1 + c.maxResample : 1;
    for (let round = 0; round < rounds && keptGroups < P; round++) {
      const { targets, tokens } = this.generate(this.task.prompts(P, rng));
      const rewards = this.task.rewards(targets, tokens);
      const gn = groupNormalize({ rewards, groupSize: G, mode: c.advantageMode });
      if (round === 0) zeroFraction = gn.zeroStdFraction;
      for (let b = 0; b < rewards.length; b++) {
        rewardSum += rewards[b];
        this.episodes.returns.push(rewards[b]);
        this.episodes.lengths.push(L);
      }
      sampled += rewards.length;
      for (let g = 0; g < P && keptGroups < P; g++) {
        if (gn.zeroGroups[g] && c.zeroGroups !== 'keep') continue;
        const s = g * G, e = s + G;
        kept.push({ targets: targets.subarray(s, e), tokens: tokens.subarray(s * L, e * L), adv: gn.advantages.subarray(s, e) });
        keptGroups++;
      }
    }
    this.globalStep += sampled;
    this.iteration++;
    const metrics: Metrics = { reward: rewardSum / sampled, zeroGroupFraction: zeroFraction, keptGroups, sampledCompletions: sampled };
    if (keptGroups === 0) return { ...metrics, updates: 0 };

    // 2. The training batch: n completions of L tokens; row n·L + t is the context of token t.
    const n = keptGroups * G, rows = n * L;
    const obs = new Float32Array(rows * D), targets = new Int32Array(rows), adv = new Float32Array(n);
    let i = 0;
    for (const k of kept) {
      for (let j = 0; j < G; j++, i++) {
        adv[i] = k.adv[j];
        for (let t = 0; t < L; t++) {
          this.task.observe(obs, i * L + t, k.targets[j], k.tokens, j, t);
          targets[i * L + t] = k.tokens[j * L + t];
        }
      }
    }
    const logProbOf = (net: Sequential) => tokenLogProbs({ shape: [rows, V], logits: net.forward(obs), targets, temperature: c.temperature, entropy: false }).logProb;
    const oldLogProb = logProbOf(this.policy);
    const refLogProb = this.reference ? logProbOf(this.reference) : undefined;

    // 3. Updates: epochs × minibatches of whole completions.
    const mbSeq = Math.max(1, Math.floor(n / c.numMinibatches));
    const order = Int32Array.from({ length: n }, (_, j) => j);
    let last: ReturnType<typeof policyLoss> | undefined, gradNorm = 0, updates = 0;
    for (let epoch = 0; epoch < c.updateEpochs; epoch++) {
      for (let j = n - 1; j > 0; j--) {
        const r = rng.below(j + 1);
        [order[j], order[r]] = [order[r], order[j]];
      }
      for (let s0 = 0; s0 + mbSeq <= n; s0 += mbSeq) {
        const m = mbSeq, mRows = m * L;
        const o = new Float32Array(mRows * D), tg = new Int32Array(mRows), a = new Float32Array(m), old = new Float32Array(mRows);
        const ref = refLogProb ? new Float32Array(mRows) : undefined;
        for (let q = 0; q < m; q++) {
          const src = order[s0 + q];
          a[q] = adv[src];
          o.set(obs.subarray(src * L * D, (src + 1) * L * D), q * L * D);
          tg.set(targets.subarray(src * L, (src + 1) * L), q * L);
          old.set(oldLogProb.subarray(src * L, (src + 1) * L), q * L);
          ref?.set(refLogProb!.subarray(src * L, (src + 1) * L), q * L);
        }
        const logits = this.policy.forwardTrain(o);
        const lp = tokenLogProbs({ shape: [mRows, V], logits, targets: tg, temperature: c.temperature });
        last = policyLoss({
          shape: [m, L], logProb: lp.logProb, oldLogProb: old, advantages: a, entropy: lp.entropy, refLogProb: ref,
          loss: c.loss, aggregation: c.aggregation, clipLow: c.clipLow, clipHigh: c.clipHigh, dualClip: c.dualClip,
          klCoef: c.klCoef, klEstimator: c.klEstimator, entCoef: c.entCoef, seed: this.iteration,
        });
        const { gradLogits } = tokenLogProbsBackward({ shape: [mRows, V], logits, targets: tg, temperature: c.temperature, gradLogProb: last.gradLogProb, gradEntropy: last.gradEntropy });
        this.policy.zeroGrad();
        this.policy.backward(gradLogits);
        gradNorm = clipGradNorm({ grads: this.policy.grads, maxNorm: c.maxGradNorm });
        this.optimizer.step();
        updates++;
      }
    }
    return {
      ...metrics, updates, loss: last!.loss, policyLoss: last!.policyLoss, entropy: last!.entropy, kl: last!.kl,
      clipFracLow: last!.clipFracLow, clipFracHigh: last!.clipFracHigh, approxKl: last!.approxKl, gradNorm,
    };
  }

  drainEpisodes(): FinishedEpisodes {
    const e = this.episodes;
    this.episodes = { returns: [], lengths: [] };
    return e;
  }

  checkpoint(): RunState {
    const tensors: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(networkTensors(this.policy))) tensors[`policy.${k}`] = t;
    if (this.reference) for (const [k, t] of Object.entries(networkTensors(this.reference))) tensors[`reference.${k}`] = t;
    const opt = this.optimizer.stateDict();
    for (const [k, t] of Object.entries(opt.tensors)) tensors[`optim.${k}`] = t;
    return { tensors, state: { iteration: this.iteration, globalStep: this.globalStep, sampleCalls: this.sampleCalls, optim: opt.metadata } };
  }

  restore(s: RunState): void {
    const st = s.state as { iteration: number; globalStep: number; sampleCalls: number; optim: Record<string, string> };
    if (!st || typeof st.iteration !== 'number') throw new RlcoreError('ERR_ARG', 'grpo.restore: state is not a GRPO checkpoint');
    const part = (prefix: string) =>
      Object.fromEntries(Object.entries(s.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
    loadNetworkTensors(this.policy, part('policy.'));
    if (this.reference) loadNetworkTensors(this.reference, part('reference.'));
    this.optimizer.loadStateDict({ tensors: part('optim.'), metadata: st.optim });
    this.iteration = st.iteration;
    this.globalStep = st.globalStep;
    this.sampleCalls = st.sampleCalls;
  }

  act(observations: Float32Array, batch: number, deterministic: boolean): Int32Array {
    const V = this.task.vocab;
    const logits = this.policy.forward(observations);
    if (logits.length !== batch * V) throw new RlcoreError('ERR_SHAPE', `grpo.act: observations must be [B, ${this.task.obsDim}] with B = ${batch}`);
    if (!deterministic) return categoricalSample({ shape: [batch, V], logits, seed: this.nextSeed() }).actions;
    return Int32Array.from({ length: batch }, (_, b) => {
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[b * V + v] > logits[b * V + best]) best = v;
      return best;
    });
  }

  close(): void {
    this.episodes = { returns: [], lengths: [] };
  }
}

/**
 * GRPO as the CLI sees it (`rlcore train grpo`): task {@link DIGIT_SUM_ENV}. See {@link GrpoConfig}.
 *
 * @example
 * ```ts
 * const run = grpo.create({ ...grpo.defaults('DigitSum-v0'), seed: 3 });
 * for (let i = 0; i < 100; i++) console.log(run.iterate().reward);
 * ```
 */
export const grpo: AlgorithmSpec<GrpoConfig> = {
  name: 'grpo',
  description: 'GRPO (group-relative policy optimisation) with token-level losses on the verifiable DigitSum-v0 task',
  defaults,
  create: (config) => new GrpoRun({ ...defaults(DIGIT_SUM_ENV), ...config }),
};
