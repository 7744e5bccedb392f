// Plain float64 references of the LLM post-training kernels (the hand calculation the native
// kernels are compared with). Written for clarity, not speed.

/** log-softmax of one row of logits / τ, the target's log-prob, entropy and the backward. */
export function tokenLogProbsRef(logits: ArrayLike<number>, V: number, targets: ArrayLike<number>, temperature = 1, gradLogProb?: ArrayLike<number>, gradEntropy?: ArrayLike<number>) {
  const M = targets.length;
  const logProb = new Float64Array(M), entropy = new Float64Array(M), lse = new Float64Array(M), gradLogits = new Float64Array(M * V);
  for (let m = 0; m < M; m++) {
    let mx = -Infinity;
    for (let v = 0; v < V; v++) mx = Math.max(mx, logits[m * V + v] / temperature);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[m * V + v] / temperature - mx);
    const l = mx + Math.log(s);
    let h = 0;
    for (let v = 0; v < V; v++) {
      const lp = logits[m * V + v] / temperature - l;
      if (lp > -Infinity) h -= Math.exp(lp) * lp;
    }
    lse[m] = l, entropy[m] = h, logProb[m] = logits[m * V + targets[m]] / temperature - l;
    const g = gradLogProb?.[m] ?? 0, e = gradEntropy?.[m] ?? 0;
    for (let v = 0; v < V; v++) {
      const lp = logits[m * V + v] / temperature - l, p = Math.exp(lp);
      gradLogits[m * V + v] = ((v === targets[m] ? g : 0) - g * p - (p > 0 ? e * p * (lp + h) : 0)) / temperature;
    }
  }
  return { logProb, entropy, lse, gradLogits };
}

/** Options of {@link policyLossRef} (same names as policyLoss, numbers instead of strings). */
export interface PolicyRefOptions {
  B: number;
  T: number;
  logProb: ArrayLike<number>;
  oldLogProb: ArrayLike<number>;
  advantages: ArrayLike<number>;
  mask?: ArrayLike<number>;
  refLogProb?: ArrayLike<number>;
  rolloutLogProb?: ArrayLike<number>;
  entropy?: ArrayLike<number>;
  loss?: 'ppo' | 'cispo' | 'gspo' | 'clipCov' | 'klCov';
  aggregation?: 'tokenMean' | 'seqMeanTokenMean' | 'seqMeanTokenSum' | 'tokenSumNorm';
  clipLow?: number;
  clipHigh?: number;
  dualClip?: number;
  tisCap?: number;
  klCoef?: number;
  klEstimator?: 'k1' | 'k2' | 'k3';
  entCoef?: number;
  normConst?: number;
  /** Selected tokens for clipCov / klCov (given: the selection is data-dependent and held fixed). */
  selected?: ArrayLike<number>;
  /** Log-probs the stop-gradients read (CISPO's weight, TIS): default logProb / oldLogProb. */
  detachedLogProb?: ArrayLike<number>;
}

/** k1/k2/k3 value and derivative w.r.t. logp. */
export function klRef(kind: 'k1' | 'k2' | 'k3', logp: number, ref: number): [number, number] {
  const raw = ref - logp, inside = raw > -20 && raw < 20, d = Math.min(20, Math.max(-20, raw));
  if (kind === 'k1') return [-d, inside ? 1 : 0];
  if (kind === 'k2') return [0.5 * d * d, inside ? -d : 0];
  const k3 = Math.expm1(d) - d;
  return k3 > 10 ? [10, 0] : [Math.max(0, k3), inside ? -Math.expm1(d) : 0];
}

/** Float64 policy loss: the loss and dL/dlogProb, written per token from the formulas. */
export function policyLossRef(o: PolicyRefOptions) {
  const { B, T } = o;
  const kind = o.loss ?? 'ppo', agg = o.aggregation ?? 'tokenMean';
  const lo = 1 - (o.clipLow ?? 0.2), hi = 1 + (o.clipHigh ?? o.clipLow ?? 0.2);
  const valid = (i: number) => !o.mask || o.mask[i] !== 0;
  const adv = (b: number, t: number) => (o.advantages.length === B * T ? o.advantages[b * T + t] : o.advantages[b]);
  const n = new Array<number>(B).fill(0);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) if (valid(b * T + t)) n[b]++;
  const N = n.reduce((a, c) => a + c, 0), S = n.filter((c) => c > 0).length;
  const weight = (b: number) =>
    agg === 'tokenMean' ? 1 / N : agg === 'seqMeanTokenMean' ? (n[b] > 0 ? 1 / (S * n[b]) : 0) : agg === 'seqMeanTokenSum' ? 1 / S : 1 / (o.normConst ?? T);
  const grad = new Float64Array(B * T);
  let pol = 0, klw = 0, hw = 0;
  for (let b = 0; b < B; b++) {
    const w = weight(b);
    let seqLr = 0;
    for (let t = 0; t < T; t++) if (valid(b * T + t)) seqLr += o.logProb[b * T + t] - o.oldLogProb[b * T + t];
    seqLr = n[b] > 0 ? seqLr / n[b] : 0;
    const capped = seqLr > 10;
    const s = Math.exp(Math.min(seqLr, 10));
    let gspoG = 0;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      if (!valid(i)) continue;
      const lp = o.logProb[i], lr = lp - o.oldLogProb[i], a = adv(b, t);
      const detLr = (o.detachedLogProb?.[i] ?? lp) - o.oldLogProb[i];
      let l: number, g: number;
      if (kind === 'klCov') {
        const r = Math.exp(lr);
        l = -a * r, g = -a * r;
        if (o.selected?.[i]) (l += Math.abs(lr)), (g += Math.sign(lr));
      } else if (kind === 'cispo') {
        const wgt = Math.min(Math.max(Math.exp(detLr), lo), hi);
        l = -wgt * a * lp, g = -wgt * a;
      } else {
        const r = kind === 'gspo' ? s : Math.exp(lr);
        const l1 = -a * r, l2 = -a * Math.min(Math.max(r, lo), hi);
        l = Math.max(l1, l2);
        g = l2 > l1 ? 0 : kind === 'gspo' ? -a : -a * r;
        if ((o.dualClip ?? 0) > 0 && a < 0 && l > -a * o.dualClip!) (l = -a * o.dualClip!), (g = 0);
        if (kind === 'clipCov' && o.selected?.[i]) (l = 0), (g = 0);
      }
      if (o.rolloutLogProb) {
        const wt = Math.min(Math.exp(o.oldLogProb[i] - o.rolloutLogProb[i]), o.tisCap ?? 2);
        l *= wt, g *= wt;
      }
      pol += w * l;
      if (kind === 'gspo') gspoG += w * g;
      else grad[i] += w * g;
      if (o.refLogProb) {
        const [kv, kg] = klRef(o.klEstimator ?? 'k3', lp, o.refLogProb[i]);
        klw += w * kv;
        grad[i] += (o.klCoef ?? 0) * w * kg;
      }
      if (o.entropy) hw += w * o.entropy[i];
    }
    if (kind === 'gspo' && n[b] > 0 && !capped) for (let t = 0; t < T; t++) if (valid(b * T + t)) grad[b * T + t] += (gspoG * s) / n[b];
  }
  const loss = pol + (o.klCoef ?? 0) * klw - (o.entCoef ?? 0) * hw;
  return { loss, policyLoss: pol, klLoss: klw, entropyLoss: hw, gradLogProb: grad, tokens: N, sequences: S };
}

const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Float64 DPO / IPO / Bradley–Terry loss and gradients. */
export function preferenceRef(kind: 'dpo' | 'ipo' | 'bradleyTerry', c: ArrayLike<number>, r: ArrayLike<number>, rc: ArrayLike<number> | undefined, rr: ArrayLike<number> | undefined, beta: number, eps = 0, margin = 0) {
  const P = c.length;
  let loss = 0, acc = 0;
  const gc = new Float64Array(P), gr = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    const dc = c[i] - (rc?.[i] ?? 0), dr = r[i] - (rr?.[i] ?? 0);
    if (kind === 'ipo') {
      const e = dc - dr - 1 / (2 * beta);
      loss += e * e, acc += dc - dr > 0 ? 1 : 0;
      gc[i] = (2 * e) / P, gr[i] = (-2 * e) / P;
    } else {
      const sc = kind === 'dpo' ? beta : 1, h = sc * (dc - dr) - margin;
      loss += (1 - eps) * softplus(-h) + eps * softplus(h);
      acc += h > 0 ? 1 : 0;
      const dh = -(1 - eps) * sigmoid(-h) + eps * sigmoid(h);
      gc[i] = (dh * sc) / P, gr[i] = (-dh * sc) / P;
    }
  }
  return { loss: loss / P, accuracy: acc / P, gradChosen: gc, gradRejected: gr };
}

/** Float64 CPL loss. */
export function cplRef(P: number, L: number, c: ArrayLike<number>, r: ArrayLike<number>, alpha: number, gamma: number, lambda: number) {
  let loss = 0;
  for (let i = 0; i < P; i++) {
    let sp = 0, sn = 0;
    for (let t = 0; t < L; t++) (sp += gamma ** t * c[i * L + t]), (sn += gamma ** t * r[i * L + t]);
    loss += softplus(lambda * alpha * sn - alpha * sp);
  }
  return loss / P;
}
