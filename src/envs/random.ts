// Philox4x32-10 in TypeScript, bit-identical to native/core/rng.h, so that a TypeScript
// environment seeded like a native one draws the same numbers (and the same episodes).

const M0 = 0xd2511f53, M1 = 0xcd9e8d57, W0 = 0x9e3779b9, W1 = 0xbb67ae85;

// High 32 bits of the 64-bit product of two unsigned 32-bit integers.
function mulhi(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const lh = al * bh, hl = ah * bl;
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011) of a
 * 128-bit counter (four 32-bit words) under a 64-bit key (two words); writes four words to `out`.
 */
export function philox4x32(key0: number, key1: number, c: Uint32Array, out: Uint32Array): void {
  let c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], k0 = key0 >>> 0, k1 = key1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/** Checks a seed: an integer in [0, 2^53). */
export function isSeed(seed: unknown): seed is number {
  return typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= Number.MAX_SAFE_INTEGER;
}

/**
 * Stream `stream` of Philox under key `seed`: the same sequence as `rlcore::RandomStream(seed,
 * stream)` in native/core/rng.h. Seeds and stream ids are integers in [0, 2^53).
 */
export class RandomStream {
  private readonly key0: number;
  private readonly key1: number;
  private readonly counter = new Uint32Array(4);
  private readonly block = new Uint32Array(4);
  private used = 4;

  /**
   * @param seed - the key (an integer in [0, 2^53))
   * @param stream - the stream id, the counter's high 64 bits
   */
  constructor(seed: number, stream = 0) {
    this.key0 = seed >>> 0;
    this.key1 = Math.floor(seed / 4294967296) >>> 0;
    this.counter[2] = stream >>> 0;
    this.counter[3] = Math.floor(stream / 4294967296) >>> 0;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    if (this.used === 4) {
      philox4x32(this.key0, this.key1, this.counter, this.block);
      if (++this.counter[0] === 0) this.counter[1]++;
      this.used = 0;
    }
    return this.block[this.used++];
  }

  /** Uniform double in [lo, hi) from 53 random bits (default [0, 1)). */
  uniform(lo = 0, hi = 1): number {
    const a = this.nextU32(), b = this.nextU32();
    const u = (a * 2097152 + (b >>> 11)) / 9007199254740992;
    return lo + (hi - lo) * u;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32, by 64-bit multiply-shift. */
  below(n: number): number {
    const x = this.nextU32();
    return n >= 0x100000000 ? x : mulhi(x, n >>> 0);
  }
}
