// Spaces (sample / contains / seeding) and the TypeScript Philox against the native one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Box, Discrete, MultiDiscrete, NativeVectorEnv, philox4x32, RandomStream, RlcoreError } from '../../src/index.js';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

describe('Philox in TypeScript', () => {
  it('reproduces the Random123 known-answer vectors of Philox4x32-10', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, new Uint32Array([0, 0, 0, 0]), out);
    expect(Array.from(out)).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    philox4x32(0xffffffff, 0xffffffff, new Uint32Array([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]), out);
    expect(Array.from(out)).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    philox4x32(0xa4093822, 0x299f31d0, new Uint32Array([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]), out);
    expect(Array.from(out)).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });

  it('draws the same uniforms as native RandomStream (via MountainCar initial positions)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (seed) => {
        const env = new NativeVectorEnv('MountainCar-v0', { numEnvs: 3, seed });
        env.reset();
        for (let i = 0; i < 3; i++) {
          const r = new RandomStream(seed + i, 0);
          expect(env.getState(i)[0]).toBe(r.uniform(-0.6, -0.4));
        }
        env.reset(); // the stream goes on
        const r = new RandomStream(seed, 0);
        r.uniform();
        expect(env.getState(0)[0]).toBe(r.uniform(-0.6, -0.4));
      }),
      { numRuns: 50 },
    );
  });

  it('uniforms lie in [lo, hi) and below(n) in [0, n)', () => {
    const r = new RandomStream(3, 7);
    let sum = 0;
    for (let k = 0; k < 20000; k++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      const b = r.below(5);
      expect(Number.isInteger(b) && b >= 0 && b < 5).toBe(true);
    }
    expect(sum / 20000).toBeCloseTo(0.5, 1);
  });
});

describe('spaces', () => {
  it('Box: bounds, shapes, sampling inside, contains', () => {
    const box = new Box([-1, 0, -Infinity, -Infinity], [1, Infinity, 5, Infinity]);
    expect(box.shape).toEqual([4]);
    box.seed(1);
    for (let k = 0; k < 500; k++) {
      const x = box.sample();
      expect(x).toBeInstanceOf(Float32Array);
      expect(box.contains(x)).toBe(true);
      expect(x[1]).toBeGreaterThanOrEqual(0);
      expect(x[2]).toBeLessThanOrEqual(5);
    }
    expect(box.contains(Float32Array.from([2, 0, 0, 0]))).toBe(false);
    expect(box.contains(Float32Array.from([0, -1, 0, 0]))).toBe(false);
    expect(box.contains(Float32Array.from([0, 0, 0, NaN]))).toBe(false);
    expect(box.contains([0, 0, 0])).toBe(false);
    expect(box.contains('x')).toBe(false);
    const grid = new Box(0, 1, [2, 3]);
    expect(grid.size).toBe(6);
    expect(grid.sample().length).toBe(6);
    expect(new Box(-2, 2, [1], 'float64').sample()).toBeInstanceOf(Float64Array);
    box.seed(9);
    const a = Array.from(box.sample());
    box.seed(9);
    expect(Array.from(box.sample())).toEqual(a);
    expect(codeOf(() => new Box([0, 0], [1]))).toBe('ERR_SHAPE');
    expect(codeOf(() => new Box(1, 0))).toBe('ERR_RANGE');
    expect(codeOf(() => new Box(NaN, 0))).toBe('ERR_RANGE');
    expect(codeOf(() => new Box(0, 1, [0]))).toBe('ERR_SHAPE');
    expect(codeOf(() => box.seed(-1))).toBe('ERR_RANGE');
  });

  it('Discrete and MultiDiscrete: every value is sampled, contains checks integers in range', () => {
    const d = new Discrete(3, -1);
    d.seed(4);
    const seen = new Set<number>();
    for (let k = 0; k < 300; k++) {
      const v = d.sample();
      expect(d.contains(v)).toBe(true);
      seen.add(v);
    }
    expect([...seen].sort()).toEqual([-1, 0, 1]);
    expect(d.contains(2)).toBe(false);
    expect(d.contains(0.5)).toBe(false);
    expect(d.contains('0')).toBe(false);
    const m = new MultiDiscrete([2, 5]);
    m.seed(2);
    for (let k = 0; k < 100; k++) expect(m.contains(m.sample())).toBe(true);
    expect(m.contains([1, 5])).toBe(false);
    expect(m.contains([1])).toBe(false);
    expect(m.contains(Int32Array.from([1, 4]))).toBe(true);
    expect(codeOf(() => new Discrete(0))).toBe('ERR_RANGE');
    expect(codeOf(() => new Discrete(2.5))).toBe('ERR_RANGE');
    expect(codeOf(() => new MultiDiscrete([]))).toBe('ERR_SHAPE');
    expect(codeOf(() => new MultiDiscrete([3, 0]))).toBe('ERR_RANGE');
  });
});
