import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RlcoreError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { Mlp } from '../../src/nn/mlp.js';
import { Adam, AdamW, Sgd, clipGradNorm, gradNorm, polyakUpdate } from '../../src/nn/optim.js';
import { adamRef, sgdRef } from '../reference/optim.js';
import { expectClose, randomF32, rng } from '../helpers.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RlcoreError) return e.code;
    return `not RlcoreError: ${String(e)}`;
  }
  return 'no error';
}

const sizeArb = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 300 }), fc.constant(70_000));

describe('Adam / AdamW', () => {
  it('match the reference over several steps with a per-step learning rate', () => {
    fc.assert(
      fc.property(
        sizeArb,
        fc.integer(),
        fc.boolean(),
        fc.double({ min: 0, max: 0.1, noNaN: true }),
        fc.constantFrom(0.9, 0.5, 0),
        fc.constantFrom(0.999, 0.9),
        (P, seed, decoupled, wd, beta1, beta2) => {
          const r = rng(seed);
          const params = randomF32(P, r), grads = new Float32Array(P);
          const opt = decoupled ? new AdamW({ params, grads }, { betas: [beta1, beta2], weightDecay: wd }) : new Adam({ params, grads }, { betas: [beta1, beta2], weightDecay: wd });
          const p = Float64Array.from(params), m = new Float64Array(P), v = new Float64Array(P);
          for (let t = 1; t <= 4; t++) {
            grads.set(randomF32(P, r));
            const lr = 1e-2 / t;
            opt.step(lr);
            adamRef(p, grads, m, v, t, { lr, beta1, beta2, eps: 1e-8, wd, decoupled });
          }
          expect(opt.stepCount).toBe(4);
          expectClose(params, p, 1e-5, 1e-5);
          expectClose(opt.m, m, 1e-5, 1e-6);
          expectClose(opt.v, v, 1e-5, 1e-7);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('agrees with a hand computation of the first step', () => {
    // t = 1: m̂ = g, v̂ = g², so θ -= lr * g / (|g| + eps) = lr * sign(g) (eps ≈ 0).
    const params = new Float32Array([1, 1]), grads = new Float32Array([0.5, -2]);
    new Adam({ params, grads }, { lr: 0.1, eps: 0 }).step();
    expectClose(params, [0.9, 1.1], 1e-6, 1e-7);
    // AdamW with zero gradient only decays: θ *= 1 - lr λ.
    const p2 = new Float32Array([2]), g2 = new Float32Array([0]);
    new AdamW({ params: p2, grads: g2 }, { lr: 0.5, weightDecay: 0.1 }).step();
    expectClose(p2, [2 * (1 - 0.05)], 1e-6, 1e-7);
  });

  it('async step equals sync step', async () => {
    const P = 100_000, r = rng(3);
    const a = randomF32(P, r), b = a.slice(), g = randomF32(P, r);
    const oa = new Adam({ params: a, grads: g }), ob = new Adam({ params: b, grads: g });
    oa.step(0.01);
    await ob.stepAsync(0.01);
    expect(ob.stepCount).toBe(1);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('rejects bad hyperparameters and arrays and writes nothing', () => {
    const params = new Float32Array([1, 2]), grads = new Float32Array([1, 1]);
    const opt = new Adam({ params, grads });
    expect(code(() => opt.step(Number.NaN))).toBe('ERR_RANGE');
    expect(code(() => opt.step(-1))).toBe('ERR_RANGE');
    expect(opt.stepCount).toBe(0);
    expect(Array.from(params)).toEqual([1, 2]);
    expect(code(() => new Adam({ params, grads: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(code(() => new Adam({ params, grads: params }))).toBe('ERR_ARG');
    expect(code(() => new Adam({ params, grads }, { betas: [1, 0.9] }))).toBe('ERR_RANGE');
    expect(code(() => new Adam({ params, grads }, { eps: -1 }))).toBe('ERR_RANGE');
    expect(code(() => new Adam({} as never))).toBe('ERR_ARG');
    const b = native();
    expect(code(() => b.nnAdam(params, grads, new Float32Array(2), new Float32Array(2), 0, 0.1, 0.9, 0.999, 1e-8, 0, false, false, false))).toBe('ERR_SHAPE');
    expect(code(() => b.nnAdam(params, grads, new Float32Array(2), new Float32Array(2), 1, Number.NaN, 0.9, 0.999, 1e-8, 0, false, false, false))).toBe('ERR_RANGE');
    expect(code(() => b.nnAdam(params, grads, params, new Float32Array(2), 1, 0.1, 0.9, 0.999, 1e-8, 0, false, false, false))).toBe('ERR_ARG');
    expect(code(() => b.nnAdam(params, grads, new Float32Array(1), new Float32Array(2), 1, 0.1, 0.9, 0.999, 1e-8, 0, false, false, false))).toBe('ERR_SHAPE');
    expect(code(() => b.nnAdam(params, grads, new Float32Array(2), new Float32Array(2), 1, 0.1, 0.9, 0.999, 1e-8, 0, false, true, false))).toBe('ERR_DEVICE');
    expect(Array.from(params)).toEqual([1, 2]);
  });
});

describe('Sgd', () => {
  it('matches the reference (plain, momentum, dampening, Nesterov, weight decay)', () => {
    fc.assert(
      fc.property(
        sizeArb,
        fc.integer(),
        fc.constantFrom(0, 0.9),
        fc.constantFrom(0, 0.1),
        fc.constantFrom(0, 1e-2),
        fc.boolean(),
        (P, seed, momentum, dampening, wd, nesterovWanted) => {
          const nesterov = nesterovWanted && momentum > 0 && dampening === 0;
          const r = rng(seed);
          const params = randomF32(P, r), grads = new Float32Array(P);
          const opt = new Sgd({ params, grads }, { lr: 0.1, momentum, dampening, weightDecay: wd, nesterov });
          const p = Float64Array.from(params), buf = new Float64Array(P);
          for (let t = 0; t < 3; t++) {
            grads.set(randomF32(P, r));
            opt.step(0.1 / (t + 1));
            sgdRef(p, grads, buf, t === 0, { lr: 0.1 / (t + 1), momentum, dampening, wd, nesterov });
          }
          expectClose(params, p, 1e-5, 1e-6);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects an invalid configuration', () => {
    const params = new Float32Array(2), grads = new Float32Array(2);
    expect(code(() => new Sgd({ params, grads }, { nesterov: true }))).toBe('ERR_ARG');
    expect(code(() => new Sgd({ params, grads }, { momentum: 2 }))).toBe('ERR_RANGE');
    expect(code(() => new Sgd({ params, grads }).step(Number.POSITIVE_INFINITY))).toBe('ERR_RANGE');
    expect(code(() => native().nnSgd(params, grads, undefined, 0.1, 0.9, 0, 0, false, true, false, false))).toBe('ERR_ARG');
  });
});

describe('gradient clipping and Polyak averaging', () => {
  it('clips to the global norm and returns the norm before clipping', () => {
    fc.assert(
      fc.property(sizeArb, fc.integer(), fc.double({ min: 0, max: 50, noNaN: true }), (P, seed, maxNorm) => {
        const g = randomF32(P, rng(seed));
        const want = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
        const before = Float64Array.from(g);
        const n = clipGradNorm({ grads: g, maxNorm });
        expect(n).toBeCloseTo(want, 6);
        const scale = want > maxNorm ? maxNorm / (want + 1e-6) : 1;
        expectClose(g, Array.from(before, (v) => v * scale), 1e-6, 1e-9);
        expect(gradNorm(g)).toBeLessThanOrEqual(Math.max(maxNorm, want) * (1 + 1e-6));
      }),
      { numRuns: 60 },
    );
  });

  it('leaves non-finite gradients alone and reports the norm', () => {
    const g = new Float32Array([1, Number.NaN, 2]);
    expect(Number.isNaN(clipGradNorm({ grads: g, maxNorm: 1 }))).toBe(true);
    expect(g[0]).toBe(1);
    expect(code(() => clipGradNorm({ grads: g, maxNorm: -1 }))).toBe('ERR_RANGE');
  });

  it('polyakUpdate blends parameter vectors; tau = 1 copies and tau = 0 keeps', () => {
    const r = rng(1), P = 100_003;
    const t = randomF32(P, r), s = randomF32(P, r), t0 = t.slice();
    polyakUpdate({ target: t, source: s, tau: 0 });
    expect(Array.from(t)).toEqual(Array.from(t0));
    polyakUpdate({ target: t, source: s, tau: 0.005 });
    expectClose(t, Array.from(t0, (v, i) => 0.995 * v + 0.005 * s[i]), 1e-6, 1e-7);
    polyakUpdate({ target: t, source: s, tau: 1 });
    expect(Array.from(t)).toEqual(Array.from(s));
    expect(code(() => polyakUpdate({ target: t, source: new Float32Array(3), tau: 0.5 }))).toBe('ERR_SHAPE');
    expect(code(() => polyakUpdate({ target: t, source: t, tau: 0.5 }))).toBe('ERR_ARG');
  });
});

describe('training determinism', () => {
  it('the same seed gives the same training trajectory', () => {
    const run = () => {
      const net = new Mlp({ inputSize: 5, hiddenSizes: [32, 32], outputSize: 2, seed: 11, layerNorm: true });
      const opt = new AdamW(net, { lr: 1e-2 });
      const r = rng(99);
      const losses: number[] = [];
      for (let step = 0; step < 20; step++) {
        const x = randomF32(64 * 5, r), target = randomF32(64 * 2, r);
        const y = net.forwardTrain(x);
        const dy = new Float32Array(y.length);
        let loss = 0;
        for (let i = 0; i < y.length; i++) (dy[i] = (2 * (y[i] - target[i])) / y.length), (loss += (y[i] - target[i]) ** 2 / y.length);
        losses.push(loss);
        net.zeroGrad();
        net.backward(dy);
        clipGradNorm({ grads: net.grads, maxNorm: 0.5 });
        opt.step(1e-2 * (1 - step / 20));
      }
      return { losses, params: Array.from(net.params) };
    };
    const a = run(), b = run();
    expect(a.losses).toEqual(b.losses);
    expect(a.params).toEqual(b.params);
    expect(a.losses[19]).toBeLessThan(a.losses[0]); // it learns something
  });
});
