// LLM post-training kernels: token-level policy losses with their gradient at 1M tokens, and
// token log-probs from logits at V = 32 000 and 152 000, each against a plain TS loop.
import { policyLoss, type PolicyLossKind } from '../src/llm/policy_loss.js';
import { tokenKl } from '../src/llm/kl.js';
import { tokenLogProbs, tokenLogProbsBackward } from '../src/llm/token_logprobs.js';
import { backends } from '../src/index.js';
import { native } from '../src/native.js';
import { timeIt, type BenchRow } from './harness.js';

// What a framework would write without rlcore: one loop per objective, token-mean aggregation.
function tsPolicyLoss(kind: PolicyLossKind, n: number, lp: Float32Array, olp: Float32Array, adv: Float32Array, mask: Uint8Array, g: Float32Array, T: number): number {
  let N = 0;
  for (let i = 0; i < n; i++) N += mask[i];
  let loss = 0, low = 0, high = 0, kl = 0;
  const lo = 0.8, hi = 1.28;
  if (kind === 'gspo') {
    for (let b = 0; b * T < n; b++) {
      let s = 0, c = 0;
      for (let t = b * T; t < (b + 1) * T; t++) if (mask[t]) (s += lp[t] - olp[t]), c++;
      const r = Math.exp(c ? s / c : 0);
      let gs = 0;
      for (let t = b * T; t < (b + 1) * T; t++) {
        if (!mask[t]) continue;
        const l1 = -adv[t] * r, l2 = -adv[t] * Math.min(hi, Math.max(lo, r));
        loss += Math.max(l1, l2) / N;
        if (l1 >= l2) gs += -adv[t] / N;
      }
      for (let t = b * T; t < (b + 1) * T; t++) g[t] = mask[t] && c ? (gs * r) / c : 0;
    }
    return loss;
  }
  // Clip-Cov / KL-Cov need the covariance of every token and a selection (sort) over them.
  let sel: Uint8Array | undefined;
  if (kind === 'clipCov' || kind === 'klCov') {
    let ma = 0, ml = 0;
    for (let i = 0; i < n; i++) if (mask[i]) (ma += adv[i]), (ml += lp[i]);
    ma /= N, ml /= N;
    const cov: number[] = [];
    for (let i = 0; i < n; i++) if (mask[i]) cov.push(i);
    const c = (i: number) => (adv[i] - ma) * (lp[i] - ml);
    const k = Math.max(1, Math.floor((kind === 'klCov' ? 2e-3 : 2e-4) * N));
    sel = new Uint8Array(n);
    if (kind === 'klCov') {
      cov.sort((a, b) => c(b) - c(a));
      for (let j = 0; j < k; j++) sel[cov[j]] = 1;
    } else {
      const cand = cov.filter((i) => c(i) > 1 && c(i) < 5);
      for (let j = 0; j < Math.min(k, cand.length); j++) sel[cand[j]] = 1;
    }
  }
  for (let i = 0; i < n; i++) {
    if (!mask[i]) {
      g[i] = 0;
      continue;
    }
    const lr = lp[i] - olp[i], r = Math.exp(lr), a = adv[i];
    let l: number, gr: number;
    if (kind === 'cispo') {
      const w = Math.min(hi, Math.max(lo, r));
      l = -w * a * lp[i], gr = -w * a;
    } else if (kind === 'klCov') {
      l = -a * r, gr = -a * r;
      if (sel![i]) (l += Math.abs(lr)), (gr += Math.sign(lr));
    } else {
      const rc = Math.min(hi, Math.max(lo, r)), l1 = -a * r, l2 = -a * rc;
      l = Math.max(l1, l2);
      gr = l1 >= l2 ? -a * r : 0;
      if (l2 > l1) r < 1 ? low++ : high++;
      if (a < 0 && l > -3 * a) (l = -3 * a), (gr = 0);
      if (sel?.[i]) (l = 0), (gr = 0);
    }
    loss += l / N;
    g[i] = gr / N;
    kl += r - 1 - lr;
  }
  return loss + low + high + kl;
}

// k3 and its gradient −(e^d − 1) (0 where the clamps are active), like the native row.
function tsKl(n: number, lp: Float32Array, ref: Float32Array, out: Float32Array, grad: Float32Array): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const raw = ref[i] - lp[i], d = Math.min(20, Math.max(-20, raw));
    const e = Math.exp(d), k = e - d - 1;
    out[i] = Math.min(10, k);
    grad[i] = k > 10 || raw <= -20 || raw >= 20 ? 0 : 1 - e;
    s += out[i];
  }
  return s / n;
}

// Plain log-softmax per row (three passes: max, sum of exp, entropy), and its backward.
function tsLogProbs(M: number, V: number, x: Float32Array, t: Int32Array, lpOut: Float32Array, hOut: Float32Array, grad?: Float32Array): void {
  for (let m = 0; m < M; m++) {
    const o = m * V;
    let mx = -Infinity;
    for (let v = 0; v < V; v++) if (x[o + v] > mx) mx = x[o + v];
    let s = 0, w = 0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp(x[o + v] - mx);
      s += e;
      w += e * (x[o + v] - mx);
    }
    const ls = Math.log(s);
    lpOut[m] = x[o + t[m]] - mx - ls;
    hOut[m] = ls - w / s;
    if (grad) {
      for (let v = 0; v < V; v++) grad[o + v] = -Math.exp(x[o + v] - mx - ls);
      grad[o + t[m]] += 1;
    }
  }
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  const B = 1024, T = 1024, n = B * T;
  const rnd = (s: number, off = 0) => new Float32Array(n).map(() => off + (Math.random() * 2 - 1) * s);
  const olp = rnd(1, -2), lp = olp.map((v) => v + (Math.random() - 0.5) * 0.4), adv = rnd(2), ref = lp.map((v) => v + (Math.random() - 0.5) * 0.4);
  const mask = Uint8Array.from({ length: n }, (_, i) => (i % T < T - (Math.floor(i / T) % 200) ? 1 : 0)); // ragged lengths
  const g = new Float32Array(n);
  const size = `B=${B} T=${T} (1M tokens)`;
  const bytes = n * 17; // three float inputs, the mask, the gradient out
  for (const kind of ['ppo', 'cispo', 'gspo', 'clipCov', 'klCov'] as PolicyLossKind[]) {
    const k = `policy loss ${kind}${kind === 'ppo' ? ' (clip-higher, dual clip)' : ''} + grad`;
    rows.push({ kernel: k, size, impl: 'native cpu', elements: n, bytes, seconds: timeIt(() => policyLoss({ shape: [B, T], logProb: lp, oldLogProb: olp, advantages: adv, mask, loss: kind, clipHigh: 0.28, dualClip: kind === 'ppo' ? 3 : 0, out: { gradLogProb: g }, device: 'cpu' }), 0.3) });
    rows.push({ kernel: k, size, impl: 'ts loop', elements: n, bytes, seconds: timeIt(() => tsPolicyLoss(kind, n, lp, olp, adv, mask, g, T), 0.3) });
  }
  const k3 = 'kl k3 per token + grad';
  const kl = new Float32Array(n), kg = new Float32Array(n);
  rows.push({ kernel: k3, size, impl: 'native cpu', elements: n, bytes: n * 16, seconds: timeIt(() => tokenKl({ logProb: lp, refLogProb: ref, grad: true, out: { kl, grad: kg }, device: 'cpu' }), 0.3) });
  rows.push({ kernel: k3, size, impl: 'ts loop', elements: n, bytes: n * 16, seconds: timeIt(() => tsKl(n, lp, ref, kl, kg), 0.3) });

  for (const [M, V] of [[64, 32_000], [16, 152_000]]) {
    const x = new Float32Array(M * V).map(() => (Math.random() * 2 - 1) * 6);
    const t = Int32Array.from({ length: M }, () => Math.floor(Math.random() * V));
    const lpo = new Float32Array(M), h = new Float32Array(M), lse = new Float32Array(M), gl = new Float32Array(M).fill(1), gx = new Float32Array(M * V);
    const vsize = `M=${M} V=${V}`;
    const f = 'token logprobs + entropy (fwd)';
    rows.push({ kernel: f, size: vsize, impl: 'native cpu', elements: M * V, bytes: M * V * 4, seconds: timeIt(() => tokenLogProbs({ shape: [M, V], logits: x, targets: t, out: { logProb: lpo, entropy: h }, device: 'cpu' }), 0.3) });
    rows.push({ kernel: f, size: vsize, impl: 'ts loop', elements: M * V, bytes: M * V * 4, seconds: timeIt(() => tsLogProbs(M, V, x, t, lpo, h), 0.3) });
    const fb = 'token logprobs fwd + bwd to logits (lse reused)';
    rows.push({
      kernel: fb, size: vsize, impl: 'native cpu', elements: M * V, bytes: M * V * 12,
      seconds: timeIt(() => {
        tokenLogProbs({ shape: [M, V], logits: x, targets: t, lse: true, out: { logProb: lpo, entropy: h, lse }, device: 'cpu' });
        tokenLogProbsBackward({ shape: [M, V], logits: x, targets: t, gradLogProb: gl, lse, out: { gradLogits: gx }, device: 'cpu' });
      }, 0.3),
    });
    rows.push({ kernel: fb, size: vsize, impl: 'ts loop', elements: M * V, bytes: M * V * 12, seconds: timeIt(() => tsLogProbs(M, V, x, t, lpo, h, gx), 0.3) });
  }
  // On a CUDA build with a device: the logits kernel on device-resident data (GPU memory bandwidth).
  const b = backends();
  if (b.cuda.built && b.cuda.devices.length > 0) {
    for (const [M, V] of [[4096, 32_000], [1024, 152_000]]) {
      const r = native().cudaBench('token_logprobs', M, V, 20) as { ms: number; bytes: number; elements: number; path: string };
      rows.push({ kernel: 'token logprobs + entropy (fwd)', size: `M=${M} V=${V}`, impl: `cuda device (${r.path})`, elements: r.elements, bytes: r.bytes, seconds: r.ms / 1e3 });
    }
  }
  return rows;
}
