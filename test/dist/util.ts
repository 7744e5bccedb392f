// Small helpers for the distribution and loss tests.
import { expect } from 'vitest';
import { RlcoreError } from '../../src/errors.js';

/** The RlcoreError code `f` throws, or 'no error'. */
export function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

/** Central finite difference of f at x[i] (x is modified and restored). */
export function fd(f: () => number, x: Float64Array | number[], i: number, h = 1e-6): number {
  const x0 = x[i];
  x[i] = x0 + h;
  const up = f();
  x[i] = x0 - h;
  const down = f();
  x[i] = x0;
  return (up - down) / (2 * h);
}

/** Asserts analytic gradient `g` of f w.r.t. x matches finite differences. */
export function expectGradient(f: () => number, x: Float64Array | number[], g: ArrayLike<number>, tol = 1e-5): void {
  for (let i = 0; i < x.length; i++) {
    const num = fd(f, x, i);
    if (!(Math.abs(num - g[i]) <= tol * (1 + Math.abs(num)))) {
      expect.fail(`gradient element ${i}: analytic ${g[i]}, finite difference ${num}`);
    }
  }
}

/** Row-wise random integers in [0, n). */
export function randomInts(length: number, n: number, rand: () => number): Int32Array {
  return Int32Array.from({ length }, () => Math.floor(rand() * n));
}
