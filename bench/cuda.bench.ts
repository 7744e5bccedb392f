// CUDA kernels timed on device-resident data (the native `cudaBench`: no PCIe copies), so the
// GB/s column is GPU memory bandwidth; and the LLM losses through their public functions (host
// arrays, so PCIe copies included) next to the CPU kernels. Only in CUDA builds with a device;
// elsewhere no rows.
import { backends, policyLoss, ReplayBuffer, tokenKl } from '../src/index.js';
import { native } from '../src/native.js';
import { timeIt, type BenchRow } from './harness.js';

// The LLM losses at LLM shapes: T tokens per response (cpl_loss: steps per segment) by N
// responses (pairs; preference_loss and token_kl take T·N items).
const LLM_SIZES: Record<string, readonly (readonly [number, number])[]> = {
  policy_loss: [[1024, 4096], [8192, 512], [32768, 64]],
  token_kl: [[1024, 4096], [32768, 64]],
  preference_loss: [[1, 65536], [1024, 1024]],
  cpl_loss: [[64, 65536], [1024, 1024]],
};

interface CudaBenchResult {
  ms: number;
  bytes: number;
  elements: number;
  path: string;
}

export default function bench(): BenchRow[] {
  const b = backends();
  if (!b.cuda.built || b.cuda.devices.length === 0) {
    console.error(`cuda.bench: skipped (${b.cuda.status})`);
    return [];
  }
  const rows: BenchRow[] = [];
  const kernels = native().cudaBenchKernels() as string[];
  // 16M elements as many columns, as a square batch and as one sequence; 1M steps as one
  // sequence and as 1024 environments of 1K steps.
  for (const kernel of kernels) {
    const sizes = LLM_SIZES[kernel] ?? [[256, 65536], [4096, 4096], [16_777_216, 1], [1_000_000, 1], [1000, 1024]];
    for (const [T, N] of sizes) {
      const r = native().cudaBench(kernel, T, N, 20) as CudaBenchResult;
      rows.push({ kernel, size: `T=${T} N=${N}`, impl: `cuda device (${r.path})`, elements: r.elements, bytes: r.bytes, seconds: r.ms / 1e3 });
    }
  }
  rows.push(...hostArrayRows());
  rows.push(...replayRows());
  return rows;
}

// The replay buffer on device 'cuda' next to the CPU buffer, same inserts and same draws (host
// arrays in and out, copies included; the byte model of bench/replay.bench.ts): insert 4096 rows,
// and prioritized sample (+ gather + weights) + priority update of 4096 at capacity 1M.
function replayRows(): BenchRow[] {
  const rows: BenchRow[] = [];
  const OBS = 4, R = 4096, B = 4096, capacity = 1_000_000;  // as bench/replay.bench.ts
  const rowBytes = OBS * 8 + 4 + 4 + 2;
  const obs = Float32Array.from({ length: R * OBS }, Math.random), next = Float32Array.from({ length: R * OBS }, Math.random);
  const act = Float32Array.from({ length: R }, Math.random), rew = Float32Array.from({ length: R }, Math.random);
  const term = Uint8Array.from({ length: R }, () => (Math.random() < 0.01 ? 1 : 0)), trunc = new Uint8Array(R);
  const insert = { observations: obs, actions: act, rewards: rew, nextObservations: next, terminated: term, truncated: trunc };
  const pr = Float32Array.from({ length: B }, () => Math.random() * 2);
  for (const device of ['cuda', 'cpu'] as const) {
    const impl = device === 'cuda' ? 'cuda (host arrays, incl. PCIe)' : 'native cpu';
    const rb = new ReplayBuffer({ capacity, obsDim: OBS, numEnvs: R, prioritized: true, seed: 1, device });
    for (let f = 0; f < capacity; f += R) rb.add(insert);
    const size = `cap=${capacity / 1e6}M rows=${R}`;
    rows.push({ kernel: 'replay insert (prioritized)', size, impl, elements: R, bytes: R * rowBytes, seconds: timeIt(() => rb.add(insert)) });
    const out = rb.allocateBatch(B);
    const seconds = timeIt(() => {
      rb.sample(B, { beta: 0.4 }, out);
      rb.updatePriorities(out.indices, pr);
    });
    rows.push({ kernel: 'replay prioritized sample+update', size: `cap=${capacity / 1e6}M B=${B}`, impl, elements: B, bytes: B * (rowBytes + 16), seconds });
    rb.close();
  }
  return rows;
}

// policyLoss and tokenKl from host arrays: CUDA (copies included) and the CPU kernel, same inputs.
function hostArrayRows(): BenchRow[] {
  const rows: BenchRow[] = [];
  const B = 512, T = 8192, n = B * T;
  const logProb = new Float32Array(n).map((_, i) => -1 - 0.5 * Math.sin(i));
  const oldLogProb = new Float32Array(n).map((_, i) => -1 - 0.5 * Math.sin(i + 0.1));
  const refLogProb = new Float32Array(n).map((_, i) => -1 - 0.5 * Math.cos(i));
  const advantages = new Float32Array(B).map((_, i) => Math.sin(3 * i));
  const mask = new Uint8Array(n).map((_, i) => (i % T < T - (i / T) * 7 ? 1 : 0));
  const gradLogProb = new Float32Array(n), kl = new Float32Array(n), grad = new Float32Array(n);
  for (const device of ['cuda', 'cpu'] as const) {
    const impl = device === 'cuda' ? 'cuda (host arrays, incl. PCIe)' : 'native cpu';
    const s1 = timeIt(() => policyLoss({ shape: [B, T], logProb, oldLogProb, advantages, mask, refLogProb, klCoef: 0.01, clipHigh: 0.28, out: { gradLogProb }, device }));
    rows.push({ kernel: 'policy_loss', size: `T=${T} N=${B}`, impl, elements: n, bytes: n * 21, seconds: s1 });
    const s2 = timeIt(() => tokenKl({ logProb, refLogProb, mask, grad: true, out: { kl, grad }, device }));
    rows.push({ kernel: 'token_kl', size: `T=${T} N=${B}`, impl, elements: n, bytes: n * 17, seconds: s2 });
  }
  return rows;
}
