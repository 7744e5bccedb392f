// The addon is context-aware: it loads and runs in worker_threads, each with its own error class.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { gae } from '../../src/index.js';
import { loadNative } from '../../src/native.js';

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const binding = require(workerData.addon);
class WorkerError extends Error { constructor(code, message) { super(message); this.code = code; } }
binding.setErrorClass(WorkerError);
const { T, N } = workerData;
const r = new Float32Array(T * N).map((_, i) => Math.sin(i));
const v = new Float32Array(T * N).map((_, i) => Math.cos(i));
const adv = new Float32Array(T * N), ret = new Float32Array(T * N);
binding.gae(T, N, r, v, undefined, undefined, undefined, undefined, undefined, 0.99, 0.95, adv, ret, false, false);
let errorOk = false;
try { binding.gae(T, N, r, new Float32Array(1)); } catch (e) { errorOk = e instanceof WorkerError && e.code === 'ERR_SHAPE'; }
binding.gae(T, N, r, v, undefined, undefined, undefined, undefined, undefined, 0.99, 0.95, adv, ret, false, true)
  .then(() => parentPort.postMessage({ adv, errorOk }));
`;

function runWorker(addon: string, T: number, N: number): Promise<{ adv: Float32Array; errorOk: boolean }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerSource, { eval: true, workerData: { addon, T, N } });
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('worker_threads', () => {
  it('loads and computes the same results in several workers at once', async () => {
    const addon = loadNative().source.path;
    const T = 300, N = 70;
    const r = new Float32Array(T * N).map((_, i) => Math.sin(i));
    const v = new Float32Array(T * N).map((_, i) => Math.cos(i));
    const [a, b] = await Promise.all([runWorker(addon, T, N), runWorker(addon, T, N)]);
    const main = gae({ shape: [T, N], rewards: r, values: v, device: 'cpu' });
    for (const w of [a, b]) {
      expect(w.errorOk).toBe(true);
      expect(Array.from(w.adv)).toEqual(Array.from(main.advantages));
    }
  });

  it('keeps working in the main thread after workers exit', async () => {
    const addon = loadNative().source.path;
    await runWorker(addon, 4, 3);
    const out = gae({ shape: [1, 1], rewards: new Float32Array([1]), values: new Float32Array([0]), device: 'cpu' });
    expect(out.advantages[0]).toBe(1);
  });
});
