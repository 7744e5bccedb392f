import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cplLoss, preferenceLoss, type PreferenceLossResult } from '../../src/llm/preference.js';
import { tokenLogProbs, tokenLogProbsBackward } from '../../src/llm/token_logprobs.js';
import { Mlp } from '../../src/nn/mlp.js';
import { Adam } from '../../src/nn/optim.js';
import { cplRef, preferenceRef } from '../reference/llm.js';
import { expectClose, randomF32, rng } from '../helpers.js';
import { errorCode, expectGradient } from '../dist/util.js';

function pairs(P: number, seed: number) {
  const rand = rng(seed);
  const chosen = randomF32(P, rand, 20).map((v) => v - 40), rejected = randomF32(P, rand, 20).map((v) => v - 40);
  return { chosen, rejected, refChosen: chosen.map((v) => v + (rand() - 0.5) * 4), refRejected: rejected.map((v) => v + (rand() - 0.5) * 4) };
}

describe('preferenceLoss', () => {
  it('matches the float64 reference (dpo, ipo, bradleyTerry; label smoothing, margin)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer(), fc.constantFrom('dpo', 'ipo', 'bradleyTerry') as fc.Arbitrary<'dpo' | 'ipo' | 'bradleyTerry'>, fc.constantFrom(0.01, 0.1, 1), fc.constantFrom(0, 0.1), fc.constantFrom(0, 0.5), (P, seed, kind, beta, eps, margin) => {
        const p = pairs(P, seed);
        const refs = kind === 'bradleyTerry' ? {} : { refChosen: p.refChosen, refRejected: p.refRejected };
        const got = preferenceLoss({ kind, chosen: p.chosen, rejected: p.rejected, ...refs, beta, labelSmoothing: eps, margin: kind === 'ipo' ? 0 : margin });
        const want = preferenceRef(kind, p.chosen, p.rejected, refs.refChosen, refs.refRejected, beta, eps, kind === 'ipo' ? 0 : margin);
        expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(want.loss)));
        expect(got.accuracy).toBeCloseTo(want.accuracy, 12);
        expectClose(got.gradChosen, want.gradChosen, 1e-6, 1e-9);
        expectClose(got.gradRejected, want.gradRejected, 1e-6, 1e-9);
        expect(got.margin).toBeCloseTo(got.chosenReward - got.rejectedReward, 9);
      }),
      { numRuns: 120 },
    );
  });

  it('reference gradients agree with finite differences in float64', () => {
    for (const kind of ['dpo', 'ipo', 'bradleyTerry'] as const) {
      const p = pairs(5, 3);
      const c = Array.from(p.chosen, (v) => v / 20), r = Array.from(p.rejected, (v) => v / 20);
      const rc = Array.from(p.refChosen, (v) => v / 20), rr = Array.from(p.refRejected, (v) => v / 20);
      const f = () => preferenceRef(kind, c, r, rc, rr, 0.5, 0.1, 0.2).loss;
      expectGradient(f, c, preferenceRef(kind, c, r, rc, rr, 0.5, 0.1, 0.2).gradChosen);
      expectGradient(f, r, preferenceRef(kind, c, r, rc, rr, 0.5, 0.1, 0.2).gradRejected);
    }
  });

  it('DPO as β → 0: loss → log 2, gradient / β → −(1 − 2ε) / (2P); the margin sign decides the accuracy', () => {
    const P = 64, p = pairs(P, 9);
    for (const eps of [0, 0.2]) {
      const r = preferenceLoss({ ...p, beta: 1e-9, labelSmoothing: eps });
      expect(r.loss).toBeCloseTo(Math.LN2, 7);
      for (let i = 0; i < P; i++) {
        expect(r.gradChosen[i] / 1e-9).toBeCloseTo(-(1 - 2 * eps) / (2 * P), 6);
        expect(r.gradRejected[i] / 1e-9).toBeCloseTo((1 - 2 * eps) / (2 * P), 6);
      }
    }
    // Gradient pushes chosen up and rejected down.
    const r = preferenceLoss({ ...p, beta: 0.1 });
    expect(r.gradChosen.every((g) => g < 0) && r.gradRejected.every((g) => g > 0)).toBe(true);
  });

  it('IPO is minimised at x = 1/(2β); Bradley–Terry on rewards equals DPO with β = 1 and zero references', () => {
    const beta = 0.25, chosen = new Float32Array([3]), rejected = new Float32Array([1]);
    const ipo = preferenceLoss({ kind: 'ipo', chosen, rejected, beta });
    expect(ipo.loss).toBe(0);
    expect(ipo.gradChosen[0]).toBe(0);
    const p = pairs(40, 2);
    const bt = preferenceLoss({ kind: 'bradleyTerry', chosen: p.chosen, rejected: p.rejected });
    const dpo = preferenceLoss({ kind: 'dpo', chosen: p.chosen, rejected: p.rejected, beta: 1 });
    expect(bt.loss).toBe(dpo.loss);
    expect(Array.from(bt.gradChosen)).toEqual(Array.from(dpo.gradChosen));
  });

  it('rejects bad input with typed errors', () => {
    const a = new Float32Array(3);
    expect(errorCode(() => preferenceLoss({ chosen: a, rejected: new Float32Array(2) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => preferenceLoss({ chosen: new Float32Array(0), rejected: new Float32Array(0) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => preferenceLoss({ chosen: a, rejected: a, refChosen: a }))).toBe('ERR_ARG');
    expect(errorCode(() => preferenceLoss({ chosen: a, rejected: a, beta: -1 }))).toBe('ERR_RANGE');
    expect(errorCode(() => preferenceLoss({ chosen: a, rejected: a, labelSmoothing: 0.7 }))).toBe('ERR_RANGE');
    expect(errorCode(() => preferenceLoss({ chosen: a, rejected: a, kind: 'kto' as 'dpo' }))).toBe('ERR_ARG');
  });
});

describe('cplLoss', () => {
  it('matches the float64 reference and finite differences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 30 }), fc.integer(), fc.constantFrom(0.9, 1), fc.constantFrom(0.5, 1), (P, L, seed, gamma, lambda) => {
        const rand = rng(seed);
        const chosen = randomF32(P * L, rand, 2).map((v) => v - 2), rejected = randomF32(P * L, rand, 2).map((v) => v - 2);
        const r = cplLoss({ shape: [P, L], chosen, rejected, alpha: 0.3, gamma, lambda });
        expect(r.loss).toBeCloseTo(cplRef(P, L, chosen, rejected, 0.3, gamma, lambda), 9);
        if (P * L <= 24) {
          const c = Array.from(chosen, Number), n = Array.from(rejected, Number);
          expectGradient(() => cplRef(P, L, c, n, 0.3, gamma, lambda), c, r.gradChosen, 1e-5);
          expectGradient(() => cplRef(P, L, c, n, 0.3, gamma, lambda), n, r.gradRejected, 1e-5);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('rejects bad input with typed errors', () => {
    const a = new Float32Array(6);
    expect(errorCode(() => cplLoss({ shape: [2, 3], chosen: a, rejected: new Float32Array(5) }))).toBe('ERR_SHAPE');
    expect(errorCode(() => cplLoss({ shape: [2, 3], chosen: a, rejected: a, lambda: 0 }))).toBe('ERR_RANGE');
    expect(errorCode(() => cplLoss({ shape: [2, 3], chosen: a, rejected: a, gamma: 1.5 }))).toBe('ERR_RANGE');
  });
});

describe('DPO training (tokenLogProbs → preferenceLoss → tokenLogProbsBackward → Mlp)', () => {
  it('the implicit-reward margin and the preference accuracy grow on synthetic preferences', () => {
    // K prompts, single-token responses from V; the preferred token is the one with higher hidden score.
    const K = 6, V = 10, P = 240, rand = rng(4);
    const score = Float64Array.from({ length: K * V }, () => rand());
    const prompts = Int32Array.from({ length: P }, (_, i) => i % K);
    const chosen = new Int32Array(P), rejected = new Int32Array(P);
    for (let i = 0; i < P; i++) {
      const a = Math.floor(rand() * V);
      let b = Math.floor(rand() * V);
      if (b === a) b = (a + 1) % V;
      const aWins = score[prompts[i] * V + a] > score[prompts[i] * V + b];
      chosen[i] = aWins ? a : b, rejected[i] = aWins ? b : a;
    }
    const obs = new Float32Array(P * K);
    for (let i = 0; i < P; i++) obs[i * K + prompts[i]] = 1;
    const policy = new Mlp({ inputSize: K, hiddenSizes: [32], outputSize: V, outputInit: { gain: 0.01 }, seed: 2 });
    const logits0 = policy.forward(obs);
    const refC = tokenLogProbs({ shape: [P, V], logits: logits0, targets: chosen }).logProb;
    const refR = tokenLogProbs({ shape: [P, V], logits: logits0, targets: rejected }).logProb;
    const opt = new Adam(policy, { lr: 1e-2 });
    const history: PreferenceLossResult[] = [];
    for (let step = 0; step < 60; step++) {
      policy.zeroGrad();
      const logits = policy.forwardTrain(obs);
      const c = tokenLogProbs({ shape: [P, V], logits, targets: chosen, entropy: false }).logProb;
      const r = tokenLogProbs({ shape: [P, V], logits, targets: rejected, entropy: false }).logProb;
      const dpo = preferenceLoss({ chosen: c, rejected: r, refChosen: refC, refRejected: refR, beta: 0.5 });
      history.push(dpo);
      // Both responses share the logits: the two backward passes add up.
      const gc = tokenLogProbsBackward({ shape: [P, V], logits, targets: chosen, gradLogProb: dpo.gradChosen }).gradLogits;
      const gr = tokenLogProbsBackward({ shape: [P, V], logits, targets: rejected, gradLogProb: dpo.gradRejected }).gradLogits;
      for (let i = 0; i < gc.length; i++) gc[i] += gr[i];
      policy.backward(gc);
      opt.step();
    }
    expect(history[0].margin).toBeCloseTo(0, 9);
    expect(history[0].loss).toBeCloseTo(Math.LN2, 9);
    expect(history[59].margin).toBeGreaterThan(0.5);
    expect(history[59].accuracy).toBeGreaterThan(0.8);
    expect(history[59].loss).toBeLessThan(history[30].loss);
  });
});
