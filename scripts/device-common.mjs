// Shared by the plain-Node CUDA parity scripts (scripts/device-parity*.mjs), which run on a GPU
// machine with nothing but Node.js and the CUDA addon (no node_modules, no TypeScript).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

class RlcoreError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Loads the addon (RLCORE_ADDON, default build-cuda/Release/rlcore.node) and returns its raw
 * binding; exits with status 2 ("nothing was compared") when it has no CUDA device.
 */
export function openCudaAddon({ printStatus = false } = {}) {
  const addonPath = resolve(process.env.RLCORE_ADDON ?? 'build-cuda/Release/rlcore.node');
  const binding = createRequire(import.meta.url)(addonPath);
  binding.setErrorClass(RlcoreError);
  const info = binding.backends();
  console.log(`addon ${addonPath}`);
  if (printStatus) console.log(`cuda: built=${info.cuda.built} status=${info.cuda.status} devices=${JSON.stringify(info.cuda.devices)}`);
  if (!info.cuda.built || info.cuda.devices.length === 0) {
    console.log('no CUDA device: parity not checked');
    process.exit(2);
  }
  return { binding, info, addonPath };
}

/** mulberry32, as in test/helpers.ts: a seed fixes a whole case. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform floats in [lo, hi). */
export const f32 = (n, rand, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
/** n flags, each set with probability p. */
export const flags = (n, rand, p) => Uint8Array.from({ length: n }, () => (rand() < p ? 1 : 0));
