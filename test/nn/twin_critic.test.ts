import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RlcoreError } from '../../src/errors.js';
import { setNumThreads } from '../../src/device.js';
import { Mlp } from '../../src/nn/mlp.js';
import { Adam } from '../../src/nn/optim.js';
import { TwinCritic } from '../../src/nn/twin_critic.js';
import { tdLoss } from '../../src/losses/td.js';
import { randomF32, rng } from '../helpers.js';

// Two identical pairs of critics (same seeds): one driven fused, one through the single calls.
function pairs(I: number, hidden: number[], seed: number) {
  const make = (s: number) => new Mlp({ inputSize: I, hiddenSizes: hidden, outputSize: 1, activation: 'relu', seed: s });
  const f = [make(seed), make(seed + 1)], p = [make(seed), make(seed + 1)];
  const opts = (n: Mlp[]) => n.map((q, i) => new Adam(q, { lr: 1e-3 * (i + 1), weightDecay: i ? 0.01 : 0 }));
  return { f, p, fo: opts(f), po: opts(p) };
}

const setupArb = fc.record({
  B: fc.integer({ min: 1, max: 70 }),
  I: fc.integer({ min: 1, max: 9 }),
  hidden: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 0, maxLength: 2 }),
  seed: fc.integer({ min: 0, max: 1000 }),
  steps: fc.integer({ min: 1, max: 3 }),
  threads: fc.constantFrom(1, 2),
});

describe('TwinCritic', () => {
  it('forward, train and inputGrad equal the one-by-one calls bit for bit (random shapes, 1 or 2 threads)', () => {
    fc.assert(
      fc.property(setupArb, ({ B, I, hidden, seed, steps, threads }) => {
        setNumThreads(threads);
        try {
          const rand = rng(seed);
          const { f, p, fo, po } = pairs(I, hidden, seed);
          const twin = new TwinCritic({ q1: f[0], q2: f[1], q1Optimizer: fo[0], q2Optimizer: fo[1] });
          const o1 = new Float32Array(B), o2 = new Float32Array(B), g1 = new Float32Array(B), g2 = new Float32Array(B);
          for (let s = 0; s < steps; s++) {
            const x = randomF32(B * I, rand), y = randomF32(B, rand, 3);
            // Ties on some rows: min picks Q1 there.
            twin.forward(x, o1, o2);
            expect(o1).toEqual(p[0].forward(x));
            expect(o2).toEqual(p[1].forward(x));
            const st = twin.train(x, y, o1, o2, g1, g2);
            for (let i = 0; i < 2; i++) {
              const q = p[i].forwardTrain(x);
              expect(i ? o2 : o1).toEqual(q);
              const td = tdLoss({ shape: [B, 1], q, targets: y });
              expect(i ? st.loss2 : st.loss1).toBe(td.loss);
              expect(i ? g2 : g1).toEqual(td.grad);
              p[i].zeroGrad();
              p[i].backward(td.grad);
              po[i].step();
              expect(f[i].params).toEqual(p[i].params);
              expect(f[i].grads).toEqual(p[i].grads);
              expect(fo[i].m).toEqual(po[i].m);
              expect(fo[i].v).toEqual(po[i].v);
              expect(fo[i].stepCount).toBe(po[i].stepCount);
            }
            const gx1 = new Float32Array(B * I), gx2 = new Float32Array(B * I);
            twin.inputGrad(x, o1, o2, g1, g2, gx1, gx2);
            const q1 = Float32Array.from(p[0].forwardTrain(x)), q2 = p[1].forwardTrain(x);
            expect(o1).toEqual(q1);
            expect(o2).toEqual(q2);
            for (const [i, gx] of [[0, gx1], [1, gx2]] as const) {
              const mask = Float32Array.from(q1, (a, b) => ((a <= q2[b]) === (i === 0) ? 1 : 0));
              expect(i ? g2 : g1).toEqual(mask);
              const before = Float32Array.from(p[i].grads);
              expect(gx).toEqual(p[i].backward(mask, new Float32Array(B * I), false));
              expect(p[i].grads).toEqual(before);
            }
          }
        } finally {
          setNumThreads(2);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('matches at SAC sizes too (4 → 256 → 256 → 1, B = 256), where the single calls split their GEMMs over the pool', () => {
    const B = 256, I = 4, rand = rng(7);
    const { f, p, fo, po } = pairs(I, [256, 256], 11);
    const twin = new TwinCritic({ q1: f[0], q2: f[1], q1Optimizer: fo[0], q2Optimizer: fo[1] });
    const o1 = new Float32Array(B), o2 = new Float32Array(B), g1 = new Float32Array(B), g2 = new Float32Array(B);
    const x = randomF32(B * I, rand), y = randomF32(B, rand, 3);
    twin.train(x, y, o1, o2, g1, g2);
    for (let i = 0; i < 2; i++) {
      const td = tdLoss({ shape: [B, 1], q: p[i].forwardTrain(x), targets: y });
      p[i].zeroGrad();
      p[i].backward(td.grad);
      po[i].step();
      expect(f[i].params).toEqual(p[i].params);
    }
    const gx1 = new Float32Array(B * I), gx2 = new Float32Array(B * I);
    twin.inputGrad(x, o1, o2, g1, g2, gx1, gx2);
    const q1 = Float32Array.from(p[0].forwardTrain(x)), q2 = p[1].forwardTrain(x);
    expect(gx1).toEqual(p[0].backward(Float32Array.from(q1, (a, b) => (a <= q2[b] ? 1 : 0)), new Float32Array(B * I), false));
    expect(gx2).toEqual(p[1].backward(Float32Array.from(q1, (a, b) => (a <= q2[b] ? 0 : 1)), new Float32Array(B * I), false));
  });

  it('rejects the same network twice, wrong shapes and missing optimisers', () => {
    const q = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 1, seed: 1 });
    const q2 = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 1, seed: 2 });
    const wide = new Mlp({ inputSize: 3, hiddenSizes: [4], outputSize: 2, seed: 3 });
    expect(() => new TwinCritic({ q1: q, q2: q })).toThrow(RlcoreError);
    expect(() => new TwinCritic({ q1: q, q2: wide })).toThrow(/1 output/);
    expect(() => new TwinCritic({ q1: q, q2: q2, q1Optimizer: new Adam(q2) })).toThrow(/same params/);
    const t = new TwinCritic({ q1: q, q2: q2 });
    const b = new Float32Array(2);
    expect(() => t.train(new Float32Array(6), b, new Float32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(2))).toThrow(/q1Optimizer/);
    expect(() => t.forward(new Float32Array(5), b, new Float32Array(2))).toThrow(/\[B, 3\]/);
    expect(() => t.forward(new Float32Array(6), b, new Float32Array(3))).toThrow(RlcoreError);
    const x = new Float32Array(6);
    expect(() => t.forward(x, x.subarray(0, 2), new Float32Array(2))).toThrow(RlcoreError); // output aliases x
  });
});
