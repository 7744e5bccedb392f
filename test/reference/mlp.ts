// Plain-loop float64 network: the hand calculation the native forward/backward are checked
// against. Parameters use the same flat layout as Sequential (Linear W [out, in] then b; LayerNorm
// gamma then beta).
export type RefLayer = { type: 'linear'; size: number } | { type: 'tanh' } | { type: 'relu' } | { type: 'layerNorm' };

export interface RefNet {
  inputSize: number;
  layers: RefLayer[];
  eps: number;
}

export function refNumParams(net: RefNet): number {
  let d = net.inputSize, n = 0;
  for (const l of net.layers) {
    if (l.type === 'linear') {
      n += l.size * d + l.size;
      d = l.size;
    } else if (l.type === 'layerNorm') n += 2 * d;
  }
  return n;
}

interface Tape {
  inputs: Float64Array[]; // input of each layer
  widths: number[];
}

/** y = f(x) for a batch of B rows; returns the output and what backward needs. */
export function refForward(net: RefNet, params: ArrayLike<number>, x: ArrayLike<number>, B: number): { y: Float64Array; tape: Tape } {
  let d = net.inputSize;
  let cur = Float64Array.from(x);
  const tape: Tape = { inputs: [], widths: [] };
  let off = 0;
  for (const l of net.layers) {
    tape.inputs.push(cur);
    tape.widths.push(d);
    if (l.type === 'linear') {
      const o = l.size, next = new Float64Array(B * o);
      for (let b = 0; b < B; b++)
        for (let j = 0; j < o; j++) {
          let s = params[off + o * d + j];
          for (let i = 0; i < d; i++) s += cur[b * d + i] * params[off + j * d + i];
          next[b * o + j] = s;
        }
      off += o * d + o;
      d = o;
      cur = next;
    } else if (l.type === 'tanh') {
      cur = cur.map(Math.tanh);
    } else if (l.type === 'relu') {
      cur = cur.map((v) => Math.max(v, 0));
    } else {
      const next = new Float64Array(B * d);
      for (let b = 0; b < B; b++) {
        let m = 0;
        for (let i = 0; i < d; i++) m += cur[b * d + i];
        m /= d;
        let v = 0;
        for (let i = 0; i < d; i++) v += (cur[b * d + i] - m) ** 2;
        v /= d;
        const r = 1 / Math.sqrt(v + net.eps);
        for (let i = 0; i < d; i++) next[b * d + i] = params[off + i] * (cur[b * d + i] - m) * r + params[off + d + i];
      }
      off += 2 * d;
      cur = next;
    }
  }
  return { y: cur, tape };
}

/** Analytic gradients: dL/dθ (not accumulated) and dL/dx given dL/dy. */
export function refBackward(net: RefNet, params: ArrayLike<number>, tape: Tape, dy: ArrayLike<number>, B: number): { grads: Float64Array; dx: Float64Array } {
  const grads = new Float64Array(refNumParams(net));
  // Parameter offsets per layer.
  const offs: number[] = [];
  let off = 0, d = net.inputSize;
  for (const l of net.layers) {
    offs.push(off);
    if (l.type === 'linear') {
      off += l.size * d + l.size;
      d = l.size;
    } else if (l.type === 'layerNorm') off += 2 * d;
  }
  let g = Float64Array.from(dy);
  for (let li = net.layers.length - 1; li >= 0; li--) {
    const l = net.layers[li], x = tape.inputs[li], din = tape.widths[li], o0 = offs[li];
    if (l.type === 'linear') {
      const o = l.size, gx = new Float64Array(B * din);
      for (let b = 0; b < B; b++)
        for (let j = 0; j < o; j++) {
          const gj = g[b * o + j];
          grads[o0 + o * din + j] += gj;
          for (let i = 0; i < din; i++) {
            grads[o0 + j * din + i] += gj * x[b * din + i];
            gx[b * din + i] += gj * params[o0 + j * din + i];
          }
        }
      g = gx;
    } else if (l.type === 'tanh') {
      g = g.map((v, i) => v * (1 - Math.tanh(x[i]) ** 2));
    } else if (l.type === 'relu') {
      g = g.map((v, i) => (x[i] > 0 ? v : 0));
    } else {
      const gx = new Float64Array(B * din);
      for (let b = 0; b < B; b++) {
        let m = 0;
        for (let i = 0; i < din; i++) m += x[b * din + i];
        m /= din;
        let v = 0;
        for (let i = 0; i < din; i++) v += (x[b * din + i] - m) ** 2;
        v /= din;
        const r = 1 / Math.sqrt(v + net.eps);
        const xh = Array.from({ length: din }, (_, i) => (x[b * din + i] - m) * r);
        let sg = 0, sgh = 0;
        for (let i = 0; i < din; i++) {
          const gi = g[b * din + i];
          grads[o0 + i] += gi * xh[i];
          grads[o0 + din + i] += gi;
          const gh = gi * params[o0 + i];
          sg += gh;
          sgh += gh * xh[i];
        }
        for (let i = 0; i < din; i++) {
          const gh = g[b * din + i] * params[o0 + i];
          gx[b * din + i] = r * (gh - sg / din - xh[i] * (sgh / din));
        }
      }
      g = gx;
    }
  }
  return { grads, dx: g };
}

/** Scalar loss L = sum(y * w) used by the gradient checks (dL/dy = w). */
export function refLoss(net: RefNet, params: ArrayLike<number>, x: ArrayLike<number>, B: number, w: ArrayLike<number>): number {
  const { y } = refForward(net, params, x, B);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}
