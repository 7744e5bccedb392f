// Run directories and checkpoints: written atomically (temporary file, fsync, rename), read
// back with clear errors. Layout of a run directory:
//   config.json                        algorithm, full configuration, CLI settings
//   checkpoints/step-<n>.safetensors   RunState.tensors (weights, optimiser, statistics)
//   checkpoints/step-<n>.json          RunState.state (counters, RNG positions, env states)
//   checkpoints/latest.json            { step, tensors, state } of the newest checkpoint
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RlcoreError } from '../errors.js';
import type { RunState } from '../algos/base.js';
import { parseSafetensors, serializeSafetensors } from '../nn/safetensors.js';

/** Writes `data` to `path` atomically: a temporary file in the same directory, fsync, rename. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new RlcoreError('ERR_IO', `cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Reads and parses a JSON file; a missing or malformed file is an ERR_IO naming it. */
export function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new RlcoreError('ERR_IO', `${what} not found: ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RlcoreError('ERR_IO', `${what} is corrupt (${path}): ${(e as Error).message}`);
  }
}

/**
 * Saves a checkpoint at `step` (with the command line's own state `cli`) and points latest.json
 * at it; keeps the newest `keep` checkpoints.
 */
export function saveRunCheckpoint(runDir: string, step: number, state: RunState, cli: unknown = null, keep = 2): void {
  const dir = join(runDir, 'checkpoints');
  const base = `step-${step}`;
  writeFileAtomic(join(dir, `${base}.safetensors`), serializeSafetensors(state.tensors, { format: 'rlcore', step: String(step) }));
  writeFileAtomic(join(dir, `${base}.json`), JSON.stringify({ step, state: state.state, cli }));
  writeFileAtomic(join(dir, 'latest.json'), JSON.stringify({ step, tensors: `${base}.safetensors`, state: `${base}.json` }, null, 2));
  const steps = readdirSync(dir)
    .map((f) => /^step-(\d+)\.json$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  for (const s of steps.slice(keep)) {
    rmSync(join(dir, `step-${s}.json`), { force: true });
    rmSync(join(dir, `step-${s}.safetensors`), { force: true });
  }
}

/** Loads the newest checkpoint of a run directory. */
export function loadRunCheckpoint(runDir: string): { step: number; state: RunState; cli: unknown } {
  const dir = join(runDir, 'checkpoints');
  const latest = readJson(join(dir, 'latest.json'), 'checkpoint') as { step?: unknown; tensors?: unknown; state?: unknown };
  if (typeof latest?.tensors !== 'string' || typeof latest.state !== 'string' || !Number.isInteger(latest.step)) {
    throw new RlcoreError('ERR_IO', `checkpoint is corrupt (${join(dir, 'latest.json')}): expected { step, tensors, state }`);
  }
  const tensorsPath = join(dir, latest.tensors);
  if (!existsSync(tensorsPath)) throw new RlcoreError('ERR_IO', `checkpoint not found: ${tensorsPath}`);
  let tensors: RunState['tensors'];
  try {
    tensors = parseSafetensors(new Uint8Array(readFileSync(tensorsPath))).tensors;
  } catch (e) {
    throw new RlcoreError('ERR_IO', `checkpoint is corrupt (${tensorsPath}): ${(e as Error).message}`);
  }
  const st = readJson(join(dir, latest.state), 'checkpoint state') as { step?: unknown; state?: unknown; cli?: unknown };
  if (st?.step !== latest.step) throw new RlcoreError('ERR_IO', `checkpoint is corrupt: ${latest.state} does not belong to step ${String(latest.step)}`);
  return { step: latest.step as number, state: { tensors, state: st.state }, cli: st.cli ?? null };
}
