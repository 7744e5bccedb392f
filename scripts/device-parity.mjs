// CUDA vs CPU parity of every kernel, with nothing but Node.js and the CUDA addon (no
// node_modules, no TypeScript): the CUDA build contains the CPU kernels too, so each case runs
// the raw binding twice on the same inputs (useCuda = false, then true) and compares.
//   RLCORE_ADDON=build-cuda/Release/rlcore.node node scripts/device-parity.mjs [kernel ...]
// Exit status: 0 all passed, 1 a mismatch or error, 2 no CUDA device (nothing was compared).
import { openCudaAddon, rng, f32, flags } from './device-common.mjs';

const { binding } = openCudaAddon({ printStatus: true });
// Shapes: edge cases, both tiled widths, the walk path (N >= 65536), long single sequences.
const SHAPES = [
  [1, 1], [1, 7], [7, 1], [3, 5], [300, 70], [73, 33], [2305, 1], [5000, 3], [64, 4099],
  [3, 70000], [1_000_000, 1], [20_000, 64],
];
const FLAG_P = [0, 1, 0.05];

let failures = 0, cases = 0;
function compare(kernel, label, name, got, want, rtol = 1e-5, atol = 1e-4) {
  for (let i = 0; i < want.length; i++) {
    const a = got[i], b = want[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
      failures++;
      console.log(`FAIL ${kernel} ${label}: ${name}[${i}] cuda ${a} cpu ${b}`);
      return false;
    }
  }
  return true;
}

// Runs make() -> { args(outputs, useCuda), outputs() } twice and compares every output.
function parity(kernel, label, make, tol) {
  cases++;
  const c = make();
  const cpu = c.outputs(), gpu = c.outputs();
  try {
    binding[kernel](...c.args(cpu), false, false);
    binding[kernel](...c.args(gpu), true, false);
  } catch (e) {
    failures++;
    console.log(`ERROR ${kernel} ${label}: ${e.code ?? ''} ${e.message}`);
    return;
  }
  for (const name of Object.keys(cpu)) compare(kernel, label, name, gpu[name], cpu[name], tol?.rtol, tol?.atol);
}

function stepParam(kind, T, N, rand, value) {
  if (kind === 'scalar') return value;
  return f32(kind === 'perStep' ? T : T * N, rand, 0, 1);
}

const KERNELS = {
  gae(T, N, seed, p, kind) {
    const r = rng(seed), TN = T * N;
    const d = { rewards: f32(TN, r), values: f32(TN, r), term: flags(TN, r, p), trunc: flags(TN, r, p / 2),
      last: f32(N, r), final: f32(TN, r), gamma: stepParam(kind, T, N, r, 0.99), lambda: stepParam(kind, T, N, r, 0.95) };
    return {
      outputs: () => ({ advantages: new Float32Array(TN), returns: new Float32Array(TN) }),
      args: (o) => [T, N, d.rewards, d.values, d.term, d.trunc, null, d.last, d.final, d.gamma, d.lambda, o.advantages, o.returns],
    };
  },
  lambdaReturns(T, N, seed, p, kind) {
    const r = rng(seed), TN = T * N;
    const d = { rewards: f32(TN, r), values: f32(TN, r), term: flags(TN, r, p), trunc: flags(TN, r, p / 2),
      last: f32(N, r), final: f32(TN, r), gamma: stepParam(kind, T, N, r, 0.99), lambda: stepParam(kind, T, N, r, 0.95) };
    return {
      outputs: () => ({ returns: new Float32Array(TN) }),
      args: (o) => [T, N, d.rewards, d.values, d.term, d.trunc, null, d.last, d.final, d.gamma, d.lambda, o.returns],
    };
  },
  discountedReturns(T, N, seed, p, kind) {
    const r = rng(seed), TN = T * N;
    const d = { rewards: f32(TN, r), term: flags(TN, r, p), trunc: flags(TN, r, p / 2), last: f32(N, r),
      final: f32(TN, r), gamma: stepParam(kind, T, N, r, 0.99) };
    return {
      outputs: () => ({ returns: new Float32Array(TN) }),
      args: (o) => [T, N, d.rewards, d.term, d.trunc, d.last, d.final, d.gamma, o.returns],
    };
  },
  nstepReturns(T, N, seed, p, kind) {
    const r = rng(seed), TN = T * N;
    const d = { rewards: f32(TN, r), values: f32(TN, r), term: flags(TN, r, p), trunc: flags(TN, r, p / 2),
      last: f32(N, r), final: f32(TN, r), gamma: stepParam(kind, T, N, r, 0.99), n: 1 + (seed % 7) };
    return {
      outputs: () => ({ returns: new Float32Array(TN) }),
      args: (o) => [T, N, d.rewards, d.values, d.term, d.trunc, null, d.last, d.final, d.gamma, d.n, o.returns],
    };
  },
  vtrace(T, N, seed, p, kind) {
    const r = rng(seed), TN = T * N;
    const d = { rewards: f32(TN, r), values: f32(TN, r), term: flags(TN, r, p), trunc: flags(TN, r, p / 2),
      last: f32(N, r), final: f32(TN, r), logRhos: f32(TN, r, -1, 1), gamma: stepParam(kind, T, N, r, 0.99),
      lambda: stepParam(kind, T, N, r, 1) };
    return {
      outputs: () => ({ vs: new Float32Array(TN), pgAdvantages: new Float32Array(TN) }),
      args: (o) => [T, N, d.rewards, d.values, d.term, d.trunc, null, d.last, d.final, d.logRhos, d.gamma, d.lambda,
        1, 1, 1, o.vs, o.pgAdvantages],
    };
  },
  // T = sequence length (padded rows of T, masked when p > 0), N = sequences; odd seeds: packed.
  tokenGae(T, N, seed, p) {
    const r = rng(seed);
    const packed = seed % 2 === 1;
    const lengths = Int32Array.from({ length: N }, () => Math.floor(r() * (T + 1)));
    const total = packed ? lengths.reduce((a, b) => a + b, 0) : T * N;
    const mask = !packed && p > 0 ? flags(total, r, 1 - p / 2) : null;
    const d = { rewards: f32(total, r), terminal: f32(N, r), values: f32(total, r) };
    return {
      outputs: () => ({ advantages: new Float32Array(total), returns: new Float32Array(total) }),
      args: (o) => packed
        ? [lengths, null, null, null, null, d.rewards, d.terminal, d.values, 1, 0.95, o.advantages, o.returns]
        : [null, null, N, T, mask, d.rewards, d.terminal, d.values, 1, 0.95, o.advantages, o.returns],
    };
  },
  whiten(T, N, seed, p) {
    const r = rng(seed), n = T * N;
    const x = f32(n, r, -3, 5);
    const mask = p > 0 && p < 1 ? flags(n, r, 1 - p) : null;
    const indices = p === 1 ? Int32Array.from({ length: Math.max(1, n >> 1) }, () => Math.floor(r() * n)) : null;
    const k = indices ? indices.length : n;
    return {
      outputs: () => ({ out: new Float32Array(k), stats: new Float64Array(3) }),
      args: (o) => [x, mask, indices, 1e-8, true, seed % 2 === 0, o.out, o.stats],
    };
  },
  // B = T * N rewards: contiguous groups of N, or (p > 0) scattered ids in [0, T).
  groupNormalize(T, N, seed, p) {
    const r = rng(seed), B = T * N;
    const rewards = Float32Array.from({ length: B }, () => (r() < 0.3 ? 1 : Math.round(r() * 4) / 4));
    const ids = p > 0 ? Int32Array.from({ length: B }, () => Math.floor(r() * T)) : null;
    const mode = ['grpo', 'mean', 'batchStd', 'rloo'][seed % 4];
    return {
      outputs: () => ({ advantages: new Float32Array(B), zeroGroups: new Uint8Array(T), groupMean: new Float32Array(T),
        groupStd: new Float32Array(T), summary: new Float64Array(2) }),
      args: (o) => [rewards, ids ? undefined : N, ids ?? undefined, ids ? T : undefined, mode, 1e-6, true, o.advantages,
        o.zeroGroups, o.groupMean, o.groupStd, o.summary],
    };
  },
};

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
  for (const [T, N] of SHAPES) {
    const big = T * N > 200_000;
    for (const p of big ? [0.01] : FLAG_P) {
      for (const kind of big ? ['scalar'] : ['scalar', 'perStep', 'perStepAndEnv']) {
        // tokenGae: long rows only as few sequences.
        if (kernel === 'tokenGae' && T * N > 5_000_000) continue;
        parity(kernel, `T=${T} N=${N} p=${p} ${kind} seed=${seed}`, () => make(T, N, seed, p, kind));
        seed++;
      }
    }
  }
  console.log(`${failures === before ? 'ok  ' : 'FAIL'} ${kernel}`);
}
console.log(`${cases} cases, ${failures} failures, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failures ? 1 : 0);
