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
  /** Copy bandwidth (GB/s) measured in the same interleaved rounds as this row (see {@link timeKernel}); default: the run's. */
  copyGBs?: number;
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

const copyFloats = 16 * 1024 * 1024; // 64 MiB
let copyBuffers: [Float32Array, Float32Array] | undefined;
/** One 64 MiB `TypedArray.set`: the copy whose speed is "copy bandwidth". */
function copyOnce(): void {
  copyBuffers ??= [new Float32Array(copyFloats).fill(1), new Float32Array(copyFloats)];
  copyBuffers[1].set(copyBuffers[0]);
}
const copyGBsOf = (seconds: number): number => (2 * copyFloats * 4) / seconds / 1e9;

/** Memory-copy bandwidth (read + write bytes per second) of `TypedArray.set` over 64 MiB. */
export function copyBandwidthGBs(): number {
  return copyGBsOf(timeIt(copyOnce, 0.5));
}

/**
 * Median seconds per call of each function, timed in interleaved rounds (each round times every
 * function once, for >= 1 ms, in alternating order) until each has >= `minSeconds` and >= 7
 * samples. On a shared machine whose speed drifts, a slow spell then hits every function alike,
 * so their ratios are steadier than when each is timed in its own stretch.
 */
export function timeInterleaved(fns: readonly (() => unknown)[], minSeconds = 0.25): number[] {
  const reps = fns.map((fn) => {
    fn(); // warm up
    let r = 1;
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < r; i++) fn();
      if (performance.now() - t0 >= 1 || r >= 1 << 20) return r;
      r *= 4;
    }
  });
  const samples: number[][] = fns.map(() => []);
  const totals = fns.map(() => 0);
  for (let round = 0; samples[0].length < 7 || totals.some((t) => t < minSeconds); round++) {
    for (let k = 0; k < fns.length; k++) {
      const f = round % 2 === 0 ? k : fns.length - 1 - k;
      const t0 = performance.now();
      for (let i = 0; i < reps[f]; i++) fns[f]();
      const dt = (performance.now() - t0) / 1000;
      samples[f].push(dt / reps[f]);
      totals[f] += dt;
    }
  }
  return samples.map((s) => s.sort((a, b) => a - b)[s.length >> 1]);
}

/** Sizes of this many elements and more are "out of cache" (the issues' 8M elements and one 1M-step sequence). */
const outOfCacheElements = 1_000_000;

/**
 * The rows of one kernel at one size: `native` and its plain TS loop `ts` timed in interleaved
 * rounds ({@link timeInterleaved}), and, at out-of-cache sizes (>= 1M elements), the 64 MiB copy too,
 * so that "vs TS loop" and "% of copy bw" compare measurements taken side by side.
 */
export function timeKernel(kernel: string, size: string, elements: number, bytes: number, native: () => unknown, ts: () => unknown): BenchRow[] {
  const outOfCache = elements >= outOfCacheElements;
  const [n, t, copy] = timeInterleaved(outOfCache ? [native, ts, copyOnce] : [native, ts]);
  const copyGBs = copy === undefined ? undefined : copyGBsOf(copy);
  return [
    { kernel, size, impl: 'native cpu', elements, bytes, seconds: n, copyGBs },
    { kernel, size, impl: 'ts loop', elements, bytes, seconds: t, copyGBs },
  ];
}

/**
 * Formats rows as a Markdown table; `vs TS` compares with the "ts loop" row of the same kernel and
 * size, `% of copy bw` with the copy timed alongside the row where there is one (the "copy GB/s
 * alongside" column), else with the run's `copyGBs`.
 */
export function formatTable(rows: BenchRow[], copyGBs: number): string {
  const lines = [
    `Measured copy bandwidth (TypedArray.set, 64 MiB, read+write): ${copyGBs.toFixed(1)} GB/s at the start;`,
    'rows of >= 1M elements compare with the same copy timed in interleaved rounds with them (last column).',
    '',
    '| kernel | size | impl | Melem/s | GB/s | % of copy bw | vs TS loop | copy GB/s alongside |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ts = rows.find((o) => o.kernel === r.kernel && o.size === r.size && o.impl === 'ts loop');
    const gbs = r.bytes / r.seconds / 1e9;
    lines.push(
      `| ${r.kernel} | ${r.size} | ${r.impl} | ${(r.elements / r.seconds / 1e6).toFixed(1)} | ${gbs.toFixed(2)} | ${((100 * gbs) / (r.copyGBs ?? copyGBs)).toFixed(0)}% | ${ts ? (ts.seconds / r.seconds).toFixed(1) + 'x' : ''} | ${r.copyGBs?.toFixed(1) ?? ''} |`,
    );
  }
  return lines.join('\n');
}

/** A benchmark module's default export. */
export type Bench = () => BenchRow[] | Promise<BenchRow[]>;
