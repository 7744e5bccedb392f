// Weight initialisers. Random draws come from native Philox streams (same seed, same weights on
// every machine); the shaping (QR for orthogonal, scaling) is done here in float64.
import { RlcoreError } from '../errors.js';
import { native } from '../native.js';
import { checkNumber, checkSize } from '../validate.js';

/** How a Linear layer's weight matrix is drawn. */
export type InitScheme = 'orthogonal' | 'xavierUniform' | 'xavierNormal' | 'heUniform' | 'heNormal' | 'zeros';

/** Initialisation of one Linear layer. */
export interface LinearInit {
  /** Weight scheme; default `'orthogonal'`. */
  scheme?: InitScheme;
  /** Gain g; default √2 for `orthogonal` and the He schemes, 1 for the Xavier schemes. */
  gain?: number;
  /** Constant bias value; default 0. */
  bias?: number;
}

const SCHEMES: readonly InitScheme[] = ['orthogonal', 'xavierUniform', 'xavierNormal', 'heUniform', 'heNormal', 'zeros'];

function checkSeed(kernel: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    throw new RlcoreError('ERR_RANGE', `${kernel}: ${name} must be an integer in [0, 2^53 - 1]; received ${String(v)}`);
  }
  return v;
}

/** `n` draws from U[0, 1) on Philox stream `stream` of `seed` (float64). */
export function randomUniform(n: number, seed: number, stream = 0): Float64Array {
  const out = new Float64Array(checkSize('randomUniform', 'n', n));
  native().nnRandom(out, checkSeed('randomUniform', 'seed', seed), checkSeed('randomUniform', 'stream', stream), 0, false, false);
  return out;
}

/** `n` standard normal draws (Box–Muller) on Philox stream `stream` of `seed` (float64). */
export function randomNormal(n: number, seed: number, stream = 0): Float64Array {
  const out = new Float64Array(checkSize('randomNormal', 'n', n));
  native().nnRandom(out, checkSeed('randomNormal', 'seed', seed), checkSeed('randomNormal', 'stream', stream), 1, false, false);
  return out;
}

/**
 * A `[rows, cols]` (row-major) matrix with orthonormal rows or columns, times `gain` (Saxe et
 * al. 2014, "Exact solutions to the nonlinear dynamics of learning in deep linear neural
 * networks", arXiv:1312.6120). A Gaussian matrix of shape `[max, min]` is orthonormalised by
 * modified Gram–Schmidt, twice, in float64 (its Q has R's diagonal positive, the sign convention
 * of PyTorch's `orthogonal_`); when rows < cols the result is transposed.
 */
export function orthogonal(rows: number, cols: number, gain: number, seed: number, stream = 0): Float64Array {
  checkSize('orthogonal', 'rows', rows);
  checkSize('orthogonal', 'cols', cols);
  checkNumber('orthogonal', 'gain', gain, 0, 1e6);
  const tall = rows >= cols;
  const r = tall ? rows : cols, c = tall ? cols : rows; // q is [r, c], c <= r, column-major below
  const q = randomNormal(r * c, seed, stream); // column j is q[j * r .. (j + 1) * r)
  for (let j = 0; j < c; j++) {
    const qj = j * r;
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        const qk = k * r;
        let dot = 0;
        for (let i = 0; i < r; i++) dot += q[qk + i] * q[qj + i];
        for (let i = 0; i < r; i++) q[qj + i] -= dot * q[qk + i];
      }
    }
    let norm = 0;
    for (let i = 0; i < r; i++) norm += q[qj + i] * q[qj + i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < r; i++) q[qj + i] /= norm;
  }
  const out = new Float64Array(rows * cols);
  for (let a = 0; a < rows; a++)
    for (let b = 0; b < cols; b++) {
      // tall: out[a, b] = Q[a, b] = q[b * r + a]; wide: out = Q^T, out[a, b] = Q[b, a] = q[a * r + b].
      out[a * cols + b] = gain * (tall ? q[b * r + a] : q[a * r + b]);
    }
  return out;
}

/** Default gain of a scheme (see {@link LinearInit}). */
export function defaultGain(scheme: InitScheme): number {
  return scheme === 'xavierUniform' || scheme === 'xavierNormal' ? 1 : Math.SQRT2;
}

/**
 * Fills a Linear layer's weight `[out, in]` and bias `[out]` in place.
 *
 * ```text
 * orthogonal:     W = g Q                               (see orthogonal)
 * xavierUniform:  W ~ U(-a, a),  a = g sqrt(6 / (in + out))   (Glorot & Bengio 2010)
 * xavierNormal:   W ~ N(0, s²),  s = g sqrt(2 / (in + out))
 * heUniform:      W ~ U(-a, a),  a = g sqrt(3 / in)            (He et al. 2015, arXiv:1502.01852)
 * heNormal:       W ~ N(0, s²),  s = g / sqrt(in)
 * zeros:          W = 0
 * ```
 * Draws use Philox stream `stream` of `seed`.
 */
export function initLinear(weight: Float32Array, bias: Float32Array, outSize: number, inSize: number, init: LinearInit | undefined, seed: number, stream: number): void {
  const k = 'initLinear';
  const scheme = init?.scheme ?? 'orthogonal';
  if (!SCHEMES.includes(scheme)) {
    throw new RlcoreError('ERR_ARG', `${k}: scheme must be one of ${SCHEMES.join(', ')}; received ${JSON.stringify(scheme)}`);
  }
  const gain = checkNumber(k, 'gain', init?.gain, 0, 1e6, defaultGain(scheme));
  const b = checkNumber(k, 'bias', init?.bias, -1e6, 1e6, 0);
  const n = outSize * inSize;
  let w: Float64Array;
  switch (scheme) {
    case 'orthogonal':
      w = orthogonal(outSize, inSize, gain, seed, stream);
      break;
    case 'xavierUniform':
    case 'heUniform': {
      const a = scheme === 'xavierUniform' ? gain * Math.sqrt(6 / (inSize + outSize)) : gain * Math.sqrt(3 / inSize);
      w = randomUniform(n, seed, stream).map((u) => (2 * u - 1) * a);
      break;
    }
    case 'xavierNormal':
    case 'heNormal': {
      const s = scheme === 'xavierNormal' ? gain * Math.sqrt(2 / (inSize + outSize)) : gain / Math.sqrt(inSize);
      w = randomNormal(n, seed, stream).map((z) => z * s);
      break;
    }
    default:
      w = new Float64Array(n);
  }
  weight.set(w);
  bias.fill(b);
}
