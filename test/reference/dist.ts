// Plain-loop float64 distributions: the hand calculation the native kernels are checked against.
// Each function returns the forward values and the analytic gradients; the tests check those
// gradients by finite differences of the forward values.
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Reads a per-row upstream gradient (number, [B] array, or absent = 0). */
export function rowGrad(g: number | ArrayLike<number> | undefined, b: number): number {
  if (g === undefined) return 0;
  return typeof g === 'number' ? g : g[b];
}

export interface CategoricalRef {
  B: number;
  A: number;
  logits: ArrayLike<number>;
  mask?: ArrayLike<number>;
  actions: ArrayLike<number>;
  gradLogProb?: number | ArrayLike<number>;
  gradEntropy?: number | ArrayLike<number>;
}

/** log π(a_b), H_b, and ∂(Σ g_lp log π + g_H H)/∂logits. */
export function categoricalRef(o: CategoricalRef): { logProb: number[]; entropy: number[]; gradLogits: number[]; logProbs: number[] } {
  const { B, A } = o;
  const logProb: number[] = [], entropy: number[] = [], gradLogits: number[] = [], logProbs: number[] = [];
  for (let b = 0; b < B; b++) {
    const legal = (j: number) => !o.mask || o.mask[b * A + j] !== 0;
    let m = -Infinity;
    for (let j = 0; j < A; j++) if (legal(j)) m = Math.max(m, o.logits[b * A + j]);
    let s = 0;
    for (let j = 0; j < A; j++) if (legal(j)) s += Math.exp(o.logits[b * A + j] - m);
    const lz = m + Math.log(s);
    const lp = Array.from({ length: A }, (_, j) => (legal(j) ? o.logits[b * A + j] - lz : -Infinity));
    const p = lp.map((v) => Math.exp(v));
    let H = 0;
    for (let j = 0; j < A; j++) if (legal(j)) H -= p[j] * lp[j];
    const a = o.actions[b];
    logProb.push(lp[a]);
    entropy.push(H);
    logProbs.push(...lp);
    const gl = rowGrad(o.gradLogProb, b), gh = rowGrad(o.gradEntropy, b);
    for (let j = 0; j < A; j++) {
      gradLogits.push(legal(j) ? gl * ((j === a ? 1 : 0) - p[j]) - gh * p[j] * (lp[j] + H) : 0);
    }
  }
  return { logProb, entropy, gradLogits, logProbs };
}

export interface GaussianRef {
  B: number;
  A: number;
  mean: ArrayLike<number>;
  /** log σ ([B, A] or [A]); or σ when `isStd`. */
  scale: ArrayLike<number>;
  isStd?: boolean;
  actions: ArrayLike<number>;
  gradLogProb?: number | ArrayLike<number>;
  gradEntropy?: number | ArrayLike<number>;
}

/** Diagonal Gaussian: log π, H, ∂/∂μ, ∂/∂scale (summed over rows for a free [A] scale). */
export function gaussianRef(o: GaussianRef): { logProb: number[]; entropy: number[]; gradMean: number[]; gradScale: number[] } {
  const { B, A } = o;
  const perRow = o.scale.length === B * A;
  const logProb: number[] = [], entropy: number[] = [], gradMean: number[] = [];
  const gradScale = new Array<number>(o.scale.length).fill(0);
  for (let b = 0; b < B; b++) {
    let lp = 0, H = 0;
    const gl = rowGrad(o.gradLogProb, b), gh = rowGrad(o.gradEntropy, b);
    for (let j = 0; j < A; j++) {
      const si = perRow ? b * A + j : j;
      const logSigma = o.isStd ? Math.log(o.scale[si]) : o.scale[si];
      const sigma = o.isStd ? o.scale[si] : Math.exp(logSigma);
      const z = (o.actions[b * A + j] - o.mean[b * A + j]) / sigma;
      lp += -0.5 * z * z - logSigma - HALF_LOG_2PI;
      H += logSigma + 0.5 + HALF_LOG_2PI;
      gradMean.push((gl * z) / sigma);
      let g = gl * (z * z - 1) + gh;
      if (o.isStd) g /= sigma;
      gradScale[si] += g;
    }
    logProb.push(lp);
    entropy.push(H);
  }
  return { logProb, entropy, gradMean, gradScale };
}

export interface SquashedRef {
  B: number;
  A: number;
  mean: ArrayLike<number>;
  logStd: ArrayLike<number>;
  noise: ArrayLike<number>;
  gradLogProb?: number | ArrayLike<number>;
  gradActions?: ArrayLike<number>;
}

/** Tanh-squashed Gaussian at given noise: a, log π, and reparameterised ∂/∂μ, ∂/∂log σ. */
export function squashedRef(o: SquashedRef): { actions: number[]; logProb: number[]; gradMean: number[]; gradLogStd: number[] } {
  const { B, A } = o;
  const perRow = o.logStd.length === B * A;
  const actions: number[] = [], logProb: number[] = [], gradMean: number[] = [];
  const gradLogStd = new Array<number>(o.logStd.length).fill(0);
  for (let b = 0; b < B; b++) {
    let lp = 0;
    const gl = rowGrad(o.gradLogProb, b);
    for (let j = 0; j < A; j++) {
      const si = perRow ? b * A + j : j;
      const ls = o.logStd[si], sigma = Math.exp(ls), e = o.noise[b * A + j];
      const u = o.mean[b * A + j] + sigma * e, t = Math.tanh(u);
      lp += -0.5 * e * e - ls - HALF_LOG_2PI - 2 * (Math.LN2 - u - softplus(-2 * u));
      actions.push(t);
      const sech2 = 1 / Math.cosh(u) ** 2;
      const ga = o.gradActions ? o.gradActions[b * A + j] : 0;
      const gu = gl * 2 * t + ga * sech2;
      gradMean.push(gu);
      gradLogStd[si] += gu * sigma * e - gl;
    }
    logProb.push(lp);
  }
  return { actions, logProb, gradMean, gradLogStd };
}
