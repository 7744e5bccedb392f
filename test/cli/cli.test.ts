import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../src/nn/safetensors.js';
import { RlcoreError } from '../../src/errors.js';
import { ppoDefaults } from '../../src/algos/ppo.js';
import { parseAlgorithmFlags, train, type TrainOptions } from '../../src/cli/train.js';

const root = resolve(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'rlcore-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Runs in a scratch directory (where `runs/` would go), so tsx is imported by its path.
const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const args = (a: string[]) => ['--import', tsx, join(root, 'src', 'cli', 'main.ts'), ...a];
function cli(a: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args(a), { cwd: tmp, encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A user mistake: one line on stderr starting with "rlcore:" (or commander's "error:"), no stack trace, non-zero exit.
function expectUserError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const tensorsOf = (dir: string, step: number) => parseSafetensors(new Uint8Array(readFileSync(join(dir, 'checkpoints', `step-${step}.safetensors`)))).tensors;

describe('rlcore train / eval / envs', () => {
  it('trains, logging JSONL, CSV, TensorBoard, a learning curve and checkpoints', () => {
    const dir = join(tmp, 'run1');
    const r = cli(['train', 'ppo', '--env', 'CartPole-v1', '--steps', '6000', '--seed', '2', '--num-envs', '4', '--run-dir', dir, '--checkpoint-every', '2000', '--learning-rate', '0.001', '--no-norm-adv', '--hidden-sizes', '32,32']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^done: CartPole-v1 ppo seed 2: 6144 steps/);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config.algo).toBe('ppo');
    expect(config.config).toMatchObject({ envId: 'CartPole-v1', seed: 2, numEnvs: 4, totalSteps: 6000, learningRate: 0.001, normAdv: false, hiddenSizes: [32, 32] });
    const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(12);
    expect(rows.map((x) => x.global_step)).toEqual(Array.from({ length: 12 }, (_, i) => 512 * (i + 1)));
    for (const key of ['sps', 'episodic_return', 'value_loss', 'policy_loss', 'entropy', 'approx_kl', 'clipfrac']) expect(rows[11], key).toHaveProperty(key);
    const csv = readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0].split(',')[0]).toBe('global_step');
    expect(csv).toHaveLength(13);
    const eps = readFileSync(join(dir, 'episodes.csv'), 'utf8').trim().split('\n');
    expect(eps[0]).toBe('global_step,episodic_return,episodic_length,time');
    expect(eps.length).toBeGreaterThan(50);
    expect(readFileSync(join(dir, 'curve.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    expect(readdirSync(dir).some((f) => f.startsWith('events.out.tfevents.'))).toBe(true);
    const latest = JSON.parse(readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8'));
    expect(latest.step).toBe(6144);
    expect(readdirSync(join(dir, 'checkpoints')).filter((f) => f.endsWith('.safetensors'))).toHaveLength(2); // the newest two are kept
    expect(readdirSync(join(dir, 'checkpoints')).some((f) => f.includes('.tmp-'))).toBe(false);
  });

  it('resumes a paused run to exactly the weights of an uninterrupted one', () => {
    const a = join(tmp, 'straight'), b = join(tmp, 'paused');
    const common = ['train', 'ppo', '--env', 'Pendulum-v1', '--steps', '8192', '--seed', '4', '--num-envs', '2', '--num-steps', '512', '--num-minibatches', '8'];
    expect(cli([...common, '--run-dir', a]).code).toBe(0);
    const paused = cli([...common, '--run-dir', b, '--stop-at', '3000']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/^paused: .* 3072 steps/);
    const resumed = cli(['train', '--resume', b]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const ta = tensorsOf(a, 8192), tb = tensorsOf(b, 8192);
    expect(Object.keys(tb).sort()).toEqual(Object.keys(ta).sort());
    for (const k of Object.keys(ta)) expect(tb[k].data, k).toEqual(ta[k].data);
    const episodes = (d: string) => readFileSync(join(d, 'episodes.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 3).join());
    expect(episodes(b)).toEqual(episodes(a));
  });

  it('evaluates a run and renders an episode', () => {
    const gif = join(tmp, 'ep.gif');
    const r = cli(['eval', join(tmp, 'run1'), '--episodes', '3', '--render', gif, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.returns).toHaveLength(3);
    expect(res.mean).toBeGreaterThan(0);
    expect(readFileSync(gif).subarray(0, 6).toString()).toBe('GIF89a');
    expect(cli(['eval', join(tmp, 'run1'), '--episodes', '2']).stdout).toMatch(/^mean return [\d.]+ ± [\d.]+ over 2 episodes/);
  });

  it('lists environments and their spaces', () => {
    const r = cli(['envs']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/CartPole-v1\s+native\s+obs Box\(\[4\]\)\s+action Discrete\(2\)/);
    expect(r.stdout).toMatch(/Pendulum-v1\s+native\s+obs Box\(\[3\]\)\s+action Box\(-2, 2, \[1\]\)/);
  });

  it('saves a checkpoint on Ctrl-C and exits with 130', async () => {
    const dir = join(tmp, 'interrupted');
    const child = spawn(process.execPath, args(['train', 'ppo', '--env', 'CartPole-v1', '--steps', '100000000', '--run-dir', dir]), { cwd: tmp, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((done) => {
      const poll = setInterval(() => {
        if (existsSync(join(dir, 'metrics.jsonl'))) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 50);
      child.on('exit', (c) => done(c));
    });
    expect(code).toBe(130);
    expect(out).toMatch(/^interrupted: /);
    const latest = JSON.parse(readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8'));
    expect(latest.step).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'checkpoints', latest.tensors))).toBe(true);
  });

  it('reads a --config file under the flags', () => {
    const file = join(tmp, 'cfg.json');
    writeFileSync(file, JSON.stringify({ envId: 'Acrobot-v1', learningRate: 0.002, numSteps: 32 }));
    const dir = join(tmp, 'fromfile');
    const r = cli(['train', 'ppo', '--config', file, '--steps', '512', '--num-steps', '64', '--run-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).config).toMatchObject({ envId: 'Acrobot-v1', learningRate: 0.002, numSteps: 64 });
  });
});

describe('rlcore errors: one line, non-zero exit, no stack trace', () => {
  it('for an unknown environment or algorithm', () => {
    expectUserError(cli(['train', 'ppo', '--env', 'Nope-v9']), /^rlcore: unknown environment 'Nope-v9'; available: .*CartPole-v1/);
    expectUserError(cli(['train', 'dqnx', '--env', 'CartPole-v1']), /^rlcore: unknown algorithm 'dqnx'; available: .*ppo/);
    expectUserError(cli(['train', 'ppo']), /^rlcore: train: --env <id> is required/);
  });

  it('for bad flags and bad values', () => {
    expectUserError(cli(['train', 'ppo', '--env', 'CartPole-v1', '--frobnicate', '3']), /^rlcore: unknown option '--frobnicate' for ppo; options: .*--learning-rate/);
    expectUserError(cli(['train', 'ppo', '--env', 'CartPole-v1', '--steps', '-5']), /^rlcore: --steps must be an integer >= 1/);
    expectUserError(cli(['eval']), /^error: missing required argument/);
  });

  it('from the configuration checks (in process: the same RlcoreErrors the command line prints)', async () => {
    const base = { algo: 'ppo', env: 'CartPole-v1', flags: [] as string[], runs: tmp, progress: false };
    const message = async (o: Partial<TrainOptions>) => {
      try {
        await train({ ...base, ...o, runDir: join(tmp, 'never') });
      } catch (e) {
        expect(e).toBeInstanceOf(RlcoreError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(await message({ flags: ['--learning-rate', 'fast'] })).toMatch(/^ppo: --learning-rate must be a number; received "fast"/);
    expect(await message({ flags: ['--num-minibatches', '3'] })).toMatch(/^ppo: numMinibatches \(3\) must divide/);
    expect(await message({ flags: ['--gamma', '2'] })).toMatch(/^ppo: gamma must be/);
    expect(await message({ flags: ['--norm-adv', 'maybe'] })).toMatch(/^ppo: --norm-adv must be true or false/);
    expect(await message({ flags: ['--hidden-sizes', '64,x'] })).toMatch(/^ppo: --hidden-sizes must be a comma-separated list of numbers/);
    expect(await message({ flags: ['--gamma'] })).toMatch(/^option '--gamma' needs a value/);
    expect(await message({ flags: ['stray'] })).toMatch(/^unexpected argument 'stray'/);
    expect(await message({ config: join(tmp, 'missing.json') })).toMatch(/^config file not found/);
    expect(await message({ resume: join(tmp, 'run1'), seed: 3 })).toMatch(/^train --resume takes the configuration from the run directory/);
    expect(existsSync(join(tmp, 'never'))).toBe(false);
    expect(parseAlgorithmFlags('ppo', ['--no-anneal-lr', '--target-kl', '0.02', '--activation=relu'], ppoDefaults('CartPole-v1'))).toEqual({ annealLr: false, targetKl: 0.02, activation: 'relu' });
  });

  it('for a missing or corrupt run or checkpoint', () => {
    expectUserError(cli(['eval', join(tmp, 'no-such-run')]), /^rlcore: run directory not found/);
    const dir = join(tmp, 'corrupt');
    expect(cli(['train', 'ppo', '--env', 'CartPole-v1', '--steps', '512', '--num-envs', '4', '--run-dir', dir]).code).toBe(0);
    const latest = JSON.parse(readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8'));
    writeFileSync(join(dir, 'checkpoints', latest.tensors), 'garbage');
    expectUserError(cli(['eval', dir]), /^rlcore: checkpoint is corrupt/);
    writeFileSync(join(dir, 'checkpoints', 'latest.json'), '{"step": 1, ');
    expectUserError(cli(['train', '--resume', dir]), /^rlcore: checkpoint is corrupt/);
    rmSync(join(dir, 'checkpoints'), { recursive: true });
    expectUserError(cli(['eval', dir]), /^rlcore: checkpoint not found/);
  });
});
