// Device-resident timings of every CUDA kernel (cudaBench: data already on the GPU, no PCIe
// copies), next to the CPU kernel of the same addon for GAE, with nothing but Node.js:
//   RLCORE_ADDON=build-cuda/Release/rlcore.node node scripts/device-bench.mjs [outDir]
// Prints a Markdown table; with outDir, also writes bench.md and bench.json there.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const addonPath = resolve(process.env.RLCORE_ADDON ?? 'build-cuda/Release/rlcore.node');
const binding = require(addonPath);
binding.setErrorClass(class RlcoreError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
});
const outDir = process.argv[2];
const info = binding.backends();
const device = info.cuda.devices[0];
if (!device) {
  console.log(`no CUDA device (${info.cuda.status}): nothing to time`);
  process.exit(2);
}

// 16M+ elements as many columns (walk path), as a square-ish batch (tiled, W = 32) and as one
// sequence (tiled, W = 1); 1M steps as one sequence and as 1024 environments of 1K steps.
const SIZES = [
  [256, 65536], [4096, 4096], [16_777_216, 1], [1_000_000, 1], [1000, 1024],
];
const rows = [];
for (const kernel of binding.cudaBenchKernels()) {
  for (const [T, N] of SIZES) {
    try {
      const r = binding.cudaBench(kernel, T, N, 20);
      rows.push({ kernel, T, N, impl: 'cuda (device-resident)', ...r });
    } catch (e) {
      rows.push({ kernel, T, N, impl: 'cuda (device-resident)', error: `${e.code ?? ''} ${e.message}` });
    }
  }
}

// GAE through the ordinary entry point: host arrays, so PCIe copies included; and the CPU kernel.
function timeMs(fn, reps) {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}
for (const [T, N] of [[4096, 4096], [1_000_000, 1]]) {
  const TN = T * N;
  const rewards = new Float32Array(TN).map((_, i) => Math.sin(i));
  const values = new Float32Array(TN).map((_, i) => Math.cos(i));
  const term = new Uint8Array(TN).map((_, i) => (i % 97 === 0 ? 1 : 0));
  const last = new Float32Array(N), adv = new Float32Array(TN), ret = new Float32Array(TN);
  const bytes = TN * (4 + 4 + 1 + 4 + 4);
  for (const [impl, useCuda] of [['cuda (host arrays, incl. PCIe)', true], ['native cpu', false]]) {
    const ms = timeMs(() => binding.gae(T, N, rewards, values, term, null, null, last, null, 0.99, 0.95, adv, ret, useCuda, false), 5);
    rows.push({ kernel: 'gae', T, N, impl, ms, bytes, elements: TN, gbPerSecond: bytes / (ms * 1e6), path: '' });
  }
}

const lines = [
  `Device: ${device.name} (sm ${device.computeCapability}, ${(device.memoryBytes / 2 ** 30).toFixed(0)} GiB); ` +
    `${new Date().toISOString()}; CPU threads ${info.cpu.threads}`,
  '',
  '| kernel | size | impl | ms | Melem/s | GB/s | path |',
  '|---|---|---|---:|---:|---:|---|',
];
for (const r of rows) {
  const size = `T=${r.T} N=${r.N}`;
  if (r.error) lines.push(`| ${r.kernel} | ${size} | ${r.impl} | error | | | ${r.error} |`);
  else {
    lines.push(`| ${r.kernel} | ${size} | ${r.impl} | ${r.ms.toFixed(3)} | ${(r.elements / r.ms / 1e3).toFixed(0)} | ` +
      `${r.gbPerSecond.toFixed(0)} | ${r.path} |`);
  }
}
const table = lines.join('\n');
console.log(table);
if (outDir) {
  writeFileSync(join(outDir, 'bench.md'), table + '\n');
  writeFileSync(join(outDir, 'bench.json'), JSON.stringify({ device, rows }, null, 2));
}
