/**
 * rlcore: reinforcement-learning kernels for Node.js, in C++ and CUDA behind a thin TypeScript layer.
 * @packageDocumentation
 */
export { RlcoreError, type RlcoreErrorCode } from './errors.js';
export { backends, resolveDevice, setNumThreads, type Backends, type CudaDeviceInfo, type Device } from './device.js';
export type { AddonSource } from './native.js';
export { gae, gaeAsync, type GaeOptions, type GaeResult } from './kernels/gae.js';
