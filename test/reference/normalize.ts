// Plain-loop whitening: the hand calculation the native kernel is checked against.
export interface WhitenRef {
  x: ArrayLike<number>;
  mask?: ArrayLike<number>;
  indices?: ArrayLike<number>;
  eps: number;
  unbiased: boolean;
  shiftMean: boolean;
}

/** Mean and standard deviation (two passes in float64; 0 with too few values). */
export function meanStd(v: number[], unbiased: boolean): { mean: number; std: number } {
  if (v.length === 0) return { mean: 0, std: 0 };
  const mean = v.reduce((s, a) => s + a, 0) / v.length;
  const ss = v.reduce((s, a) => s + (a - mean) ** 2, 0);
  const dof = unbiased ? v.length - 1 : v.length;
  return { mean, std: dof > 0 ? Math.sqrt(ss / dof) : 0 };
}

export function whitenRef(o: WhitenRef): { out: number[]; mean: number; std: number; count: number } {
  const selected: number[] = [];
  if (o.indices) for (let j = 0; j < o.indices.length; j++) selected.push(o.x[o.indices[j]]);
  else for (let i = 0; i < o.x.length; i++) if (!o.mask || o.mask[i]) selected.push(o.x[i]);
  const { mean, std } = meanStd(selected, o.unbiased);
  const f = (a: number) => (a - mean) / (std + o.eps) + (o.shiftMean ? 0 : mean);
  const out = o.indices
    ? selected.map(f)
    : Array.from({ length: o.x.length }, (_, i) => (!o.mask || o.mask[i] ? f(o.x[i]) : 0));
  return { out, mean, std, count: selected.length };
}
