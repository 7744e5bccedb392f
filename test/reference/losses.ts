// Plain-loop float64 loss kernels: the hand calculation the native kernels are checked against.
export function rho(x: number, delta: number): number {
  return delta > 0 && Math.abs(x) > delta ? delta * (Math.abs(x) - 0.5 * delta) : 0.5 * x * x;
}
export function rhoGrad(x: number, delta: number): number {
  return delta > 0 ? Math.min(delta, Math.max(-delta, x)) : x;
}

export interface PpoRef {
  newLogProb: ArrayLike<number>;
  oldLogProb: ArrayLike<number>;
  advantages: ArrayLike<number>;
  entropy?: ArrayLike<number>;
  clip: number;
  entCoef: number;
  normalize: boolean;
}

export function ppoRef(o: PpoRef) {
  const B = o.newLogProb.length;
  let adv = Array.from(o.advantages);
  if (o.normalize) {
    const mean = adv.reduce((s, v) => s + v, 0) / B;
    const sd = B > 1 ? Math.sqrt(adv.reduce((s, v) => s + (v - mean) ** 2, 0) / (B - 1)) : 0;
    adv = adv.map((v) => (v - mean) / (sd + 1e-8));
  }
  let pg = 0, clipped = 0, kl = 0, oldKl = 0, ent = 0;
  const gradLogProb: number[] = [];
  for (let b = 0; b < B; b++) {
    const lr = o.newLogProb[b] - o.oldLogProb[b], r = Math.exp(lr);
    const l1 = -adv[b] * r, l2 = -adv[b] * Math.min(1 + o.clip, Math.max(1 - o.clip, r));
    pg += Math.max(l1, l2);
    gradLogProb.push(l1 >= l2 ? l1 / B : 0);
    if (Math.abs(r - 1) > o.clip) clipped++;
    kl += r - 1 - lr;
    oldKl -= lr;
    if (o.entropy) ent += o.entropy[b];
  }
  const policyLoss = pg / B, entropy = o.entropy ? ent / B : 0;
  return {
    loss: policyLoss - (o.entropy ? o.entCoef * entropy : 0),
    policyLoss, entropy, clipFraction: clipped / B, approxKl: kl / B, oldApproxKl: oldKl / B, gradLogProb,
    gradEntropy: o.entropy ? -o.entCoef / B : 0,
  };
}

export interface ValueRef {
  values: ArrayLike<number>;
  returns: ArrayLike<number>;
  oldValues?: ArrayLike<number>;
  clip: number;
  delta: number; // 0: squared
}

export function valueRef(o: ValueRef) {
  const B = o.values.length;
  let loss = 0, clipped = 0, abs = 0;
  const grad: number[] = [];
  for (let b = 0; b < B; b++) {
    const v = o.values[b], e = v - o.returns[b];
    let l = rho(e, o.delta), g = rhoGrad(e, o.delta);
    if (o.oldValues) {
      const d = v - o.oldValues[b];
      const ec = o.oldValues[b] + Math.min(o.clip, Math.max(-o.clip, d)) - o.returns[b];
      const lc = rho(ec, o.delta);
      if (lc > l) {
        l = lc;
        g = Math.abs(d) <= o.clip ? rhoGrad(ec, o.delta) : 0;
      }
      if (Math.abs(d) > o.clip) clipped++;
    }
    loss += l;
    abs += Math.abs(e);
    grad.push(g / B);
  }
  return { loss: loss / B, clipFraction: clipped / B, meanAbsError: abs / B, grad };
}

export interface TdRef {
  B: number;
  A: number;
  q: ArrayLike<number>;
  actions?: ArrayLike<number>;
  targets?: ArrayLike<number>;
  rewards?: ArrayLike<number>;
  dones?: ArrayLike<number>;
  nextQ?: ArrayLike<number>;
  nextQSelect?: ArrayLike<number>;
  gamma?: number | ArrayLike<number>;
  weights?: ArrayLike<number>;
  delta: number;
}

export function tdRef(o: TdRef) {
  const { B, A } = o;
  let loss = 0, qs = 0, abs = 0, ys = 0;
  const grad = new Array<number>(B * A).fill(0), tdAbs: number[] = [], targets: number[] = [];
  for (let b = 0; b < B; b++) {
    const a = o.actions ? o.actions[b] : 0;
    const qa = o.q[b * A + a];
    let y: number;
    if (o.targets) y = o.targets[b];
    else {
      const W = o.nextQ!.length === B ? 1 : A;
      let pick = 0;
      const sel = o.nextQSelect ?? o.nextQ!;
      for (let j = 1; j < W; j++) if (sel[b * W + j] > sel[b * W + pick]) pick = j;
      const g = o.gamma === undefined ? 0.99 : typeof o.gamma === 'number' ? o.gamma : o.gamma[b];
      y = o.rewards![b] + g * (o.dones?.[b] ? 0 : 1) * o.nextQ![b * W + pick];
    }
    const d = qa - y, w = o.weights ? o.weights[b] : 1;
    loss += w * rho(d, o.delta);
    qs += qa;
    abs += Math.abs(d);
    ys += y;
    grad[b * A + a] = (w * rhoGrad(d, o.delta)) / B;
    tdAbs.push(Math.abs(d));
    targets.push(y);
  }
  return { loss: loss / B, meanQ: qs / B, meanAbsTd: abs / B, meanTarget: ys / B, grad, tdAbs, targets };
}
