// Plain-loop float64 optimiser steps (PyTorch's formulas): the hand calculation for the fused kernels.
export function adamRef(
  p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, t: number,
  o: { lr: number; beta1: number; beta2: number; eps: number; wd: number; decoupled: boolean },
): void {
  for (let i = 0; i < p.length; i++) {
    let gi = g[i];
    if (o.decoupled) p[i] *= 1 - o.lr * o.wd;
    else gi += o.wd * p[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
    const mh = m[i] / (1 - o.beta1 ** t), vh = v[i] / (1 - o.beta2 ** t);
    p[i] -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
  }
}

export function sgdRef(
  p: Float64Array, g: ArrayLike<number>, buf: Float64Array, first: boolean,
  o: { lr: number; momentum: number; dampening: number; wd: number; nesterov: boolean },
): void {
  for (let i = 0; i < p.length; i++) {
    let gi = g[i] + o.wd * p[i];
    if (o.momentum > 0) {
      buf[i] = first ? gi : o.momentum * buf[i] + (1 - o.dampening) * gi;
      gi = o.nesterov ? gi + o.momentum * buf[i] : buf[i];
    }
    p[i] -= o.lr * gi;
  }
}
