import { RlcoreError } from './errors.js';
import { loadNative, native, type AddonSource } from './native.js';

/** Where a kernel runs. `auto` picks CUDA when a device is present and says once when it falls back to CPU. */
export type Device = 'auto' | 'cpu' | 'cuda';

/** A CUDA device as reported by the runtime. */
export interface CudaDeviceInfo {
  /** Device ordinal. */
  index: number;
  /** Marketing name, e.g. "NVIDIA H100 80GB HBM3". */
  name: string;
  /** "major.minor". */
  computeCapability: string;
  /** Global memory in bytes. */
  memoryBytes: number;
}

/** What this process can run on; see {@link backends}. */
export interface Backends {
  /** The CPU backend (always present). */
  cpu: {
    /** Threads the native thread pool uses (RLCORE_NUM_THREADS or the core count). */
    threads: number;
    /** Vector width, in bits, the kernels were compiled for. */
    simdWidthBits: number;
    /** Instruction-set extensions this CPU reports (x86 only). */
    cpuFeatures: string[];
  };
  /** The CUDA backend. */
  cuda: {
    /** The loaded addon contains the CUDA kernels. */
    built: boolean;
    /** Devices found (empty without a GPU or driver). */
    devices: CudaDeviceInfo[];
    /** "ok", "no device", or why CUDA is unavailable. */
    status: string;
  };
  /** N-API version the addon targets. */
  napiVersion: number;
  /** Which addon file was loaded. */
  addon: AddonSource;
}

/** Reports the available backends: CPU threads and SIMD width, whether CUDA is built, devices found. */
export function backends(): Backends {
  const { binding, source } = loadNative();
  return { ...(binding.backends() as Omit<Backends, 'addon'>), addon: source };
}

let cudaAvailable: boolean | undefined;
let warnedFallback = false;

function cudaReady(): { ok: boolean; why: string } {
  const b = native().backends() as Omit<Backends, 'addon'>;
  if (!b.cuda.built) return { ok: false, why: b.cuda.status };
  if (b.cuda.devices.length === 0) return { ok: false, why: `no CUDA device (${b.cuda.status})` };
  return { ok: true, why: '' };
}

const DEVICES: readonly string[] = ['auto', 'cpu', 'cuda'];

let envDefault: string | undefined;

/**
 * Resolves a requested device to the one a kernel will use. `undefined` means the RLCORE_DEVICE
 * environment variable (read once per process), or `auto`. An explicit `cuda` without a usable
 * device throws ERR_DEVICE.
 */
export function resolveDevice(requested?: Device): 'cpu' | 'cuda' {
  if (requested === 'cpu') return 'cpu';
  // process.env is slow to read; the default is read once per process.
  const source = requested ?? (envDefault ??= process.env.RLCORE_DEVICE ?? 'auto');
  if (!DEVICES.includes(source)) {
    const from = requested === undefined ? 'RLCORE_DEVICE' : 'device';
    throw new RlcoreError('ERR_DEVICE', `${from} must be 'auto', 'cpu' or 'cuda'; received ${JSON.stringify(source)}`);
  }
  if (source === 'cpu') return 'cpu';
  if (cudaAvailable === undefined) {
    const ready = cudaReady();
    cudaAvailable = ready.ok;
    if (!ready.ok && source === 'auto' && !warnedFallback) {
      warnedFallback = true;
      process.emitWarning(`rlcore: device 'auto' is using the CPU: ${ready.why}`, { code: 'RLCORE_CPU_FALLBACK' });
    }
  }
  if (source === 'cuda' && !cudaAvailable) {
    throw new RlcoreError('ERR_DEVICE', `device 'cuda' requested but unavailable: ${cudaReady().why}`);
  }
  return cudaAvailable ? 'cuda' : 'cpu';
}

/** Sets the number of CPU threads the native kernels use (1 disables threading). */
export function setNumThreads(threads: number): void {
  native().setNumThreads(threads);
}
