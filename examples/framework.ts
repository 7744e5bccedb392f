// Using the kernels from a framework that runs its own model. Here the "framework" is a plain
// TypeScript table model: logits[prompt, previous token] = W[prompt, prev, :] — any model that
// produces logits (an ONNX session, a WebGPU transformer, a remote server) fits the same slot.
// rlcore supplies everything after the logits: log-probs and entropies (tokenLogProbs), group
// advantages (groupNormalize), the token loss with its statistics (policyLoss), and the
// gradient back to the logits (tokenLogProbsBackward). The framework applies its own backward.
//
// Responses have variable length (token 0 ends them), so the batch is padded to T with a mask.
// The task: for prompt p, write as many tokens p + 1 as possible before stopping (reward +1 per
// such token, −0.5 per other token): the mean reward climbs as GRPO sharpens the table.
//
//   RLCORE_ADDON=... npx tsx examples/framework.ts
import { RandomStream, groupNormalize, policyLoss, tokenLogProbs, tokenLogProbsBackward } from '../src/index.js';

const PROMPTS = 3, V = 6, T = 8, G = 8, B = PROMPTS * 4 * G, lr = 6;
const W = new Float32Array(PROMPTS * V * V); // the framework's parameters
const rng = new RandomStream(3);

// --- the framework's own model: logits for each position given (prompt, previous token) -------
const logitsOf = (prompts: Int32Array, tokens: Int32Array) => {
  const out = new Float32Array(B * T * V);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) out.set(W.subarray((prompts[b] * V + (t ? tokens[b * T + t - 1] : 0)) * V, (prompts[b] * V + (t ? tokens[b * T + t - 1] : 0) + 1) * V), (b * T + t) * V);
  return out;
};
const backwardInto = (prompts: Int32Array, tokens: Int32Array, gradLogits: Float32Array) => {
  const gW = new Float32Array(W.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const row = (prompts[b] * V + (t ? tokens[b * T + t - 1] : 0)) * V;
      for (let v = 0; v < V; v++) gW[row + v] += gradLogits[(b * T + t) * V + v];
    }
  return gW;
};

for (let iter = 0; iter <= 60; iter++) {
  // 1. Rollout with the framework's sampler (softmax of its own logits); pad after the stop token.
  const prompts = Int32Array.from({ length: B }, (_, b) => Math.floor(b / G) % PROMPTS);
  const tokens = new Int32Array(B * T), mask = new Uint8Array(B * T), rewards = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    let prev = 0;
    for (let t = 0; t < T; t++) {
      const row = W.subarray((prompts[b] * V + prev) * V, (prompts[b] * V + prev + 1) * V);
      const mx = Math.max(...row), p = Array.from(row, (z) => Math.exp(z - mx)), s = p.reduce((x, y) => x + y, 0);
      let u = rng.uniform() * s, tok = 0;
      while (tok < V - 1 && (u -= p[tok]) > 0) tok++;
      tokens[b * T + t] = tok;
      mask[b * T + t] = 1;
      if (tok === 0) break; // stop token: the rest is padding (mask 0)
      rewards[b] += tok === prompts[b] + 1 ? 1 : -0.5;
      prev = tok;
    }
  }
  // 2. rlcore: log-probs under the current logits (= old log-probs: one update per batch).
  const logits = logitsOf(prompts, tokens);
  const lp = tokenLogProbs({ shape: [B * T, V], logits, targets: tokens, lse: true });
  // 3. rlcore: group-relative advantages (one per response), then the token loss.
  const { advantages, zeroStdFraction } = groupNormalize({ rewards, groupSize: G, mode: 'grpo' });
  const loss = policyLoss({
    shape: [B, T], logProb: lp.logProb, oldLogProb: lp.logProb, advantages, mask, entropy: lp.entropy,
    loss: 'ppo', clipLow: 0.2, clipHigh: 0.28, aggregation: 'seqMeanTokenMean', entCoef: 0.001,
  });
  // 4. rlcore: dL/dlogits (reusing the forward's lse and entropy); the framework's backward and SGD.
  const { gradLogits } = tokenLogProbsBackward({ shape: [B * T, V], logits, targets: tokens, gradLogProb: loss.gradLogProb, gradEntropy: loss.gradEntropy, lse: lp.lse, entropy: lp.entropy });
  const gW = backwardInto(prompts, tokens, gradLogits);
  for (let i = 0; i < W.length; i++) W[i] -= lr * gW[i];
  if (iter % 10 === 0) {
    const mean = rewards.reduce((x, y) => x + y, 0) / B;
    console.log(`iter ${String(iter).padStart(2)}  reward ${mean.toFixed(3)}  entropy ${loss.entropy.toFixed(3)}  tokens ${loss.tokens}  zero-std groups ${zeroStdFraction.toFixed(2)}`);
  }
}
