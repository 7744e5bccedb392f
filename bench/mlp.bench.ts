// MLP throughput at RL shapes: forward (inference) and forward + backward + Adam step, in
// samples per second, for rlcore (native CPU), @tensorflow/tfjs (pure-JS CPU backend) and, when
// `python3 -c "import torch"` works, PyTorch on CPU, all in the same run.
import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Adam, Sequential, backends, type LayerSpec } from '../src/index.js';
import type { BenchRow } from './harness.js';

interface Shape {
  name: string;
  input: number;
  hidden: number;
  output: number;
  act: 'tanh' | 'relu';
}

const SHAPES: Shape[] = [
  { name: '4-64-64-2', input: 4, hidden: 64, output: 2, act: 'tanh' },
  { name: '11-64-64-1', input: 11, hidden: 64, output: 1, act: 'tanh' },
  { name: '376-256-256-17', input: 376, hidden: 256, output: 17, act: 'relu' },
];
const BATCHES = [1, 64, 512, 4096];
const QUICK = process.env.RLCORE_BENCH_QUICK === '1';

/** Median seconds per call: batches of calls lasting >= 2 ms each, until `budget` seconds (at least 3 samples, or 1 for slow calls). */
function time(fn: () => void, budget = QUICK ? 0.05 : 0.2): number {
  fn();
  const samples: number[] = [];
  let reps = 1, total = 0;
  for (;;) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    const dt = (performance.now() - t0) / 1000;
    if (dt < 2e-3 && reps < 1 << 20) {
      reps *= 4;
      continue;
    }
    samples.push(dt / reps);
    total += dt;
    if ((total >= budget && samples.length >= 3) || dt > 1) break;
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

function layers(s: Shape): LayerSpec[] {
  return [{ type: 'linear', size: s.hidden }, { type: s.act }, { type: 'linear', size: s.hidden }, { type: s.act }, { type: 'linear', size: s.output }];
}

function nativeTimes(s: Shape, B: number): { fwd: number; train: number } {
  const net = new Sequential({ inputSize: s.input, layers: layers(s), seed: 1, device: 'cpu' });
  const opt = new Adam(net, { lr: 1e-4 });
  const x = new Float32Array(B * s.input).map(() => Math.random() * 2 - 1);
  const out = new Float32Array(B * s.output), dy = new Float32Array(B * s.output).fill(1 / B);
  const fwd = time(() => net.forward(x, out));
  const train = time(() => {
    net.forwardTrain(x, out);
    net.zeroGrad();
    net.backward(dy);
    opt.step();
  });
  return { fwd, train };
}

// tfjs-core's Node build registers no gradient functions (they live in @tensorflow/tfjs), so
// the baseline's backward pass and Adam are written with tfjs ops: the same products and
// element-wise work that its autodiff and optimiser would run.
function tfjsTimes(s: Shape, B: number): { fwd: number; train: number } {
  const dims = [s.input, s.hidden, s.hidden, s.output];
  let params: tf.Tensor[] = [];
  let m: tf.Tensor[] = [], v: tf.Tensor[] = [];
  for (let l = 0; l < 3; l++) {
    params.push(tf.randomUniform([dims[l], dims[l + 1]], -0.1, 0.1), tf.zeros([dims[l + 1]]));
    m.push(tf.zeros([dims[l], dims[l + 1]]), tf.zeros([dims[l + 1]]));
    v.push(tf.zeros([dims[l], dims[l + 1]]), tf.zeros([dims[l + 1]]));
  }
  const act = (t: tf.Tensor) => (s.act === 'tanh' ? tf.tanh(t) : tf.relu(t));
  const dact = (h: tf.Tensor) => (s.act === 'tanh' ? tf.sub(1, tf.square(h)) : tf.step(h));
  const x = tf.randomUniform([B, s.input], -1, 1);
  const dy = tf.fill([B, s.output], 1 / B);
  const forward = (keep: tf.Tensor[]) => {
    let h = x;
    for (let l = 0; l < 3; l++) {
      keep.push(h);
      h = tf.add(tf.matMul(h, params[2 * l]), params[2 * l + 1]);
      if (l < 2) h = act(h);
    }
    return h;
  };
  const fwd = time(() => tf.tidy(() => forward([]).dataSync()));
  let t = 0;
  const train = time(() => {
    t++;
    const next = tf.tidy(() => {
      const hs: tf.Tensor[] = [];
      forward(hs);
      const grads: tf.Tensor[] = new Array(6);
      let g: tf.Tensor = dy;
      for (let l = 2; l >= 0; l--) {
        grads[2 * l] = tf.matMul(hs[l], g, true, false);
        grads[2 * l + 1] = tf.sum(g, 0);
        if (l > 0) g = tf.mul(tf.matMul(g, params[2 * l], false, true), dact(hs[l]));
      }
      const c1 = 1 / (1 - 0.9 ** t), c2 = 1 / (1 - 0.999 ** t);
      const out: tf.Tensor[] = [];
      for (let i = 0; i < 6; i++) {
        const mi = tf.add(tf.mul(m[i], 0.9), tf.mul(grads[i], 0.1));
        const vi = tf.add(tf.mul(v[i], 0.999), tf.mul(tf.square(grads[i]), 0.001));
        const step = tf.div(tf.mul(mi, 1e-4 * c1), tf.add(tf.sqrt(tf.mul(vi, c2)), 1e-8));
        out.push(tf.sub(params[i], step), mi, vi);
      }
      return out;
    });
    next[0].dataSync();
    tf.dispose([...params, ...m, ...v]);
    params = [0, 1, 2, 3, 4, 5].map((i) => next[3 * i]);
    m = [0, 1, 2, 3, 4, 5].map((i) => next[3 * i + 1]);
    v = [0, 1, 2, 3, 4, 5].map((i) => next[3 * i + 2]);
  });
  tf.dispose([x, dy, ...params, ...m, ...v]);
  return { fwd, train };
}

const TORCH_SCRIPT = String.raw`
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
shapes = json.loads(sys.argv[2]); batches = json.loads(sys.argv[3]); budget = float(sys.argv[4])
def timeit(fn):
    fn(); samples = []; reps = 1; total = 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(reps): fn()
        dt = time.perf_counter() - t0
        if dt < 2e-3 and reps < (1 << 20): reps *= 4; continue
        samples.append(dt / reps); total += dt
        if (total >= budget and len(samples) >= 3) or dt > 1: break
    samples.sort(); return samples[len(samples) // 2]
out = []
for s in shapes:
    act = torch.nn.Tanh if s['act'] == 'tanh' else torch.nn.ReLU
    net = torch.nn.Sequential(torch.nn.Linear(s['input'], s['hidden']), act(), torch.nn.Linear(s['hidden'], s['hidden']), act(), torch.nn.Linear(s['hidden'], s['output']))
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    for B in batches:
        x = torch.rand(B, s['input']) * 2 - 1
        def fwd():
            with torch.inference_mode(): net(x)
        def train():
            opt.zero_grad(set_to_none=False); net(x).mean().backward(); opt.step()
        out.append({'shape': s['name'], 'batch': B, 'fwd': timeit(fwd), 'train': timeit(train)})
print(json.dumps(out))
`;

function torchTimes(threads: number): Map<string, { fwd: number; train: number }> | undefined {
  const probe = spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    console.error('mlp bench: PyTorch not available (python3 -c "import torch" failed); skipping the torch comparison');
    return undefined;
  }
  const json = execFileSync('python3', ['-c', TORCH_SCRIPT, String(threads), JSON.stringify(SHAPES), JSON.stringify(BATCHES), String(QUICK ? 0.05 : 0.2)], { encoding: 'utf8' });
  const rows = JSON.parse(json) as Array<{ shape: string; batch: number; fwd: number; train: number }>;
  return new Map(rows.map((r) => [`${r.shape}/${r.batch}`, { fwd: r.fwd, train: r.train }]));
}

export default async function bench(): Promise<BenchRow[]> {
  await tf.setBackend('cpu');
  const threads = backends().cpu.threads;
  const torch = torchTimes(threads);
  const rows: BenchRow[] = [];
  const lines = [
    `MLP samples/s (${threads} threads; tfjs ${tf.version_core} cpu backend${torch ? '; PyTorch CPU' : '; PyTorch not available'})`,
    '',
    '| shape | batch | pass | rlcore | tfjs | torch | vs tfjs | vs torch | rlcore µs/call |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of SHAPES) {
    const params = s.input * s.hidden + s.hidden * s.hidden + s.hidden * s.output + 2 * s.hidden + s.output;
    for (const B of BATCHES) {
      const n = nativeTimes(s, B);
      const t = tfjsTimes(s, B);
      const p = torch?.get(`${s.name}/${B}`);
      for (const pass of ['fwd', 'train'] as const) {
        const label = pass === 'fwd' ? 'forward' : 'fwd+bwd+adam';
        const size = `${s.name} B=${B} ${label}`;
        const bytes = 4 * (params + B * (s.input + s.output));
        rows.push({ kernel: 'mlp', size, impl: 'native cpu', elements: B, bytes, seconds: n[pass] });
        rows.push({ kernel: 'mlp', size, impl: 'tfjs cpu', elements: B, bytes, seconds: t[pass] });
        if (p) rows.push({ kernel: 'mlp', size, impl: 'torch cpu', elements: B, bytes, seconds: p[pass] });
        const sps = (sec: number) => (B / sec).toExponential(2);
        lines.push(
          `| ${s.name} | ${B} | ${label} | ${sps(n[pass])} | ${sps(t[pass])} | ${p ? sps(p[pass]) : 'n/a'} | ${(t[pass] / n[pass]).toFixed(1)}x | ${p ? (p[pass] / n[pass]).toFixed(2) + 'x' : 'n/a'} | ${(n[pass] * 1e6).toFixed(2)} |`,
        );
      }
      console.error(`mlp bench: ${s.name} B=${B} done`);
    }
  }
  console.log(lines.join('\n'));
  console.log('');
  return rows;
}
