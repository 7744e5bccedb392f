// Loss kernels over RL-sized batches (loss + statistics + gradient in one pass) against plain TS loops.
import { ppoLoss } from '../src/losses/ppo.js';
import { tdLoss } from '../src/losses/td.js';
import { valueLoss } from '../src/losses/value.js';
import { timeIt, type BenchRow } from './harness.js';

function tsPpo(B: number, nlp: Float32Array, olp: Float32Array, adv: Float32Array, ent: Float32Array, clip: number, g: Float32Array): number {
  let pg = 0, cf = 0, kl = 0, h = 0;
  for (let b = 0; b < B; b++) {
    const lr = nlp[b] - olp[b], r = Math.exp(lr);
    const l1 = -adv[b] * r, l2 = -adv[b] * Math.min(1 + clip, Math.max(1 - clip, r));
    pg += Math.max(l1, l2);
    g[b] = l1 >= l2 ? l1 / B : 0;
    cf += Math.abs(r - 1) > clip ? 1 : 0;
    kl += r - 1 - lr;
    h += ent[b];
  }
  return pg / B - 0.01 * (h / B) + cf + kl;
}

function tsValue(B: number, v: Float32Array, ret: Float32Array, old: Float32Array, clip: number, g: Float32Array): number {
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const e = v[b] - ret[b], d = v[b] - old[b];
    const ec = old[b] + Math.min(clip, Math.max(-clip, d)) - ret[b];
    const l = 0.5 * e * e, lc = 0.5 * ec * ec;
    loss += Math.max(l, lc);
    g[b] = (lc > l ? (Math.abs(d) <= clip ? ec : 0) : e) / B;
  }
  return loss / B;
}

function tsTd(B: number, A: number, q: Float32Array, act: Int32Array, r: Float32Array, done: Uint8Array, nq: Float32Array, sel: Float32Array, w: Float32Array, g: Float32Array, td: Float32Array): number {
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let pick = 0;
    for (let j = 1; j < A; j++) if (sel[b * A + j] > sel[b * A + pick]) pick = j;
    const y = r[b] + 0.99 * (1 - done[b]) * nq[b * A + pick];
    const d = q[b * A + act[b]] - y, ad = Math.abs(d);
    loss += w[b] * (ad > 1 ? ad - 0.5 : 0.5 * d * d);
    for (let j = 0; j < A; j++) g[b * A + j] = 0;
    g[b * A + act[b]] = (w[b] * Math.min(1, Math.max(-1, d))) / B;
    td[b] = ad;
  }
  return loss / B;
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const B of [64, 4096, 65536]) {
    const rnd = (s = 1) => new Float32Array(B).map(() => (Math.random() * 2 - 1) * s);
    const nlp = rnd(), olp = nlp.map((v) => v + (Math.random() - 0.5) * 0.3), adv = rnd(2), ent = rnd().map((v) => v + 2);
    const g = new Float32Array(B);
    const push = (kernel: string, size: string, impl: string, bytes: number, seconds: number) => rows.push({ kernel, size, impl, elements: B, bytes, seconds });
    const size = `B=${B}`;
    push('ppo loss', size, 'native cpu', B * 20, timeIt(() => ppoLoss({ shape: [B], newLogProb: nlp, oldLogProb: olp, advantages: adv, entropy: ent, entCoef: 0.01, out: { gradLogProb: g }, device: 'cpu' }), 0.15));
    push('ppo loss', size, 'ts loop', B * 20, timeIt(() => tsPpo(B, nlp, olp, adv, ent, 0.2, g), 0.15));
    push('value loss (clipped)', size, 'native cpu', B * 16, timeIt(() => valueLoss({ shape: [B], values: nlp, returns: adv, oldValues: olp, clipCoef: 0.2, out: { grad: g }, device: 'cpu' }), 0.15));
    push('value loss (clipped)', size, 'ts loop', B * 16, timeIt(() => tsValue(B, nlp, adv, olp, 0.2, g), 0.15));
    const A = 6, n = B * A;
    const q = new Float32Array(n).map(() => Math.random()), nq = new Float32Array(n).map(() => Math.random()), sel = new Float32Array(n).map(() => Math.random());
    const act = Int32Array.from({ length: B }, () => Math.floor(Math.random() * A));
    const done = Uint8Array.from({ length: B }, () => (Math.random() < 0.05 ? 1 : 0));
    const w = new Float32Array(B).map(() => Math.random());
    const gq = new Float32Array(n), td = new Float32Array(B), ys = new Float32Array(B);
    const tdBytes = n * 16 + B * 21;
    const tsize = `B=${B} A=${A}`;
    push('double-dqn td (huber, PER)', tsize, 'native cpu', tdBytes, timeIt(() => tdLoss({ shape: [B, A], q, actions: act, rewards: adv, dones: done, nextQ: nq, nextQSelect: sel, weights: w, kind: 'huber', out: { grad: gq, tdAbs: td, targets: ys }, device: 'cpu' }), 0.15));
    push('double-dqn td (huber, PER)', tsize, 'ts loop', tdBytes, timeIt(() => tsTd(B, A, q, act, adv, done, nq, sel, w, gq, td), 0.15));
  }
  return rows;
}
