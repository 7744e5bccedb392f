// Trains GRPO on DigitSum-v0 with the default configuration (what `rlcore train grpo --env
// DigitSum-v0` runs) and prints the reward curve: the mean verifiable reward of the sampled
// completions, averaged over windows of 10 iterations.
//
//   RLCORE_ADDON=... npx tsx examples/grpo.ts [seed] [key=value ...]   e.g. loss=gspo aggregation=seqMeanTokenMean
import { grpo, type GrpoConfig } from '../src/index.js';

const [seedArg, ...rest] = process.argv.slice(2);
const config: GrpoConfig = { ...grpo.defaults('DigitSum-v0'), seed: Number(seedArg ?? 1) };
for (const kv of rest) {
  const [k, v] = kv.split('=');
  (config as unknown as Record<string, unknown>)[k] = Number.isNaN(Number(v)) ? v : Number(v);
}
const run = grpo.create(config);
const t0 = performance.now();
let window: number[] = [], iteration = 0, line = '';
while (run.globalStep < config.totalSteps) {
  const m = await run.iterate();
  window.push(m.reward);
  if (++iteration % 10 === 0) {
    line = `iters ${iteration - 9}-${iteration}: reward ${(window.reduce((a, b) => a + b, 0) / window.length).toFixed(3)}  (last: entropy ${(m.entropy ?? NaN).toFixed(3)}, zero-signal groups ${m.zeroGroupFraction.toFixed(2)}, completions ${run.globalStep})`;
    console.log(line);
    window = [];
  }
}
console.log(`${iteration} iterations, ${run.globalStep} completions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
run.close();
