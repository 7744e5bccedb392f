import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenLogProbs, tokenLogProbsAsync, tokenLogProbsBackward, tokenLogProbsBackwardAsync } from '../../src/llm/token_logprobs.js';
import { native } from '../../src/native.js';
import { tokenLogProbsRef } from '../reference/llm.js';
import { cudaPresent, expectClose, randomF32, rng } from '../helpers.js';
import { errorCode, expectGradient, randomInts } from '../dist/util.js';

// A plain TS log-softmax (materialising the row), as a framework without rlcore would write it.
function plainLogSoftmax(logits: Float32Array, V: number, targets: Int32Array) {
  const M = targets.length, out = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    const row = Float64Array.from(logits.subarray(m * V, (m + 1) * V));
    const mx = row.reduce((a, b) => Math.max(a, b), -Infinity);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(row[v] - mx);
    out[m] = row[targets[m]] - mx - Math.log(s);
  }
  return out;
}

describe('tokenLogProbs', () => {
  it('matches a plain TS log-softmax at V = 50 000 (log-probs, entropy, lse)', () => {
    const M = 6, V = 50_000, rand = rng(7);
    const logits = randomF32(M * V, rand, 8);
    const targets = randomInts(M, V, rand);
    const got = tokenLogProbs({ shape: [M, V], logits, targets, lse: true });
    expectClose(got.logProb, plainLogSoftmax(logits, V, targets), 1e-5, 2e-5);
    const ref = tokenLogProbsRef(logits, V, targets);
    expectClose(got.entropy!, ref.entropy, 1e-5, 1e-5);
    expectClose(got.lse!, ref.lse, 1e-6, 1e-5);
  });

  it('matches the float64 reference on random shapes, temperatures and scales (forward and backward)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3000 })), fc.integer(), fc.constantFrom(0.3, 1, 2.5), fc.constantFrom(0.1, 5, 40), (M, V, seed, temperature, scale) => {
        const rand = rng(seed);
        const logits = randomF32(M * V, rand, scale);
        const targets = randomInts(M, V, rand);
        const gl = randomF32(M, rand), ge = randomF32(M, rand);
        const ref = tokenLogProbsRef(logits, V, targets, temperature, gl, ge);
        const got = tokenLogProbs({ shape: [M, V], logits, targets, temperature });
        expectClose(got.logProb, ref.logProb, 1e-5, 1e-5 * (1 + scale / temperature));
        expectClose(got.entropy!, ref.entropy, 1e-4, 1e-5);
        const { gradLogits } = tokenLogProbsBackward({ shape: [M, V], logits, targets, temperature, gradLogProb: gl, gradEntropy: ge });
        expectClose(gradLogits, ref.gradLogits, 1e-4, 2e-6 * (1 + scale / temperature));
      }),
      { numRuns: 60 },
    );
  });

  it('reference gradient agrees with finite differences (log-prob and entropy, with temperature)', () => {
    const M = 3, V = 7, rand = rng(3);
    const x = Array.from(randomF32(M * V, rand, 2), Number);
    const targets = randomInts(M, V, rand);
    const gl = [0.3, -1.2, 0.7], ge = [0.5, 0.1, -0.9];
    const f = () => {
      const r = tokenLogProbsRef(x, V, targets, 0.7);
      let s = 0;
      for (let m = 0; m < M; m++) s += gl[m] * r.logProb[m] + ge[m] * r.entropy[m];
      return s;
    };
    expectGradient(f, x, tokenLogProbsRef(x, V, targets, 0.7, gl, ge).gradLogits);
  });

  it('handles −∞ logits (masked vocabulary), rows of one token and huge logits', () => {
    const V = 5;
    const logits = new Float32Array([-Infinity, 1, 2, -Infinity, 0, 1e30, 1e30, -1e30, 0, 0]);
    const targets = new Int32Array([2, 0]);
    const r = tokenLogProbs({ shape: [2, V], logits, targets });
    const want = 2 - Math.log(Math.exp(1) + Math.exp(2) + 1);
    expect(r.logProb[0]).toBeCloseTo(want, 5);
    expect(r.logProb[1]).toBeCloseTo(-Math.log(2), 5);
    expect(r.entropy![1]).toBeCloseTo(Math.log(2), 5);
    const g = tokenLogProbsBackward({ shape: [2, V], logits, targets, gradLogProb: new Float32Array([1, 1]), gradEntropy: new Float32Array([1, 1]) }).gradLogits;
    expect(g.every(Number.isFinite)).toBe(true);
    expect(Math.abs(g[0])).toBe(0);
    const one = tokenLogProbs({ shape: [1, 1], logits: new Float32Array([3]), targets: new Int32Array([0]) });
    expect(one.logProb[0]).toBe(0);
    expect(one.entropy![0]).toBeCloseTo(0, 7);
  });

  it('each row of the gradient sums to 0 and async equals sync', async () => {
    const M = 4, V = 4099, rand = rng(11);
    const logits = randomF32(M * V, rand, 3), targets = randomInts(M, V, rand), gl = randomF32(M, rand);
    const g = tokenLogProbsBackward({ shape: [M, V], logits, targets, gradLogProb: gl }).gradLogits;
    for (let m = 0; m < M; m++) expect(Math.abs(g.subarray(m * V, (m + 1) * V).reduce((a, b) => a + b, 0))).toBeLessThan(1e-5);
    // With the forward's lse and entropy the row is read once; the gradient is the same.
    const fwd = tokenLogProbs({ shape: [M, V], logits, targets, lse: true });
    const ge = randomF32(M, rand);
    const saved = tokenLogProbsBackward({ shape: [M, V], logits, targets, gradLogProb: gl, gradEntropy: ge, lse: fwd.lse, entropy: fwd.entropy }).gradLogits;
    expectClose(saved, tokenLogProbsBackward({ shape: [M, V], logits, targets, gradLogProb: gl, gradEntropy: ge }).gradLogits, 1e-5, 1e-8);
    expect(errorCode(() => tokenLogProbsBackward({ shape: [M, V], logits, targets, gradEntropy: ge, lse: fwd.lse }))).toBe('ERR_ARG');
    const ga = (await tokenLogProbsBackwardAsync({ shape: [M, V], logits, targets, gradLogProb: gl })).gradLogits;
    expect(Array.from(ga)).toEqual(Array.from(g));
    const a = await tokenLogProbsAsync({ shape: [M, V], logits, targets });
    expect(Array.from(a.logProb)).toEqual(Array.from(tokenLogProbs({ shape: [M, V], logits, targets }).logProb));
    // The async calls read their own copy of the targets: changed while they run, read in place,
    // they could take them out of bounds.
    const own = Int32Array.from(targets), wantLp = tokenLogProbs({ shape: [M, V], logits, targets }).logProb;
    const pendingFwd = tokenLogProbsAsync({ shape: [M, V], logits, targets: own });
    const pendingBwd = tokenLogProbsBackwardAsync({ shape: [M, V], logits, targets: own, gradLogProb: gl });
    own.fill(0);
    expect(Array.from((await pendingFwd).logProb)).toEqual(Array.from(wantLp));
    expect(Array.from((await pendingBwd).gradLogits)).toEqual(Array.from(g));
  });

  it.skipIf(!cudaPresent())('CUDA matches the CPU (forward, backward, saved lse, V not a multiple of 4)', () => {
    for (const [M, V] of [[7, 50_000], [3, 1001], [130, 64]]) {
      const rand = rng(M + V);
      const logits = randomF32(M * V, rand, 6), targets = randomInts(M, V, rand), gl = randomF32(M, rand), ge = randomF32(M, rand);
      const cpu = tokenLogProbs({ shape: [M, V], logits, targets, temperature: 0.8, lse: true, device: 'cpu' });
      const gpu = tokenLogProbs({ shape: [M, V], logits, targets, temperature: 0.8, lse: true, device: 'cuda' });
      expectClose(gpu.logProb, cpu.logProb, 1e-5, 1e-4);
      expectClose(gpu.entropy!, cpu.entropy!, 1e-4, 1e-4);
      const bc = tokenLogProbsBackward({ shape: [M, V], logits, targets, temperature: 0.8, gradLogProb: gl, gradEntropy: ge, device: 'cpu' }).gradLogits;
      const bg = tokenLogProbsBackward({ shape: [M, V], logits, targets, temperature: 0.8, gradLogProb: gl, gradEntropy: ge, device: 'cuda' }).gradLogits;
      expectClose(bg, bc, 1e-3, 1e-6);
      const bs = tokenLogProbsBackward({ shape: [M, V], logits, targets, temperature: 0.8, gradLogProb: gl, gradEntropy: ge, lse: cpu.lse, entropy: cpu.entropy, device: 'cuda' }).gradLogits;
      expectClose(bs, bc, 1e-3, 1e-6);
    }
  });

  it('rejects bad input with typed errors', () => {
    const logits = new Float32Array(6), targets = new Int32Array([0, 1]);
    expect(errorCode(() => tokenLogProbs({ shape: [2, 3], logits, targets: new Int32Array([0, 3]) }))).toBe('ERR_RANGE');
    expect(errorCode(() => tokenLogProbs({ shape: [2, 3], logits, targets: new Int32Array([-1, 0]) }))).toBe('ERR_RANGE');
    expect(errorCode(() => tokenLogProbs({ shape: [2, 4], logits, targets }))).toBe('ERR_SHAPE');
    expect(errorCode(() => tokenLogProbs({ shape: [0, 3], logits: new Float32Array(0), targets: new Int32Array(0) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => tokenLogProbs({ shape: [2, 3], logits, targets: new Float32Array(2) as unknown as Int32Array }))).toBe('ERR_DTYPE');
    expect(errorCode(() => tokenLogProbs({ shape: [2, 3], logits, targets, temperature: 0 }))).toBe('ERR_RANGE');
    expect(errorCode(() => tokenLogProbsBackward({ shape: [2, 3], logits, targets, gradLogProb: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => tokenLogProbsBackward({ shape: [2, 3], logits, targets, out: { gradLogits: logits } }))).toBe('ERR_ARG');
    // The native guards as well (the raw binding, past the TS checks).
    const out = new Float32Array(2);
    expect(errorCode(() => native().tokenLogProbs(2, 3, logits, new Int32Array([0, 5]), 1, out, undefined, undefined, false, false))).toBe('ERR_RANGE');
    expect(errorCode(() => native().tokenLogProbs(2, 3, logits.subarray(1), targets, 1, out, undefined, undefined, false, false))).toBe('ERR_SHAPE');
    expect(Array.from(out)).toEqual([0, 0]);
  });
});
