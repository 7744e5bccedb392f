import { describe, expect, it } from 'vitest';
import { backends, RlcoreError } from '../../src/index.js';
import { native } from '../../src/native.js';
import { cudaPresent } from '../helpers.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

describe('CUDA backend', () => {
  it('reports whether it is built, its devices, and why none is usable', () => {
    const { cuda } = backends();
    expect(typeof cuda.built).toBe('boolean');
    expect(cuda.status.length).toBeGreaterThan(0);
    if (!cuda.built) {
      expect(cuda.devices).toEqual([]);
      expect(cuda.status).toContain('build:cuda');
      expect(native().cudaBench).toBeUndefined();
    } else if (cuda.devices.length === 0) {
      expect(cuda.status).toMatch(/^no device/);
    } else {
      expect(cuda.status).toBe('ok');
      for (const d of cuda.devices) expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
    }
  });

  it('guards cudaBench (CUDA builds) against bad input before touching the device', () => {
    if (!backends().cuda.built) return; // CPU builds do not export it (checked above)
    const raw = native();
    const kernels = raw.cudaBenchKernels() as string[];
    expect(kernels).toEqual(expect.arrayContaining(['gae', 'lambda_returns', 'vtrace', 'token_gae']));
    expect(code(() => raw.cudaBench())).toBe('ERR_ARG');
    expect(code(() => raw.cudaBench('nope', 4, 4, 1))).toBe('ERR_ARG');
    expect(code(() => raw.cudaBench('gae', 0, 4, 1))).toBe('ERR_SHAPE');
    expect(code(() => raw.cudaBench('gae', 2 ** 30, 2 ** 30, 1))).toBe('ERR_SHAPE');
    expect(code(() => raw.cudaBench('gae', 4, 4, 0))).toBe('ERR_RANGE');
    if (!cudaPresent()) expect(code(() => raw.cudaBench('gae', 4, 4, 1))).toBe('ERR_DEVICE');
  });

  it.skipIf(!cudaPresent())('cudaBench times every kernel on device-resident data', () => {
    const raw = native();
    for (const kernel of raw.cudaBenchKernels() as string[]) {
      for (const [T, N] of [[1, 1], [4099, 3], [64, 70000]]) {
        const r = raw.cudaBench(kernel, T, N, 2) as { ms: number; bytes: number; elements: number; path: string };
        expect(r.ms).toBeGreaterThan(0);
        expect(r.elements).toBe(T * N);
        expect(r.bytes).toBeGreaterThan(0);
      }
    }
  });
});
