// Same inputs, same outputs, whatever the thread count: each kernel runs at sizes where it splits
// its work across threads (and at lengths that are not multiples of a vector), with 1, 2 and 3
// threads, and the outputs must agree bit for bit.
import { afterAll, describe, expect, it } from 'vitest';
import { backends, setNumThreads } from '../../src/device.js';
import { discountedReturns } from '../../src/kernels/discounted_returns.js';
import { gae } from '../../src/kernels/gae.js';
import { groupNormalize } from '../../src/kernels/group_normalize.js';
import { lambdaReturns } from '../../src/kernels/lambda_returns.js';
import { whiten } from '../../src/kernels/normalize.js';
import { nstepReturns } from '../../src/kernels/nstep_returns.js';
import { tokenGae } from '../../src/kernels/token_gae.js';
import { vtrace } from '../../src/kernels/vtrace.js';
import { Sequential } from '../../src/nn/mlp.js';
import { Adam, Sgd, clipGradNorm, polyakUpdate } from '../../src/nn/optim.js';
import { randomF32, rng, vtraceBatch } from '../helpers.js';
import { RlcoreError } from '../../src/errors.js';
import { native } from '../../src/native.js';

const threads = backends().cpu.threads;
afterAll(() => setNumThreads(threads));

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function firstDifference(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Runs `compute` with 1, 2 and 3 threads and expects bit-identical outputs. */
function expectThreadIndependent(compute: () => Float32Array[]): void {
  const runs = [1, 2, 3].map((t) => {
    setNumThreads(t);
    return compute().map(bits);
  });
  setNumThreads(threads);
  for (const run of runs.slice(1)) {
    expect(run.length).toBe(runs[0].length);
    run.forEach((out, k) => expect(firstDifference(out, runs[0][k]), `first differing element of output ${k}`).toBe(-1));
  }
}

// Longer than the optimisers' parallel threshold (4 blocks of 2^14) and not a multiple of 4.
const P = 67_331;

describe('results do not depend on the thread count', () => {
  it('Adam (several steps), SGD with momentum, Polyak averaging and gradient clipping', () => {
    expectThreadIndependent(() => {
      const r = rng(7);
      const params = randomF32(P, r), grads = new Float32Array(P);
      const adam = new Adam({ params, grads }, { lr: 3e-3 });
      const sgdParams = randomF32(P, r), sgdGrads = new Float32Array(P);
      const sgd = new Sgd({ params: sgdParams, grads: sgdGrads }, { lr: 1e-2, momentum: 0.9 });
      const target = randomF32(P, r);
      for (let step = 0; step < 4; step++) {
        grads.set(randomF32(P, r, 0.1));
        clipGradNorm({ grads, maxNorm: 1 });
        adam.step();
        sgdGrads.set(randomF32(P, r, 0.1));
        sgd.step();
        polyakUpdate({ target, source: params, tau: 0.005 });
      }
      return [params, adam.m, adam.v, sgdParams, sgd.momentumBuffer, target];
    });
  });

  it('an MLP forward, backward (parameter and input gradients) and Adam step', () => {
    expectThreadIndependent(() => {
      const r = rng(11);
      const B = 1001, D = 13, O = 3;
      const net = new Sequential({
        inputSize: D,
        layers: [{ type: 'linear', size: 256 }, { type: 'relu' }, { type: 'linear', size: 255 }, { type: 'layerNorm' }, { type: 'tanh' }, { type: 'linear', size: O }],
        seed: 5,
      });
      const adam = new Adam(net, { lr: 1e-3 });
      const x = randomF32(B * D, r), gradOut = randomF32(B * O, r), gradIn = new Float32Array(B * D);
      const outs: Float32Array[] = [];
      for (let step = 0; step < 3; step++) {
        outs.push(Float32Array.from(net.forwardTrain(x)));
        net.zeroGrad();
        net.backward(gradOut, gradIn);
        outs.push(Float32Array.from(net.grads), Float32Array.from(gradIn));
        adam.step();
      }
      return [...outs, net.params];
    });
  });

  // Shapes where columns split unevenly across threads (N not a multiple of 16) and single long
  // sequences (split into parallel pieces).
  it.each([
    [2048, 999],
    [300_001, 1],
    [40_000, 3],
  ])('the return and advantage kernels on [T, N] = [%i, %i]', (T, N) => {
    const b = vtraceBatch(T, N, 3, 0.01, 0.005);
    const { logRhos, ...boot } = b;
    const shape: [number, number] = [T, N];
    expectThreadIndependent(() => {
      const g = gae({ shape, ...boot, gamma: 0.99, lambda: 0.95 });
      const v = vtrace({ shape, ...boot, logRhos, gamma: 0.99 });
      return [
        g.advantages,
        g.returns,
        lambdaReturns({ shape, ...boot, gamma: 0.99, lambda: 0.9 }).returns,
        discountedReturns({ shape, rewards: b.rewards, terminated: b.terminated, truncated: b.truncated, lastValues: b.lastValues, finalValues: b.finalValues, gamma: 0.99 }).returns,
        nstepReturns({ shape, ...boot, gamma: 0.99, n: 5 }).returns,
        v.vs,
        v.pgAdvantages,
      ];
    });
  });

  it('whitening, group normalisation and token GAE', () => {
    const r = rng(5);
    const n = 1_000_003, x = randomF32(n, r);
    const G = 8, rewards = randomF32(G * 200_001, r);
    const groupIds = Int32Array.from({ length: 100_003 }, () => Math.floor(r() * 977));
    const sortedIds = new Int32Array(rewards.length); // runs of 1..20, some ids skipped (empty groups)
    for (let i = 0, g = 0; i < sortedIds.length; g += r() < 0.1 ? 2 : 1) {
      const n = 1 + Math.floor(r() * 20);
      sortedIds.fill(g, i, i + n);
      i += n;
    }
    const lengths = Int32Array.from({ length: 333 }, () => 1 + Math.floor(r() * 3000));
    const tokens = lengths.reduce((a, c) => a + c, 0);
    const tokenRewards = randomF32(tokens, r), tokenValues = randomF32(tokens, r);
    expectThreadIndependent(() => {
      const t = tokenGae({ lengths, rewards: tokenRewards, values: tokenValues, gamma: 1, lambda: 0.95 });
      return [
        whiten({ x }).out,
        groupNormalize({ rewards, groupSize: G, mode: 'grpo' }).advantages,
        groupNormalize({ rewards: randomF32(100_003, rng(9)), groupIds, numGroups: 977, mode: 'rloo' }).advantages,
        groupNormalize({ rewards, groupIds: sortedIds, mode: 'grpo' }).advantages,
        t.advantages,
        t.returns,
      ];
    });
  });
});

describe('thread pool errors', () => {
  it('an exception inside a pool chunk reaches JavaScript as ERR_NATIVE, with 1 and several threads', () => {
    for (const n of [1, 2, 4]) {
      setNumThreads(n);
      let caught: unknown;
      try {
        native()._throwInParallelFor();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(RlcoreError);
      expect((caught as RlcoreError).code).toBe('ERR_NATIVE');
      expect((caught as RlcoreError).message).toMatch(/chunk \d+ failed/);
      // The pool still works afterwards.
      const x = new Float32Array(1 << 20).map((_, i) => i % 7);
      expect(whiten({ x }).count).toBe(x.length);
    }
    setNumThreads(threads);
  });
});
