// CUDA vs CPU parity of the replay buffer (cuda/replay.cu) with nothing but Node.js and the CUDA
// addon, as scripts/device-parity-llm.mjs does for the LLM losses: each case feeds the same
// inserts to a buffer created with useCuda = false and one with useCuda = true, and after every
// step compares the serialized buffers byte for byte (rows, links, priority leaves, episodes,
// cursor), the sampled rows and importance weights (uniform and prioritized, same seed), the
// gathered batches and the priority roots after updates; a second device buffer checks that the
// device path is deterministic. Ends with timings at capacity 1M, batch 4096.
//   RLCORE_ADDON=build-cuda/Release/rlcore.node node scripts/device-parity-replay.mjs
// Exit status: 0 all passed, 1 a mismatch or error, 2 no CUDA device (nothing was compared).
import { openCudaAddon, rng } from './device-common.mjs';

const { binding } = openCudaAddon();
const CTORS = [Float32Array, Int32Array, Uint8Array];
const bytesOf = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

let failures = 0, cases = 0;
function same(label, got, want) {
  if (!bytesOf(got).equals(bytesOf(want))) {
    failures++;
    console.log(`FAIL ${label}`);
    return false;
  }
  return true;
}

// fields: [name, dtype (0 f32, 1 i32, 2 u8), width]; the six fixed ones first.
function create(c, useCuda) {
  return binding.replayCreate(c.capacity, c.fields.map((f) => f[0]), Int32Array.from(c.fields, (f) => f[1]),
    Int32Array.from(c.fields, (f) => f[2]), c.numEnvs, c.prioritized, 0.6, 1e-6, c.seed, useCuda);
}
function randomArrays(c, rows, rand) {
  return c.fields.map(([name, dtype, width], f) => {
    const a = new CTORS[dtype](rows * width);
    for (let i = 0; i < a.length; i++) {
      a[i] = f === 4 || f === 5 ? (rand() < 0.08 ? 1 : 0) : dtype === 0 ? rand() * 2 - 1 : Math.floor(rand() * (dtype === 2 ? 256 : 1e6));
    }
    return a;
  });
}
function sampleAndGather(c, h, B, uniform, beta) {
  const rows = new Int32Array(B), weights = new Float32Array(B), discounts = new Float32Array(B);
  binding.replaySample(h, B, uniform, beta, rows, weights);
  const outs = c.fields.map(([, dtype, width]) => new CTORS[dtype](B * width));
  binding.replayGather(h, rows, outs, 1, 0.99, discounts);
  return [rows, weights, discounts, ...outs];
}

function parity(c) {
  cases++;
  const label = `capacity ${c.capacity} prioritized ${c.prioritized} fields ${c.fields.length}`;
  const cpu = create(c, false), dev = create(c, true), dev2 = create(c, true);
  const rand = rng(c.seed);
  try {
    for (let step = 0; step < 12; step++) {
      const rows = 1 + Math.floor(rand() * (step === 6 ? 2.5 * c.capacity + 3 : 3000));
      const arrays = randomArrays(c, rows, rand);
      const fin = rand() < 0.5 ? Float32Array.from({ length: rows * c.fields[0][2] }, () => rand()) : undefined;
      const ids = Int32Array.from({ length: rows }, () => Math.floor(rand() * c.numEnvs));
      for (const h of [cpu, dev, dev2]) binding.replayAdd(h, arrays, rows, fin, ids);
      if (!same(`${label} step ${step}: serialized after insert`, binding.replaySerialize(dev), binding.replaySerialize(cpu))) return;
      const B = 1 + Math.floor(rand() * 5000);
      for (const uniform of c.prioritized ? [false, true] : [true]) {
        const want = sampleAndGather(c, cpu, B, uniform, 0.4), got = sampleAndGather(c, dev, B, uniform, 0.4);
        const again = sampleAndGather(c, dev2, B, uniform, 0.4);
        got.forEach((a, i) => same(`${label} step ${step} uniform ${uniform}: output ${i}`, a, want[i]));
        got.forEach((a, i) => same(`${label} step ${step} uniform ${uniform}: determinism ${i}`, again[i], a));
        if (c.prioritized && !uniform) {
          const p = Float32Array.from(want[0], () => rand() * 3);
          for (const h of [cpu, dev, dev2]) binding.replayUpdatePriorities(h, want[0], p);
          const a = binding.replayInfo(dev), b = binding.replayInfo(cpu);
          if (a.prioritySum !== b.prioritySum || a.priorityMin !== b.priorityMin) {
            failures++;
            console.log(`FAIL ${label} step ${step}: roots cuda ${a.prioritySum} ${a.priorityMin}, cpu ${b.prioritySum} ${b.priorityMin}`);
          }
        }
      }
    }
    same(`${label}: serialized at the end`, binding.replaySerialize(dev), binding.replaySerialize(cpu));
  } catch (e) {
    failures++;
    console.log(`ERROR ${label}: ${e.code ?? ''} ${e.message}`);
  } finally {
    for (const h of [cpu, dev, dev2]) binding.replayClose(h);
  }
}

const fixed = (obs, act, actType) => [['obs', 0, obs], ['act', actType, act], ['rew', 0, 1], ['next', 0, obs], ['term', 2, 1], ['trunc', 2, 1]];
parity({ capacity: 1, fields: fixed(1, 1, 0), numEnvs: 1, prioritized: false, seed: 1 });
parity({ capacity: 7, fields: fixed(3, 1, 1), numEnvs: 3, prioritized: true, seed: 2 });
parity({ capacity: 1000, fields: [...fixed(5, 2, 0), ['logp', 0, 1], ['tag', 2, 3], ['opt', 1, 2]], numEnvs: 8, prioritized: true, seed: 3 });
parity({ capacity: 100_003, fields: fixed(17, 6, 0), numEnvs: 64, prioritized: true, seed: 4 });
parity({ capacity: 1_000_000, fields: fixed(3, 1, 0), numEnvs: 256, prioritized: true, seed: 5 });
console.log(`${cases} cases, ${failures} failures`);

// Timings (host arrays in and out, copies included): insert 4096 rows, prioritized sample + gather
// + update of 4096 at capacity 1M, cuda next to cpu.
{
  const c = { capacity: 1_000_000, fields: fixed(3, 1, 0), numEnvs: 4096, prioritized: true, seed: 6 };
  const rand = rng(6), arrays = randomArrays(c, 4096, rand);
  for (const useCuda of [true, false]) {
    const h = create(c, useCuda);
    const ins = () => binding.replayAdd(h, arrays, 4096, undefined, undefined);
    for (let i = 0; i < 250; i++) ins();
    let t = performance.now();
    for (let i = 0; i < 100; i++) ins();
    const insertUs = ((performance.now() - t) / 100) * 1e3;
    const p = new Float32Array(4096).fill(1.5);
    const step = () => {
      const out = sampleAndGather(c, h, 4096, false, 0.4);
      binding.replayUpdatePriorities(h, out[0], p);
    };
    step();
    t = performance.now();
    for (let i = 0; i < 100; i++) step();
    const stepUs = ((performance.now() - t) / 100) * 1e3;
    console.log(`timing ${useCuda ? 'cuda' : 'cpu '}: insert 4096 ${insertUs.toFixed(0)} us (${(4096 / insertUs).toFixed(1)} M/s); ` +
      `prioritized sample+gather+update 4096 at 1M ${stepUs.toFixed(0)} us (${(4096 / stepUs).toFixed(1)} M/s)`);
    binding.replayClose(h);
  }
}
console.log(`${cases} cases, ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);
