import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setNumThreads } from '../../src/device.js';
import {
  categoricalBackward,
  categoricalBackwardAsync,
  categoricalLogProb,
  categoricalLogProbAsync,
  categoricalSample,
  categoricalSampleAsync,
} from '../../src/dist/categorical.js';
import { native } from '../../src/native.js';
import { RlcoreError } from '../../src/errors.js';
import { categoricalRef } from '../reference/dist.js';
import { expectClose, randomF32, rng } from '../helpers.js';
import { errorCode, expectGradient, randomInts } from './util.js';

const dimsArb = fc.tuple(
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 80 })),
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 24 })),
);

/** A random mask with at least one legal action per row, and legal actions drawn under it. */
function maskAndActions(B: number, A: number, rand: () => number, pLegal: number) {
  const mask = new Uint8Array(B * A);
  const actions = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < A; j++) mask[b * A + j] = rand() < pLegal ? 1 : 0;
    mask[b * A + Math.floor(rand() * A)] = 1;
    const legal = [...Array(A).keys()].filter((j) => mask[b * A + j]);
    actions[b] = legal[Math.floor(rand() * legal.length)];
  }
  return { mask, actions };
}

describe('categorical', () => {
  it('log-prob, entropy and backward match the float64 reference on random shapes', () => {
    fc.assert(
      fc.property(dimsArb, fc.integer(), fc.constantFrom('none', 'some', 'all'), fc.constantFrom('none', 'scalar', 'array'), ([B, A], seed, maskKind, gradKind) => {
        const rand = rng(seed);
        const logits = randomF32(B * A, rand, 5);
        const ma = maskAndActions(B, A, rand, maskKind === 'all' ? 1 : 0.5);
        const mask = maskKind === 'none' ? undefined : ma.mask;
        const actions = mask ? ma.actions : randomInts(B, A, rand);
        const gradLogProb = gradKind === 'none' ? undefined : gradKind === 'scalar' ? Math.fround(rand() - 0.5) : randomF32(B, rand);
        const gradEntropy = gradKind === 'array' ? randomF32(B, rand) : gradKind === 'scalar' ? Math.fround(-0.01) : undefined;
        const want = categoricalRef({ B, A, logits, mask, actions, gradLogProb, gradEntropy });
        const fwd = categoricalLogProb({ shape: [B, A], logits, mask, actions });
        expectClose(fwd.logProb, want.logProb, 1e-5, 1e-5);
        expectClose(fwd.entropy, want.entropy, 1e-5, 1e-5);
        const out = { logProb: new Float32Array(B), entropy: new Float32Array(B) };
        const bwd = categoricalBackward({ shape: [B, A], logits, mask, actions, gradLogProb, gradEntropy, out });
        expectClose(bwd.gradLogits, want.gradLogits, 1e-5, 1e-6);
        expect(Array.from(bwd.logProb!)).toEqual(Array.from(fwd.logProb));
        expect(Array.from(bwd.entropy!)).toEqual(Array.from(fwd.entropy));
      }),
      { numRuns: 120 },
    );
  });

  it('reference gradients agree with finite differences in float64', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 7 }), fc.integer(), fc.boolean(), (B, A, seed, masked) => {
        const rand = rng(seed);
        const logits = Array.from(randomF32(B * A, rand, 3), Number);
        const ma = maskAndActions(B, A, rand, 0.6);
        const mask = masked ? ma.mask : undefined;
        const actions = masked ? ma.actions : randomInts(B, A, rand);
        const gl = Array.from(randomF32(B, rand), Number), gh = Array.from(randomF32(B, rand), Number);
        const loss = () => {
          const r = categoricalRef({ B, A, logits, mask, actions });
          let s = 0;
          for (let b = 0; b < B; b++) s += gl[b] * r.logProb[b] + gh[b] * r.entropy[b];
          return s;
        };
        expectGradient(loss, logits, categoricalRef({ B, A, logits, mask, actions, gradLogProb: gl, gradEntropy: gh }).gradLogits);
      }),
      { numRuns: 60 },
    );
  });

  it('agrees with a hand computation and is stable for huge logits', () => {
    // π = [1/4, 3/4]: log π(1) = log 0.75, H = −(¼ log ¼ + ¾ log ¾).
    const r = categoricalLogProb({ shape: [1, 2], logits: new Float32Array([0, Math.log(3)]), actions: new Int32Array([1]) });
    expect(r.logProb[0]).toBeCloseTo(Math.log(0.75), 6);
    expect(r.entropy[0]).toBeCloseTo(-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), 6);
    const big = categoricalLogProb({ shape: [1, 3], logits: new Float32Array([1e4, 1e4 - 1, -1e4]), actions: new Int32Array([2]) });
    expect(big.logProb[0]).toBeCloseTo(-2e4 - Math.log(1 + Math.exp(-1)), 0);
    expect(Number.isFinite(big.entropy[0])).toBe(true);
  });

  it('masked actions get zero probability and are never sampled', () => {
    const B = 2000, A = 5, rand = rng(3);
    const logits = randomF32(B * A, rand, 2);
    const { mask } = maskAndActions(B, A, rand, 0.4);
    const s = categoricalSample({ shape: [B, A], logits, mask, seed: 9 });
    for (let b = 0; b < B; b++) expect(mask[b * A + s.actions[b]]).toBe(1);
    // Masking equals a logit of −∞: compare with the reference using −1e30 logits on illegal moves.
    const shifted = Float32Array.from(logits, (v, i) => (mask[i] ? v : -1e30));
    const plain = categoricalLogProb({ shape: [B, A], logits: shifted, actions: s.actions });
    expectClose(s.logProb, plain.logProb, 1e-6, 1e-6);
    expectClose(s.entropy, plain.entropy, 1e-6, 1e-6);
    const g = categoricalBackward({ shape: [B, A], logits, mask, actions: s.actions, gradLogProb: 1, gradEntropy: 1 });
    for (let i = 0; i < B * A; i++) if (!mask[i]) expect(g.gradLogits[i]).toBe(0);
  });

  it('sampling: same seed gives the same samples; frequencies match π', () => {
    const B = 40_000, A = 4;
    const row = [0.5, -1, 2, 0];
    const logits = Float32Array.from({ length: B * A }, (_, i) => row[i % A]);
    const a1 = categoricalSample({ shape: [B, A], logits, seed: 123 });
    const a2 = categoricalSample({ shape: [B, A], logits, seed: 123 });
    const a3 = categoricalSample({ shape: [B, A], logits, seed: 124 });
    expect(Array.from(a1.actions)).toEqual(Array.from(a2.actions));
    expect(Array.from(a1.actions)).not.toEqual(Array.from(a3.actions));
    const z = row.reduce((s, v) => s + Math.exp(v), 0);
    for (let j = 0; j < A; j++) {
      const p = Math.exp(row[j]) / z;
      const count = a1.actions.filter((a) => a === j).length;
      expect(Math.abs(count - B * p)).toBeLessThan(5 * Math.sqrt(B * p * (1 - p)));
    }
  });

  it('is identical with 1 thread and with the pool', () => {
    const B = 50_000, A = 6, rand = rng(8);
    const logits = randomF32(B * A, rand, 3);
    const pooled = categoricalSample({ shape: [B, A], logits, seed: 5 });
    const gp = categoricalBackward({ shape: [B, A], logits, actions: pooled.actions, gradLogProb: 0.5, gradEntropy: 0.1 });
    setNumThreads(1);
    try {
      const single = categoricalSample({ shape: [B, A], logits, seed: 5 });
      expect(Array.from(single.actions)).toEqual(Array.from(pooled.actions));
      const gs = categoricalBackward({ shape: [B, A], logits, actions: pooled.actions, gradLogProb: 0.5, gradEntropy: 0.1 });
      expect(Array.from(gs.gradLogits)).toEqual(Array.from(gp.gradLogits));
    } finally {
      setNumThreads(2);
    }
  });

  it('async variants give the same results; outputs are used in place', async () => {
    const B = 30, A = 7, rand = rng(2);
    const logits = randomF32(B * A, rand);
    const actions = randomInts(B, A, rand);
    const out = { logProb: new Float32Array(B), entropy: new Float32Array(B) };
    const s = categoricalLogProb({ shape: [B, A], logits, actions, out });
    expect(s.logProb).toBe(out.logProb);
    const a = await categoricalLogProbAsync({ shape: [B, A], logits, actions });
    expect(Array.from(a.logProb)).toEqual(Array.from(out.logProb));
    const s1 = categoricalSample({ shape: [B, A], logits, seed: 1 });
    const s2 = await categoricalSampleAsync({ shape: [B, A], logits, seed: 1 });
    expect(Array.from(s2.actions)).toEqual(Array.from(s1.actions));
    const g1 = categoricalBackward({ shape: [B, A], logits, actions, gradLogProb: 1 });
    const g2 = await categoricalBackwardAsync({ shape: [B, A], logits, actions, gradLogProb: 1 });
    expect(Array.from(g2.gradLogits)).toEqual(Array.from(g1.gradLogits));
    // An async call reads its own copy of the actions: changed while it runs, read in place,
    // they could take it out of bounds.
    const many = 100_000, bigLogits = randomF32(many * A, rand), bigActions = randomInts(many, A, rand);
    const want = categoricalLogProb({ shape: [many, A], logits: bigLogits, actions: bigActions });
    const pending = categoricalLogProbAsync({ shape: [many, A], logits: bigLogits, actions: bigActions });
    bigActions.fill(0);
    expect(Array.from((await pending).logProb)).toEqual(Array.from(want.logProb));
  });

  it('rejects bad input with typed errors and writes nothing', () => {
    const B = 3, A = 4;
    const logits = new Float32Array(B * A);
    const actions = new Int32Array([0, 1, 2]);
    const base = { shape: [B, A] as [number, number], logits, actions };
    const out = { logProb: new Float32Array(B).fill(7), entropy: new Float32Array(B).fill(7) };
    expect(errorCode(() => categoricalLogProb({ ...base, actions: new Int32Array([0, 4, 1]), out }))).toBe('ERR_RANGE');
    expect(errorCode(() => categoricalLogProb({ ...base, actions: new Int32Array([0, -1, 1]), out }))).toBe('ERR_RANGE');
    const mask = new Uint8Array(B * A).fill(1);
    mask[1 * A + 1] = 0;
    expect(errorCode(() => categoricalLogProb({ ...base, mask, out }))).toBe('ERR_RANGE'); // action 1 of row 1 is masked
    const empty = new Uint8Array(B * A).fill(1);
    empty.fill(0, 2 * A, 3 * A);
    expect(errorCode(() => categoricalSample({ shape: [B, A], logits, mask: empty, seed: 1, out }))).toBe('ERR_RANGE');
    expect(Array.from(out.logProb)).toEqual([7, 7, 7]);
    expect(Array.from(out.entropy)).toEqual([7, 7, 7]);
    expect(errorCode(() => categoricalLogProb({ ...base, logits: new Float32Array(11) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => categoricalLogProb({ ...base, actions: new Float32Array(3) as unknown as Int32Array }))).toBe('ERR_DTYPE');
    expect(errorCode(() => categoricalLogProb({ ...base, mask: new Uint8Array(3) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => categoricalLogProb({ ...base, shape: [0, 4] }))).toBe('ERR_SHAPE');
    expect(errorCode(() => categoricalSample({ shape: [B, A], logits, seed: -1 }))).toBe('ERR_RANGE');
    expect(errorCode(() => categoricalSample({ shape: [B, A], logits, seed: 1.5 }))).toBe('ERR_RANGE');
    expect(errorCode(() => categoricalBackward({ ...base, gradLogProb: NaN }))).toBe('ERR_RANGE');
    expect(errorCode(() => categoricalBackward({ ...base, gradEntropy: new Float32Array([1, NaN, 1]) }))).toBe('ERR_RANGE');
    expect(errorCode(() => categoricalBackward({ ...base, gradEntropy: new Float32Array(2) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => categoricalBackward({ ...base, out: { gradLogits: logits } }))).toBe('ERR_ARG');
    expect(errorCode(() => categoricalLogProb({ ...base, device: 'tpu' as 'cpu' }))).toBe('ERR_DEVICE');
    expect(errorCode(() => categoricalLogProb(undefined as unknown as Parameters<typeof categoricalLogProb>[0]))).toBe('ERR_SHAPE');
  });

  it('guards the raw binding against anything', () => {
    const raw = native().categorical;
    const f = new Float32Array(4), i = new Int32Array(2);
    const attempts: unknown[][] = [
      [],
      [2 ** 40, 2 ** 40, new Float32Array(4)],
      [2 ** 21, 2 ** 21, new Float32Array(4)],
      [2, 2],
      [2, 2, f],
      [2, 2, f, null, i, undefined, null, null, new Int32Array(2)],
      [2, 2, f, null, null, 1, null, null, null],
      [2, 2, f, null, new Int32Array([0, 9]), null, null, null, null, new Float32Array(2)],
      [2, 2, f, null, i, null, 'x', null, null, new Float32Array(2)],
      [2, 2, f, null, i, null, null, null, null, f],
      [2, 2, f, null, i, null, null, null, null, null, null, new Float32Array(3)],
      [2 ** 41, 2, f],
      [2, 2, 'logits'],
      [2, 2, f, new Uint8Array(4), null, 1, null, null, new Int32Array(2)],
    ];
    for (const args of attempts) expect(() => raw(...args)).toThrow(RlcoreError);
  });
});
