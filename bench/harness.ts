// Tiny benchmark harness: time a function, and report elements/s and effective GB/s
// (bytes read + bytes written per second) next to the machine's measured copy bandwidth.
import { performance } from 'node:perf_hooks';

/** One measured line of a benchmark table. */
export interface BenchRow {
  /** Kernel name, e.g. "gae". */
  kernel: string;
  /** Problem size, e.g. "T=128 N=64". */
  size: string;
  /** Implementation, e.g. "native cpu" or "ts loop". */
  impl: string;
  /** Elements processed per call. */
  elements: number;
  /** Bytes read plus bytes written per call. */
  bytes: number;
  /** Median seconds per call. */
  seconds: number;
}

/** Median seconds per call of `fn`, repeated until `minSeconds` of samples are collected. */
export function timeIt(fn: () => void, minSeconds = 0.25): number {
  fn(); // warm up
  const samples: number[] = [];
  let total = 0;
  let reps = 1;
  // Batch fast calls so each sample lasts at least ~1 ms.
  for (;;) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    const dt = (performance.now() - t0) / 1000;
    if (dt >= 1e-3 || reps >= 1 << 20) {
      samples.push(dt / reps);
      total += dt;
      if (total >= minSeconds && samples.length >= 5) break;
    } else {
      reps *= 4;
    }
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

/** Median seconds per call of an async function. */
export async function timeItAsync(fn: () => Promise<unknown>, minSeconds = 0.25): Promise<number> {
  await fn();
  const samples: number[] = [];
  let total = 0;
  while (total < minSeconds || samples.length < 5) {
    const t0 = performance.now();
    await fn();
    const dt = (performance.now() - t0) / 1000;
    samples.push(dt);
    total += dt;
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

/** Memory-copy bandwidth (read + write bytes per second) of `TypedArray.set` over 64 MiB. */
export function copyBandwidthGBs(): number {
  const n = 16 * 1024 * 1024;
  const src = new Float32Array(n).fill(1), dst = new Float32Array(n);
  const s = timeIt(() => dst.set(src), 0.5);
  return (2 * n * 4) / s / 1e9;
}

/** Formats rows as a Markdown table; `vs TS` compares with the "ts loop" row of the same kernel and size. */
export function formatTable(rows: BenchRow[], copyGBs: number): string {
  const lines = [
    `Measured copy bandwidth (TypedArray.set, 64 MiB, read+write): ${copyGBs.toFixed(1)} GB/s`,
    '',
    '| kernel | size | impl | Melem/s | GB/s | % of copy bw | vs TS loop |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ts = rows.find((o) => o.kernel === r.kernel && o.size === r.size && o.impl === 'ts loop');
    const gbs = r.bytes / r.seconds / 1e9;
    lines.push(
      `| ${r.kernel} | ${r.size} | ${r.impl} | ${(r.elements / r.seconds / 1e6).toFixed(1)} | ${gbs.toFixed(2)} | ${((100 * gbs) / copyGBs).toFixed(0)}% | ${ts ? (ts.seconds / r.seconds).toFixed(1) + 'x' : ''} |`,
    );
  }
  return lines.join('\n');
}

/** A benchmark module's default export. */
export type Bench = () => BenchRow[] | Promise<BenchRow[]>;
