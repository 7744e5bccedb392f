// `npm run bench [-- name ...]`: runs bench/*.bench.ts (all, or those whose name contains an argument).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { copyBandwidthGBs, formatTable, type Bench, type BenchRow } from './harness.js';
import { backends } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => /\.bench\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const b = backends();
console.log(`rlcore bench: ${new Date().toISOString()}, node ${process.version}, ${b.cpu.threads} threads, SIMD ${b.cpu.simdWidthBits}-bit, CUDA ${b.cuda.status}`);
const copy = copyBandwidthGBs();
const rows: BenchRow[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: Bench };
  const got = await mod.default();
  rows.push(...got);
  console.error(`done ${f}`);
}
console.log(formatTable(rows, copy));
