// Replay buffer throughput: batch inserts, and prioritized sample (+ gather + importance weights)
// with the priority update, at capacity 1M and 10M, batch 256 and 4096; against a plain
// TypeScript sum-tree buffer doing the same work in the same run. Native calls run on one thread
// (the target is per core). Next to the wall-clock rows, "[cpu time]" rows divide by the
// process's CPU time instead: on a shared, oversubscribed machine that is the per-core rate.
import { backends, ReplayBuffer, setNumThreads } from '../src/index.js';
import { timeIt, type BenchRow } from './harness.js';

const OBS = 4;

// The TypeScript baseline: flat typed arrays, a float64 sum tree and min tree, the same sampling.
class TsPrioritizedBuffer {
  readonly leaves: number;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly obs: Float32Array;
  readonly next: Float32Array;
  readonly act: Float32Array;
  readonly rew: Float32Array;
  readonly done: Uint8Array;
  size = 0;
  cursor = 0;
  maxP = 1;
  constructor(readonly capacity: number, readonly alpha = 0.6) {
    let n = 1;
    while (n < capacity) n *= 2;
    this.leaves = n;
    this.sum = new Float64Array(2 * n);
    this.min = new Float64Array(2 * n).fill(Infinity);
    this.obs = new Float32Array(capacity * OBS);
    this.next = new Float32Array(capacity * OBS);
    this.act = new Float32Array(capacity);
    this.rew = new Float32Array(capacity);
    this.done = new Uint8Array(capacity);
  }
  private set(i: number, p: number): void {
    let k = i + this.leaves;
    this.sum[k] = p;
    this.min[k] = p;
    for (k >>= 1; k >= 1; k >>= 1) {
      this.sum[k] = this.sum[2 * k] + this.sum[2 * k + 1];
      this.min[k] = Math.min(this.min[2 * k], this.min[2 * k + 1]);
    }
  }
  add(rows: number, obs: Float32Array, act: Float32Array, rew: Float32Array, next: Float32Array, done: Uint8Array): void {
    const leaf = Math.pow(this.maxP, this.alpha);
    for (let i = 0; i < rows; i++) {
      const s = this.cursor;
      this.obs.set(obs.subarray(i * OBS, i * OBS + OBS), s * OBS);
      this.next.set(next.subarray(i * OBS, i * OBS + OBS), s * OBS);
      this.act[s] = act[i];
      this.rew[s] = rew[i];
      this.done[s] = done[i];
      this.set(s, leaf);
      this.cursor = (s + 1) % this.capacity;
      this.size = Math.min(this.size + 1, this.capacity);
    }
  }
  sample(B: number, beta: number, idx: Int32Array, w: Float32Array, o: Float32Array, a: Float32Array, r: Float32Array, n: Float32Array, d: Uint8Array): void {
    const total = this.sum[1], pmin = this.min[1];
    for (let b = 0; b < B; b++) {
      let mass = Math.random() * total, k = 1;
      while (k < this.leaves) {
        const left = this.sum[2 * k];
        if (mass < left) k = 2 * k;
        else {
          mass -= left;
          k = 2 * k + 1;
        }
      }
      const i = Math.min(k - this.leaves, this.size - 1);
      idx[b] = i;
      w[b] = Math.pow(this.sum[i + this.leaves] / pmin, -beta);
      for (let j = 0; j < OBS; j++) {
        o[b * OBS + j] = this.obs[i * OBS + j];
        n[b * OBS + j] = this.next[i * OBS + j];
      }
      a[b] = this.act[i];
      r[b] = this.rew[i];
      d[b] = this.done[i];
    }
  }
  update(idx: Int32Array, p: Float32Array): void {
    for (let b = 0; b < idx.length; b++) {
      const raw = p[b] + 1e-6;
      this.maxP = Math.max(this.maxP, raw);
      this.set(idx[b], Math.pow(raw, this.alpha));
    }
  }
}

/** Median wall seconds per call, and CPU seconds per call over the same calls. */
function timeBoth(fn: () => void): { wall: number; cpu: number } {
  let calls = 0;
  const c0 = process.cpuUsage();
  const wall = timeIt(() => {
    fn();
    calls++;
  });
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 / calls };
}

export default function bench(): BenchRow[] {
  const threads = backends().cpu.threads;
  setNumThreads(1);
  try {
    return run();
  } finally {
    setNumThreads(threads);
  }
}

function run(): BenchRow[] {
  const rows: BenchRow[] = [];
  const push = (kernel: string, size: string, impl: string, elements: number, bytes: number, t: { wall: number; cpu: number }) => {
    rows.push({ kernel, size, impl, elements, bytes, seconds: t.wall });
    rows.push({ kernel: `${kernel} [cpu time]`, size, impl, elements, bytes, seconds: t.cpu });
  };
  const rowBytes = OBS * 8 + 4 + 4 + 2;
  for (const capacity of [1_000_000, 10_000_000]) {
    const rb = new ReplayBuffer({ capacity, obsDim: OBS, numEnvs: 4096, prioritized: true, seed: 1 });
    const ts = new TsPrioritizedBuffer(capacity);
    // Insert throughput (and the fill): batches of 4096 rows, as from a 4096-copy VectorEnv step.
    const R = 4096;
    const obs = Float32Array.from({ length: R * OBS }, Math.random), next = Float32Array.from({ length: R * OBS }, Math.random);
    const act = Float32Array.from({ length: R }, Math.random), rew = Float32Array.from({ length: R }, Math.random);
    const term = Uint8Array.from({ length: R }, () => (Math.random() < 0.01 ? 1 : 0)), trunc = new Uint8Array(R);
    const insert = { observations: obs, actions: act, rewards: rew, nextObservations: next, terminated: term, truncated: trunc };
    for (let f = 0; f < capacity; f += R) rb.add(insert);
    for (let f = 0; f < capacity; f += R) ts.add(R, obs, act, rew, next, term);
    const size = `cap=${capacity / 1e6}M rows=${R}`;
    push('replay insert (prioritized)', size, 'native cpu', R, R * rowBytes, timeBoth(() => rb.add(insert)));
    push('replay insert (prioritized)', size, 'ts loop', R, R * rowBytes, timeBoth(() => ts.add(R, obs, act, rew, next, term)));
    for (const B of [256, 4096]) {
      const out = rb.allocateBatch(B);
      const pr = Float32Array.from({ length: B }, () => Math.random() * 2);
      const tIdx = new Int32Array(B), tW = new Float32Array(B), tO = new Float32Array(B * OBS), tA = new Float32Array(B), tR = new Float32Array(B), tN = new Float32Array(B * OBS), tD = new Uint8Array(B);
      const s = `cap=${capacity / 1e6}M B=${B}`;
      const nat = timeBoth(() => {
        rb.sample(B, { beta: 0.4 }, out);
        rb.updatePriorities(out.indices, pr);
      });
      const tsl = timeBoth(() => {
        ts.sample(B, 0.4, tIdx, tW, tO, tA, tR, tN, tD);
        ts.update(tIdx, pr);
      });
      push('replay prioritized sample+update', s, 'native cpu', B, B * (rowBytes + 16), nat);
      push('replay prioritized sample+update', s, 'ts loop', B, B * (rowBytes + 16), tsl);
    }
    rb.close();
  }
  return rows;
}
