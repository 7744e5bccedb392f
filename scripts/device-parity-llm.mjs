// CUDA vs CPU parity of the LLM losses (policyLoss, tokenKl, preferenceLoss, cplLoss) with nothing
// but Node.js and the CUDA addon, as scripts/device-parity.mjs does for the return estimators:
// each case runs the raw binding twice on the same inputs (useCuda = false, then true), compares
// every output, and runs CUDA a second time to check that it is deterministic (bit for bit).
//   RLCORE_ADDON=build-cuda/Release/rlcore.node node scripts/device-parity-llm.mjs [kernel ...]
// Exit status: 0 all passed, 1 a mismatch or error, 2 no CUDA device (nothing was compared).
import { openCudaAddon, rng, f32, flags } from './device-common.mjs';

const { binding } = openCudaAddon();
let failures = 0, cases = 0;
function compare(kernel, label, name, got, want, rtol, atol) {
  for (let i = 0; i < want.length; i++) {
    const a = got[i], b = want[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
      failures++;
      console.log(`FAIL ${kernel} ${label}: ${name}[${i}] cuda ${a} cpu ${b}`);
      return;
    }
  }
}

// make() -> { outputs(), args(outputs) }; stats arrays (Float64Array) are compared to float64 sums'
// rounding, float32 outputs to float32 rounding.
function parity(kernel, label, make) {
  cases++;
  const c = make();
  const cpu = c.outputs(), gpu = c.outputs(), again = c.outputs();
  try {
    binding[kernel](...c.args(cpu), false, false);
    binding[kernel](...c.args(gpu), true, false);
    binding[kernel](...c.args(again), true, false);
  } catch (e) {
    failures++;
    console.log(`ERROR ${kernel} ${label}: ${e.code ?? ''} ${e.message}`);
    return;
  }
  for (const name of Object.keys(cpu)) {
    const stats = cpu[name] instanceof Float64Array;
    compare(kernel, label, name, gpu[name], cpu[name], stats ? 1e-6 : 1e-5, stats ? 1e-7 : 1e-6);
    compare(kernel, `${label} (determinism)`, name, again[name], gpu[name], 0, 0);
  }
}

const KERNELS = {
  policyLoss(B, T, seed) {
    const r = rng(seed), n = B * T;
    const old = f32(n, r, -3.5, -0.5), lp = old.map((v) => v + (r() * 2 - 1) * 0.4);
    const adv = f32(seed % 2 ? B : n, r, -2, 2);
    for (let i = 0; i < adv.length; i += 7) adv[i] = 0;
    const mask = flags(n, r, 0.8);
    mask[0] = 1;
    const ref = lp.map((v) => v + (r() * 2 - 1) * 0.5), roll = old.map((v) => v + (r() * 2 - 1) * 0.8);
    const ent = f32(n, r, 0.5, 2.5);
    const v = seed % 4, kind = seed % 5, agg = (seed >> 2) % 4, klKind = seed % 3;
    return {
      outputs: () => ({ grad: new Float32Array(n), gradEntropy: new Float32Array(n), stats: new Float64Array(16) }),
      args: (o) => [B, T, lp, old, adv, v & 1 ? mask : null, v & 2 ? ref : null, v === 1 || v === 2 ? roll : null, ent,
        kind, agg, klKind, 0.2, seed % 3 === 0 ? 0.28 : 0.2, seed % 2 ? 3 : 0, 1.5, 0.05, 0.01, T, 0.05, 0.05, 2, 0.7,
        seed, o.grad, o.gradEntropy, o.stats],
    };
  },
  tokenKl(B, T, seed) {
    const r = rng(seed), M = B * T;
    const lp = f32(M, r, -30, 0), ref = f32(M, r, -30, 0), mask = seed % 2 ? flags(M, r, 0.7) : null;
    return {
      outputs: () => ({ kl: new Float32Array(M), grad: new Float32Array(M), stats: new Float64Array(2) }),
      args: (o) => [M, lp, ref, mask, seed % 3, o.kl, o.grad, o.stats],
    };
  },
  preferenceLoss(B, T, seed) {
    const r = rng(seed), P = B * T, kind = seed % 3;
    const d = [f32(P, r, -100, 0), f32(P, r, -100, 0), f32(P, r, -100, 0), f32(P, r, -100, 0)];
    return {
      outputs: () => ({ gradChosen: new Float32Array(P), gradRejected: new Float32Array(P), stats: new Float64Array(5) }),
      args: (o) => [P, kind, d[0], d[1], kind === 2 ? null : d[2], kind === 2 ? null : d[3], 0.1, kind === 0 ? 0.1 : 0,
        kind === 2 ? 0.5 : 0, o.gradChosen, o.gradRejected, o.stats],
    };
  },
  // B pairs of segments of T steps.
  cplLoss(B, T, seed) {
    const r = rng(seed), n = B * T;
    const c = f32(n, r, -3, 0), rj = f32(n, r, -3, 0);
    return {
      outputs: () => ({ gradChosen: new Float32Array(n), gradRejected: new Float32Array(n), stats: new Float64Array(3) }),
      args: (o) => [B, T, c, rj, 0.1, 0.99, 0.5, o.gradChosen, o.gradRejected, o.stats],
    };
  },
};

// [B, T]: edge cases, many short rows, few long rows, and one LLM-sized batch.
const SHAPES = [[1, 1], [1, 7], [7, 1], [3, 5], [5, 300], [2, 5000], [64, 129], [4096, 3], [1, 100_000], [256, 4096]];

const only = process.argv.slice(2);
const t0 = Date.now();
for (const [kernel, make] of Object.entries(KERNELS)) {
  if (only.length && !only.includes(kernel)) continue;
  if (typeof binding[kernel] !== 'function') {
    failures++;
    console.log(`MISSING ${kernel}: not exported by this addon`);
    continue;
  }
  const before = failures;
  let seed = 1;
  for (const [B, T] of SHAPES) {
    const reps = kernel === 'policyLoss' && B * T < 200_000 ? 20 : 3;  // every kind × options mix
    for (let k = 0; k < reps; k++, seed++) parity(kernel, `B=${B} T=${T} seed=${seed}`, () => make(B, T, seed));
  }
  console.log(`${failures === before ? 'ok  ' : 'FAIL'} ${kernel}`);
}
console.log(`${cases} cases, ${failures} failures, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failures ? 1 : 0);
