// CUDA kernels timed on device-resident data (the native `cudaBench`: no PCIe copies), so the
// GB/s column is GPU memory bandwidth. Only in CUDA builds with a device; elsewhere no rows.
import { backends } from '../src/index.js';
import { native } from '../src/native.js';
import type { BenchRow } from './harness.js';

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
    for (const [T, N] of [[256, 65536], [4096, 4096], [16_777_216, 1], [1_000_000, 1], [1000, 1024]] as const) {
      const r = native().cudaBench(kernel, T, N, 20) as CudaBenchResult;
      rows.push({ kernel, size: `T=${T} N=${N}`, impl: `cuda device (${r.path})`, elements: r.elements, bytes: r.bytes, seconds: r.ms / 1e3 });
    }
  }
  return rows;
}
