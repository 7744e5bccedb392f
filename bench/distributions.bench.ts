// Distributions over RL-sized batches: one fused pass of log-prob + entropy + backward (the PPO
// actor step), and SAC's squashed-Gaussian sample and backward, against plain TS loops.
import { categoricalBackward } from '../src/dist/categorical.js';
import { gaussianBackward } from '../src/dist/gaussian.js';
import { squashedGaussianBackward, squashedGaussianSample } from '../src/dist/squashed_gaussian.js';
import { timeIt, type BenchRow } from './harness.js';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function tsCategorical(B: number, A: number, z: Float32Array, act: Int32Array, gl: number, gh: number, lp: Float32Array, ent: Float32Array, g: Float32Array): void {
  const p = new Float64Array(A);
  for (let b = 0; b < B; b++) {
    const o = b * A;
    let m = -Infinity;
    for (let j = 0; j < A; j++) m = Math.max(m, z[o + j]);
    let s = 0;
    for (let j = 0; j < A; j++) s += p[j] = Math.exp(z[o + j] - m);
    const lz = m + Math.log(s);
    let H = 0;
    for (let j = 0; j < A; j++) {
      p[j] /= s;
      H -= p[j] * (z[o + j] - lz);
    }
    lp[b] = z[o + act[b]] - lz;
    ent[b] = H;
    for (let j = 0; j < A; j++) g[o + j] = -gl * p[j] - gh * p[j] * (z[o + j] - lz + H);
    g[o + act[b]] += gl;
  }
}

function tsGaussian(B: number, A: number, mu: Float32Array, ls: Float32Array, x: Float32Array, gl: number, gh: number, lp: Float32Array, ent: Float32Array, gm: Float32Array, gs: Float32Array): void {
  for (let b = 0; b < B; b++) {
    let l = 0, h = 0;
    for (let j = 0; j < A; j++) {
      const i = b * A + j, sigma = Math.exp(ls[i]), zz = (x[i] - mu[i]) / sigma;
      l += -0.5 * zz * zz - ls[i] - HALF_LOG_2PI;
      h += ls[i] + 0.5 + HALF_LOG_2PI;
      gm[i] = (gl * zz) / sigma;
      gs[i] = gl * (zz * zz - 1) + gh;
    }
    lp[b] = l;
    ent[b] = h;
  }
}

function tsSquashedSample(B: number, A: number, mu: Float32Array, ls: Float32Array, eps: Float32Array, a: Float32Array, lp: Float32Array): void {
  for (let b = 0; b < B; b++) {
    let l = 0;
    for (let j = 0; j < A; j++) {
      const i = b * A + j;
      // Box–Muller with Math.random, as a TS implementation would draw.
      const e = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
      eps[i] = e;
      const u = mu[i] + Math.exp(ls[i]) * e;
      a[i] = Math.tanh(u);
      const sp = -2 * u > 0 ? -2 * u + Math.log1p(Math.exp(2 * u)) : Math.log1p(Math.exp(-2 * u));
      l += -0.5 * e * e - ls[i] - HALF_LOG_2PI - 2 * (Math.LN2 - u - sp);
    }
    lp[b] = l;
  }
}

function tsSquashedBackward(B: number, A: number, mu: Float32Array, ls: Float32Array, eps: Float32Array, gl: number, ga: Float32Array, gm: Float32Array, gs: Float32Array): void {
  for (let i = 0; i < B * A; i++) {
    const sigma = Math.exp(ls[i]), u = mu[i] + sigma * eps[i], t = Math.tanh(u);
    const gu = gl * 2 * t + ga[i] * (1 - t * t);
    gm[i] = gu;
    gs[i] = gu * sigma * eps[i] - gl;
  }
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  const A = 6;
  for (const B of [64, 4096, 65536]) {
    const size = `B=${B} A=${A}`;
    const n = B * A;
    const z = new Float32Array(n).map(() => Math.random() * 4 - 2);
    const act = Int32Array.from({ length: B }, () => Math.floor(Math.random() * A));
    const lp = new Float32Array(B), ent = new Float32Array(B), g = new Float32Array(n), g2 = new Float32Array(n);
    const push = (kernel: string, impl: string, bytes: number, seconds: number) => rows.push({ kernel, size, impl, elements: B, bytes, seconds });
    const catBytes = n * 8 + B * 12;
    push('categorical lp+H+bwd', 'native cpu', catBytes, timeIt(() => categoricalBackward({ shape: [B, A], logits: z, actions: act, gradLogProb: 1 / B, gradEntropy: -0.01 / B, out: { gradLogits: g, logProb: lp, entropy: ent }, device: 'cpu' }), 0.15));
    push('categorical lp+H+bwd', 'ts loop', catBytes, timeIt(() => tsCategorical(B, A, z, act, 1 / B, -0.01 / B, lp, ent, g), 0.15));
    const ls = new Float32Array(n).map(() => Math.random() - 1);
    const x = new Float32Array(n).map(() => Math.random() * 2 - 1);
    const gBytes = n * 20 + B * 8;
    push('gaussian lp+H+bwd', 'native cpu', gBytes, timeIt(() => gaussianBackward({ shape: [B, A], mean: z, logStd: ls, actions: x, gradLogProb: 1 / B, gradEntropy: 0.01, out: { gradMean: g, gradStd: g2, logProb: lp, entropy: ent }, device: 'cpu' }), 0.15));
    push('gaussian lp+H+bwd', 'ts loop', gBytes, timeIt(() => tsGaussian(B, A, z, ls, x, 1 / B, 0.01, lp, ent, g, g2), 0.15));
    const eps = new Float32Array(n), acts = new Float32Array(n);
    let seed = 0;
    const sBytes = n * 16 + B * 4;
    push('squashed sample', 'native cpu', sBytes, timeIt(() => squashedGaussianSample({ shape: [B, A], mean: z, logStd: ls, seed: seed++, out: { actions: acts, noise: eps, logProb: lp }, device: 'cpu' }), 0.15));
    push('squashed sample', 'ts loop', sBytes, timeIt(() => tsSquashedSample(B, A, z, ls, eps, acts, lp), 0.15));
    const bBytes = n * 20;
    push('squashed bwd', 'native cpu', bBytes, timeIt(() => squashedGaussianBackward({ shape: [B, A], mean: z, logStd: ls, noise: eps, gradLogProb: 0.2 / B, gradActions: x, out: { gradMean: g, gradLogStd: g2 }, device: 'cpu' }), 0.15));
    push('squashed bwd', 'ts loop', bBytes, timeIt(() => tsSquashedBackward(B, A, z, ls, eps, 0.2 / B, x, g, g2), 0.15));
  }
  return rows;
}
