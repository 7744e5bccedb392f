// Plain-loop Fisher–Yates on the TypeScript Philox stream and a row gather: the hand
// calculations the native permutation and gatherRows kernels are checked against.
import { RandomStream } from '../../src/envs/random.js';

export function permutationRef(n: number, seed: number, stream: number): number[] {
  const rng = new RandomStream(seed, stream);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function gatherRowsRef(x: ArrayLike<number>, width: number, indices: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let j = 0; j < indices.length; j++) for (let w = 0; w < width; w++) out.push(x[indices[j] * width + w]);
  return out;
}
