import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RlcoreError } from '../../src/errors.js';
import { setNumThreads } from '../../src/device.js';
import { native } from '../../src/native.js';
import { Mlp, Sequential, type LayerSpec } from '../../src/nn/mlp.js';
import { refBackward, refForward, refLoss, refNumParams, type RefLayer } from '../reference/mlp.js';
import { expectClose, randomF32, rng } from '../helpers.js';

const layerArb: fc.Arbitrary<RefLayer> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 40 }).map((size) => ({ type: 'linear' as const, size })) },
  { weight: 1, arbitrary: fc.constant({ type: 'tanh' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'relu' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'layerNorm' as const }) },
);
const netArb = fc.record({
  inputSize: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 30 })),
  layers: fc.array(layerArb, { minLength: 1, maxLength: 6 }),
  batch: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 80 })),
  seed: fc.integer({ min: 0, max: 1000 }),
});

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RlcoreError) return e.code;
    return `not RlcoreError: ${String(e)}`;
  }
  return 'no error';
}

/** Randomises LayerNorm affine parameters too (they start at 1 / 0). */
function randomised(net: Sequential, seed: number): Sequential {
  const r = rng(seed);
  for (let i = 0; i < net.params.length; i++) net.params[i] = (r() * 2 - 1) * 0.7;
  return net;
}

describe('Sequential forward/backward', () => {
  it('matches the float64 reference on random architectures, shapes and batches', () => {
    fc.assert(
      fc.property(netArb, ({ inputSize, layers, batch, seed }) => {
        const net = randomised(new Sequential({ inputSize, layers: layers as LayerSpec[], seed }), seed);
        const ref = { inputSize, layers, eps: 1e-5 };
        expect(net.params.length).toBe(refNumParams(ref));
        const r = rng(seed + 1);
        const x = randomF32(batch * inputSize, r, 2);
        const dy = randomF32(batch * net.outputSize, r);
        const want = refForward(ref, net.params, x, batch);
        const inf = net.forward(x);
        const train = net.forwardTrain(x);
        expectClose(inf, want.y, 1e-4, 1e-4);
        expect(Array.from(train)).toEqual(Array.from(inf));
        const dx = net.backward(dy, new Float32Array(batch * inputSize))!;
        const g = refBackward(ref, net.params, want.tape, dy, batch);
        expectClose(net.grads, g.grads, 1e-3, 2e-4 * batch);
        expectClose(dx, g.dx, 1e-3, 2e-4);
      }),
      { numRuns: 120 },
    );
  });

  it('uses the threaded packed GEMM at large batches (64-64 and 256-256 hidden)', () => {
    for (const [inp, h, out, B] of [[8, 64, 3, 2048], [37, 256, 17, 600]] as const) {
      const layers: RefLayer[] = [{ type: 'linear', size: h }, { type: 'tanh' }, { type: 'linear', size: h }, { type: 'relu' }, { type: 'linear', size: out }];
      const net = new Sequential({ inputSize: inp, layers, seed: 3 });
      const r = rng(B);
      const x = randomF32(B * inp, r), dy = randomF32(B * out, r);
      const ref = { inputSize: inp, layers, eps: 1e-5 };
      const want = refForward(ref, net.params, x, B);
      expectClose(net.forwardTrain(x), want.y, 1e-4, 1e-4);
      const dx = net.backward(dy, new Float32Array(B * inp))!;
      const g = refBackward(ref, net.params, want.tape, dy, B);
      expectClose(net.grads, g.grads, 1e-3, 1e-3);
      expectClose(dx, g.dx, 1e-3, 1e-4);
    }
  });

  it('handles batch 65 536 in inference mode', () => {
    const layers: RefLayer[] = [{ type: 'linear', size: 64 }, { type: 'tanh' }, { type: 'linear', size: 64 }, { type: 'tanh' }, { type: 'linear', size: 2 }];
    const net = new Sequential({ inputSize: 4, layers, seed: 4 });
    const B = 65_536, x = randomF32(B * 4, rng(6));
    const y = net.forward(x);
    const ref = { inputSize: 4, layers, eps: 1e-5 };
    for (const row of [0, 1, 31_337, B - 1]) {
      const want = refForward(ref, net.params, x.subarray(row * 4, row * 4 + 4), 1).y;
      expectClose(y.subarray(row * 2, row * 2 + 2), want, 1e-4, 1e-5);
    }
  });

  it('agrees with a hand computation', () => {
    // 2 -> Linear(1) -> ReLU; W = [1, -2], b = 0.5; x = [3, 1]: y = relu(3 - 2 + 0.5) = 1.5.
    const net = new Sequential({ inputSize: 2, layers: [{ type: 'linear', size: 1 }, { type: 'relu' }] });
    net.params.set([1, -2, 0.5]);
    expect(Array.from(net.forwardTrain(new Float32Array([3, 1])))).toEqual([1.5]);
    const dx = net.backward(new Float32Array([2]), new Float32Array(2))!;
    // dW = 2 * x = [6, 2], db = 2, dx = 2 * W = [2, -4].
    expect(Array.from(net.grads)).toEqual([6, 2, 2]);
    expect(Array.from(dx)).toEqual([2, -4]);
    // Negative pre-activation: no gradient flows.
    net.zeroGrad();
    net.forwardTrain(new Float32Array([0, 1]));
    net.backward(new Float32Array([2]));
    expect(Array.from(net.grads)).toEqual([0, 0, 0]);
  });

  it('accumulates parameter gradients and can skip them (input gradient only)', () => {
    const net = randomised(new Mlp({ inputSize: 5, hiddenSizes: [7, 6], outputSize: 2, layerNorm: true }), 9);
    const r = rng(4);
    const x = randomF32(3 * 5, r), dy = randomF32(3 * 2, r);
    net.forwardTrain(x);
    net.backward(dy);
    const once = net.grads.slice();
    net.backward(dy);
    expectClose(net.grads, Array.from(once, (v) => 2 * v), 1e-6, 1e-7);
    const before = net.grads.slice();
    const dx = net.backward(dy, new Float32Array(15), false)!;
    expect(Array.from(net.grads)).toEqual(Array.from(before));
    expect(dx.some((v) => v !== 0)).toBe(true);
  });

  it('gives results independent of the thread count', () => {
    const net = new Mlp({ inputSize: 11, hiddenSizes: [256, 256], outputSize: 5, seed: 2 });
    const B = 1024, r = rng(8);
    const x = randomF32(B * 11, r), dy = randomF32(B * 5, r);
    const y2 = net.forwardTrain(x).slice();
    net.backward(dy);
    const g2 = net.grads.slice();
    setNumThreads(1);
    try {
      net.zeroGrad();
      expect(Array.from(net.forwardTrain(x))).toEqual(Array.from(y2));
      net.backward(dy);
      expect(Array.from(net.grads)).toEqual(Array.from(g2));
    } finally {
      setNumThreads(2);
    }
  });

  it('writes into caller outputs, and the async variants agree with the sync ones', async () => {
    const net = new Mlp({ inputSize: 4, hiddenSizes: [16], outputSize: 3, seed: 5 });
    const x = randomF32(20 * 4, rng(1)), out = new Float32Array(60);
    expect(net.forward(x, out)).toBe(out);
    const a = await net.forwardAsync(x);
    expect(Array.from(a)).toEqual(Array.from(out));
    await net.forwardTrainAsync(x);
    const dy = randomF32(60, rng(2));
    const gi = await net.backwardAsync(dy, new Float32Array(80));
    const g1 = net.grads.slice();
    net.zeroGrad();
    net.forwardTrain(x);
    const gi2 = net.backward(dy, new Float32Array(80))!;
    expect(Array.from(net.grads)).toEqual(Array.from(g1));
    expect(Array.from(gi!)).toEqual(Array.from(gi2));
  });

  it('rejects a call while an async one is pending', async () => {
    const net = new Mlp({ inputSize: 64, hiddenSizes: [256, 256], outputSize: 4 });
    const x = new Float32Array(4096 * 64);
    const pending = net.forwardAsync(x);
    // The pending pass takes milliseconds; this call comes microseconds after it started.
    const c = code(() => net.forward(new Float32Array(64)));
    await pending;
    expect(c).toBe('ERR_ARG');
    expect(net.forward(new Float32Array(64)).length).toBe(4);
  });

  it('identity network (no layers) and lone activations', () => {
    const id = new Sequential({ inputSize: 3, layers: [] });
    const x = new Float32Array([1, -2, 3]);
    expect(Array.from(id.forward(x))).toEqual([1, -2, 3]);
    const act = new Sequential({ inputSize: 3, layers: [{ type: 'relu' }, { type: 'tanh' }] });
    expectClose(act.forward(x), [Math.tanh(1), 0, Math.tanh(3)], 1e-6, 1e-7);
  });

  it('rejects bad input with typed errors and writes nothing', () => {
    const net = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 2 });
    const out = new Float32Array(4).fill(7);
    expect(code(() => net.forward(new Float32Array(5)))).toBe('ERR_SHAPE');
    expect(code(() => net.forward(new Float64Array(3) as unknown as Float32Array))).toBe('ERR_DTYPE');
    expect(code(() => net.forward(new Float32Array(3), out))).toBe('ERR_SHAPE');
    expect(Array.from(out)).toEqual([7, 7, 7, 7]);
    expect(code(() => net.backward(new Float32Array(2)))).toBe('ERR_ARG'); // no training forward yet
    net.forwardTrain(new Float32Array(6));
    expect(code(() => net.backward(new Float32Array(6)))).toBe('ERR_ARG'); // batch 3 != 2
    expect(code(() => net.backward(new Float32Array(4), new Float32Array(5)))).toBe('ERR_SHAPE');
    expect(code(() => new Sequential({ inputSize: 0, layers: [] }))).toBe('ERR_SHAPE');
    expect(code(() => new Sequential({ inputSize: 2, layers: [{ type: 'conv' } as unknown as LayerSpec] }))).toBe('ERR_ARG');
    expect(code(() => new Sequential({ inputSize: 2, layers: [{ type: 'linear', size: 1.5 }] }))).toBe('ERR_SHAPE');
    expect(code(() => new Sequential({ inputSize: 2, layers: [], seed: -1 }))).toBe('ERR_RANGE');
    expect(code(() => new Mlp({ inputSize: 2, hiddenSizes: [3], outputSize: 1, activation: 'gelu' as 'tanh' }))).toBe('ERR_ARG');
    expect(code(() => new Mlp({ inputSize: 2, hiddenSizes: [3], outputSize: 1, device: 'tpu' as 'cpu' }))).toBe('ERR_DEVICE');
    const other = new Mlp({ inputSize: 3, hiddenSizes: [5], outputSize: 2 });
    expect(code(() => net.copyFrom(other))).toBe('ERR_SHAPE');
    expect(code(() => net.polyakFrom(net.clone(), Number.NaN))).toBe('ERR_RANGE');
  });

  it('guards the raw binding against garbage', () => {
    const b = native();
    const net = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 2 });
    const h = (net as unknown as { handle: unknown }).handle;
    const p = net.params, x = new Float32Array(3), o = new Float32Array(2);
    expect(code(() => b.nnMlpForward({}, p, x, o, 1, false, false, false))).toBe('ERR_ARG');
    expect(code(() => b.nnMlpForward(undefined, p, x, o, 1, false, false, false))).toBe('ERR_ARG');
    expect(code(() => b.nnMlpForward(h, new Float32Array(3), x, o, 1, false, false, false))).toBe('ERR_SHAPE');
    expect(code(() => b.nnMlpForward(h, p, x, o, 0, false, false, false))).toBe('ERR_SHAPE');
    expect(code(() => b.nnMlpForward(h, p, x, o, 'x', false, false, false))).toBe('ERR_ARG');
    expect(code(() => b.nnMlpForward(h, p, [1, 2, 3], o, 1, false, false, false))).toBe('ERR_DTYPE');
    expect(code(() => b.nnMlpForward(h, p, x, p.subarray(0, 2), 1, false, false, false))).toBe('ERR_ARG'); // aliasing
    expect(code(() => b.nnMlpForward(h, p, x, o, 1, false, true, false))).toBe('ERR_DEVICE');
    expect(code(() => b.nnMlpBackward(h, p, p, o, undefined, 1, false, false))).toBe('ERR_ARG');
    expect(code(() => b.nnMlpCreate(3, new Int32Array([7]), new Int32Array([1]), 1e-5, false, false))).toBe('ERR_RANGE');
    expect(code(() => b.nnMlpCreate(3, new Int32Array([0]), new Int32Array([0]), 1e-5, false, false))).toBe('ERR_RANGE');
    expect(code(() => b.nnMlpCreate(3, new Int32Array([0]), new Int32Array([1, 2]), 1e-5, false, false))).toBe('ERR_SHAPE');
    expect(code(() => b.nnMlpCreate(3, new Int32Array([0]), new Int32Array([1]), Number.NaN, false, false))).toBe('ERR_RANGE');
    expect(code(() => b.nnMlpInfo(42))).toBe('ERR_ARG');
  });

  it('copies, clones and Polyak-averages parameters', () => {
    const a = new Mlp({ inputSize: 3, hiddenSizes: [8], outputSize: 2, seed: 1 });
    const b = new Mlp({ inputSize: 3, hiddenSizes: [8], outputSize: 2, seed: 2 });
    const t = b.clone();
    expect(Array.from(t.params)).toEqual(Array.from(b.params));
    const x = randomF32(6, rng(3));
    expect(Array.from(t.forward(x))).toEqual(Array.from(b.forward(x)));
    const before = t.params.slice();
    t.polyakFrom(a, 0.25);
    expectClose(t.params, Array.from(before, (v, i) => 0.75 * v + 0.25 * a.params[i]), 1e-6, 1e-7);
    t.polyakFrom(a, 1);
    expect(Array.from(t.params)).toEqual(Array.from(a.params));
    t.copyFrom(b);
    expect(Array.from(t.params)).toEqual(Array.from(b.params));
  });
});

describe('gradient checks', () => {
  it('the float64 reference agrees with central differences for every layer type', () => {
    fc.assert(
      fc.property(netArb, ({ inputSize, layers, batch, seed }) => {
        const B = Math.min(batch, 4);
        const ref = { inputSize, layers, eps: 1e-5 };
        const r = rng(seed);
        const P = refNumParams(ref);
        const params = Float64Array.from({ length: P }, () => r() * 2 - 1);
        const x = Float64Array.from({ length: B * inputSize }, () => r() * 4 - 2);
        const { y, tape } = refForward(ref, params, x, B);
        const w = Float64Array.from({ length: y.length }, () => r() * 2 - 1);
        const g = refBackward(ref, params, tape, w, B);
        const h = 1e-6;
        const check = (arr: Float64Array, analytic: Float64Array, i: number) => {
          const v = arr[i];
          arr[i] = v + h;
          const lp = refLoss(ref, params, x, B, w);
          arr[i] = v - h;
          const lm = refLoss(ref, params, x, B, w);
          arr[i] = v;
          const fd = (lp - lm) / (2 * h);
          // ReLU kinks: skip points within h of a kink (the one-sided slopes differ there).
          if (Math.abs(fd - analytic[i]) > 1e-5 * (1 + Math.abs(fd))) {
            const nearKink = tape.inputs.some((a, li) => layers[li].type === 'relu' && a.some((z) => Math.abs(z) < 1e-4));
            if (!nearKink) expect.fail(`index ${i}: finite difference ${fd}, analytic ${analytic[i]}`);
          }
        };
        for (let i = 0; i < Math.min(P, 40); i++) check(params, g.grads, (i * 7919) % P);
        for (let i = 0; i < Math.min(x.length, 20); i++) check(x, g.dx, i);
      }),
      { numRuns: 80 },
    );
  });

  it('the native float32 kernels agree with central differences of their own forward', () => {
    for (const layers of [
      [{ type: 'linear', size: 6 }, { type: 'tanh' }, { type: 'linear', size: 3 }],
      [{ type: 'linear', size: 5 }, { type: 'layerNorm' }, { type: 'tanh' }, { type: 'linear', size: 2 }],
      [{ type: 'layerNorm' }, { type: 'linear', size: 4 }],
    ] as LayerSpec[][]) {
      const inputSize = 4, B = 3;
      const net = randomised(new Sequential({ inputSize, layers, seed: 1 }), 21);
      const r = rng(5);
      const x = randomF32(B * inputSize, r), w = randomF32(B * net.outputSize, r);
      const loss = () => net.forward(x).reduce((s, v, i) => s + v * w[i], 0);
      net.zeroGrad();
      net.forwardTrain(x);
      const dx = net.backward(w, new Float32Array(x.length))!;
      const h = 1e-2;
      const fd = (arr: Float32Array, i: number) => {
        const v = arr[i];
        arr[i] = v + h;
        const lp = loss();
        arr[i] = v - h;
        const lm = loss();
        arr[i] = v;
        return (lp - lm) / (2 * h);
      };
      for (let i = 0; i < net.params.length; i++) expect(Math.abs(fd(net.params, i) - net.grads[i])).toBeLessThan(2e-3 * (1 + Math.abs(net.grads[i])));
      for (let i = 0; i < x.length; i++) expect(Math.abs(fd(x, i) - dx[i])).toBeLessThan(2e-3 * (1 + Math.abs(dx[i])));
    }
  });
});

describe('initialisation', () => {
  it('the same seed gives the same weights; another seed gives others', () => {
    const a = new Mlp({ inputSize: 6, hiddenSizes: [32, 32], outputSize: 3, seed: 42 });
    const b = new Mlp({ inputSize: 6, hiddenSizes: [32, 32], outputSize: 3, seed: 42 });
    const c = new Mlp({ inputSize: 6, hiddenSizes: [32, 32], outputSize: 3, seed: 43 });
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(Array.from(a.params)).not.toEqual(Array.from(c.params));
  });

  it('orthogonal weights have orthonormal rows or columns times the gain, and zero bias', () => {
    for (const [out, inp, gain] of [[64, 4, Math.SQRT2], [2, 64, 0.01], [17, 17, 1]] as const) {
      const net = new Sequential({ inputSize: inp, layers: [{ type: 'linear', size: out, init: { gain } }], seed: out });
      const W = net.param('0.weight');
      const rowsOrth = out <= inp; // W Wᵀ = g² I, else Wᵀ W = g² I
      const n = rowsOrth ? out : inp;
      for (let a = 0; a < n; a++)
        for (let b = 0; b < n; b++) {
          let s = 0;
          if (rowsOrth) for (let k = 0; k < inp; k++) s += W[a * inp + k] * W[b * inp + k];
          else for (let k = 0; k < out; k++) s += W[k * inp + a] * W[k * inp + b];
          expect(Math.abs(s - (a === b ? gain * gain : 0))).toBeLessThan(1e-5 * Math.max(1, gain * gain));
        }
      expect(Array.from(net.param('0.bias')).every((v) => v === 0)).toBe(true);
    }
  });

  it('Xavier and He draws have the stated bounds and variances', () => {
    const inp = 200, out = 300, n = inp * out;
    const stats = (scheme: 'xavierUniform' | 'xavierNormal' | 'heUniform' | 'heNormal') => {
      const net = new Sequential({ inputSize: inp, layers: [{ type: 'linear', size: out, init: { scheme, bias: 0.5 } }], seed: 7 });
      const W = net.param('0.weight');
      let s = 0, ss = 0, max = 0;
      for (const v of W) (s += v), (ss += v * v), (max = Math.max(max, Math.abs(v)));
      expect(Array.from(net.param('0.bias')).every((v) => v === 0.5)).toBe(true);
      return { mean: s / n, std: Math.sqrt(ss / n), max };
    };
    const xu = stats('xavierUniform'), xa = Math.sqrt(6 / (inp + out));
    expect(xu.max).toBeLessThanOrEqual(xa);
    expect(xu.std).toBeCloseTo(xa / Math.sqrt(3), 2);
    expect(stats('xavierNormal').std).toBeCloseTo(Math.sqrt(2 / (inp + out)), 2);
    const hu = stats('heUniform'), ha = Math.SQRT2 * Math.sqrt(3 / inp);
    expect(hu.max).toBeLessThanOrEqual(ha);
    expect(hu.std).toBeCloseTo(ha / Math.sqrt(3), 2);
    const hn = stats('heNormal');
    expect(hn.std).toBeCloseTo(Math.SQRT2 / Math.sqrt(inp), 2);
    expect(Math.abs(hn.mean)).toBeLessThan(0.01);
  });
});
