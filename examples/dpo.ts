// DPO on synthetic preferences: a small autoregressive policy answers K prompts with L tokens
// from a vocabulary of V; a hidden reward model r(x, y) = Σ_t R[x, t, y_t] ranks pairs of
// responses sampled from the reference policy (Bradley–Terry, so preferences are noisy). We
// train with DPO (Rafailov et al. 2023) using only rlcore kernels: tokenLogProbs for sequence
// log-probs, preferenceLoss for the loss and its gradient, tokenLogProbsBackward to the logits.
// The implicit-reward margin grows, and so does the hidden reward of the policy's samples.
//
//   RLCORE_ADDON=... npx tsx examples/dpo.ts
import { Adam, Mlp, RandomStream, categoricalSample, preferenceLoss, tokenLogProbs, tokenLogProbsBackward, type Sequential } from '../src/index.js';

const K = 8, L = 3, V = 8, D = K + L * V + L, P = 256, steps = 150, beta = 0.1;
const rng = new RandomStream(7);
const R = Float64Array.from({ length: K * L * V }, () => rng.uniform(-1, 1));
const hiddenReward = (x: number, y: Int32Array, o: number) => {
  let s = 0;
  for (let t = 0; t < L; t++) s += R[(x * L + t) * V + y[o + t]];
  return s;
};

// Row (b, t): prompt one-hot, the previous tokens, position one-hot.
function features(prompts: Int32Array, tokens: Int32Array, out = new Float32Array(prompts.length * L * D)): Float32Array {
  out.fill(0);
  for (let b = 0; b < prompts.length; b++) {
    for (let t = 0; t < L; t++) {
      const o = (b * L + t) * D;
      out[o + prompts[b]] = 1;
      for (let s = 0; s < t; s++) out[o + K + s * V + tokens[b * L + s]] = 1;
      out[o + K + L * V + t] = 1;
    }
  }
  return out;
}

function sample(net: Sequential, prompts: Int32Array, seed: number): Int32Array {
  const B = prompts.length, tokens = new Int32Array(B * L), x = new Float32Array(B * D);
  for (let t = 0; t < L; t++) {
    const all = features(prompts, tokens);
    for (let b = 0; b < B; b++) x.set(all.subarray((b * L + t) * D, (b * L + t + 1) * D), b * D);
    const { actions } = categoricalSample({ shape: [B, V], logits: net.forward(x), seed: seed * L + t });
    for (let b = 0; b < B; b++) tokens[b * L + t] = actions[b];
  }
  return tokens;
}

// Sequence log-probs Σ_t log π(y_t | x, y_<t) of responses [B, L].
function seqLogProb(net: Sequential, obs: Float32Array, tokens: Int32Array, train: boolean) {
  const logits = train ? net.forwardTrain(obs) : net.forward(obs);
  const { logProb } = tokenLogProbs({ shape: [tokens.length, V], logits, targets: tokens, entropy: false });
  const seq = new Float32Array(tokens.length / L);
  for (let i = 0; i < logProb.length; i++) seq[Math.floor(i / L)] += logProb[i];
  return { logits, seq };
}

const policy = new Mlp({ inputSize: D, hiddenSizes: [64], outputSize: V, outputInit: { gain: 0.01 }, seed: 1 });
const reference = policy.clone();
const opt = new Adam(policy, { lr: 3e-3 });

// A fixed preference dataset: two reference samples per prompt, labelled by Bradley–Terry.
const prompts = Int32Array.from({ length: P }, () => rng.below(K));
const a = sample(reference, prompts, 1), b = sample(reference, prompts, 2);
const chosen = new Int32Array(P * L), rejected = new Int32Array(P * L);
for (let i = 0; i < P; i++) {
  const pa = 1 / (1 + Math.exp(-(hiddenReward(prompts[i], a, i * L) - hiddenReward(prompts[i], b, i * L))));
  const [w, l] = rng.uniform() < pa ? [a, b] : [b, a];
  chosen.set(w.subarray(i * L, (i + 1) * L), i * L);
  rejected.set(l.subarray(i * L, (i + 1) * L), i * L);
}
const obsC = features(prompts, chosen), obsR = features(prompts, rejected);
const refC = seqLogProb(reference, obsC, chosen, false).seq, refR = seqLogProb(reference, obsR, rejected, false).seq;

const meanHidden = (seed: number) => {
  const ps = Int32Array.from({ length: 512 }, (_, i) => i % K), y = sample(policy, ps, seed);
  let s = 0;
  for (let i = 0; i < ps.length; i++) s += hiddenReward(ps[i], y, i * L);
  return s / ps.length;
};
console.log(`step | DPO loss | margin | accuracy | hidden reward of samples`);
for (let step = 0; step <= steps; step++) {
  policy.zeroGrad();
  // The chosen and rejected passes each accumulate into the gradient (one backward per forward).
  const c = seqLogProb(policy, obsC, chosen, true);
  const dpo = preferenceLoss({ kind: 'dpo', chosen: c.seq, rejected: seqLogProb(policy, obsR, rejected, false).seq, refChosen: refC, refRejected: refR, beta });
  const tokenGrad = (g: Float32Array) => Float32Array.from({ length: P * L }, (_, i) => g[Math.floor(i / L)]);
  policy.backward(tokenLogProbsBackward({ shape: [P * L, V], logits: c.logits, targets: chosen, gradLogProb: tokenGrad(dpo.gradChosen) }).gradLogits);
  const r = seqLogProb(policy, obsR, rejected, true);
  policy.backward(tokenLogProbsBackward({ shape: [P * L, V], logits: r.logits, targets: rejected, gradLogProb: tokenGrad(dpo.gradRejected) }).gradLogits);
  opt.step();
  if (step % 25 === 0) console.log(`${String(step).padStart(4)} | ${dpo.loss.toFixed(4)} | ${dpo.margin.toFixed(4)} | ${dpo.accuracy.toFixed(3)} | ${meanHidden(1000 + step).toFixed(3)}`);
}
