import { whiten } from '../src/index.js';
import { timeKernel, type BenchRow } from './harness.js';

// Plain TS loop: two-pass mean/std in float64, then the normalised write.
function tsWhiten(x: Float32Array, mask: Uint8Array | undefined, out: Float32Array, eps: number): void {
  let sum = 0, count = 0;
  for (let i = 0; i < x.length; i++) if (!mask || mask[i]) sum += x[i], count++;
  const mean = count ? sum / count : 0;
  let ss = 0;
  for (let i = 0; i < x.length; i++) if (!mask || mask[i]) ss += (x[i] - mean) ** 2;
  const scale = 1 / ((count > 1 ? Math.sqrt(ss / (count - 1)) : 0) + eps);
  for (let i = 0; i < x.length; i++) out[i] = !mask || mask[i] ? (x[i] - mean) * scale : 0;
}

export default function bench(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [n, masked] of [[8192, false], [8 << 20, false], [8 << 20, true]] as const) {
    const x = new Float32Array(n).map(() => Math.random() * 2 - 1);
    const mask = masked ? new Uint8Array(n).map(() => (Math.random() < 0.7 ? 1 : 0)) : undefined;
    const out = new Float32Array(n);
    const bytes = n * (8 + (masked ? 1 : 0)); // read x (and mask), write out
    const size = `n=${n}${masked ? ' mask' : ''}`;
    const native = (): unknown => whiten({ x, mask, out, device: 'cpu' });
    const ts = (): void => tsWhiten(x, mask, out, 1e-8);
    rows.push(...timeKernel('whiten', size, n, bytes, native, ts)); // interleaved rounds
  }
  return rows;
}
