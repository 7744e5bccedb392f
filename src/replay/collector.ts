// What every off-policy algorithm does around its update: step N environment copies, keep the
// observation the step started from (for the replay insert), count finished episodes, and
// checkpoint / restore the environments exactly (same approach as PPO: replay each copy's resets
// on a fresh environment, then set the physical states). Also: the replay buffer as a checkpoint tensor.
import { RlcoreError } from '../errors.js';
import type { FinishedEpisodes } from '../algos/base.js';
import type { VectorBuffers, VectorEnv } from '../envs/env.js';
import { NativeVectorEnv } from '../envs/native_vector_env.js';
import { make } from '../envs/registry.js';
import type { ParamInfo, Sequential } from '../nn/mlp.js';
import { Adam } from '../nn/optim.js';
import type { Tensor } from '../nn/safetensors.js';
import { ReplayBuffer } from './replay.js';

/** JSON state of a {@link Collector} (see {@link Collector.checkpoint}). */
export interface CollectorState {
  /** Resets per copy since the start (episodes ended). */
  resets: number[];
  /** Physical state of each copy (native environments). */
  envStates: number[][];
  /** Return so far of each copy's running episode. */
  episodeReturn: number[];
  /** Length so far of each copy's running episode. */
  episodeLength: number[];
  /** Finished episodes not drained yet. */
  pending: FinishedEpisodes;
}

/** N environment copies stepped for an off-policy learner, with episode bookkeeping. */
export class Collector {
  /** The environments. */
  env: VectorEnv;
  /** Copies N. */
  readonly numEnvs: number;
  /** Observation length. */
  readonly obsDim: number;
  /** `[N, obsDim]` the observation the next step starts from. */
  readonly observations: Float32Array;
  /** `[N, obsDim]` the observation the last step started from (s_t of the last transitions). */
  readonly previous: Float32Array;
  private readonly envId: string;
  private readonly seed: number;
  private resets: Float64Array;
  private readonly epRet: Float64Array;
  private readonly epLen: Float64Array;
  private finished: FinishedEpisodes = { returns: [], lengths: [] };

  /** Makes and resets `numEnvs` copies of `envId` seeded with `seed`. */
  constructor(envId: string, numEnvs: number, seed: number) {
    this.envId = envId;
    this.seed = seed;
    this.env = make(envId, { numEnvs, seed });
    this.numEnvs = this.env.numEnvs;
    this.obsDim = this.env.obsDim;
    this.observations = Float32Array.from(this.env.reset());
    this.previous = new Float32Array(this.observations.length);
    this.resets = new Float64Array(numEnvs);
    this.epRet = new Float64Array(numEnvs);
    this.epLen = new Float64Array(numEnvs);
  }

  /** Steps every copy with `actions`; afterwards {@link previous} holds s_t and {@link observations} s_{t+1}. */
  step(actions: Int32Array | Float32Array): VectorBuffers {
    this.previous.set(this.observations);
    const b = this.env.step(actions);
    for (let i = 0; i < this.numEnvs; i++) {
      this.epRet[i] += b.rewards[i];
      this.epLen[i]++;
      if (b.terminated[i] | b.truncated[i]) {
        this.finished.returns.push(this.epRet[i]);
        this.finished.lengths.push(this.epLen[i]);
        this.epRet[i] = 0;
        this.epLen[i] = 0;
        this.resets[i]++;
      }
    }
    this.observations.set(b.observations);
    return b;
  }

  /** Episodes finished since the previous call. */
  drain(): FinishedEpisodes {
    const f = this.finished;
    this.finished = { returns: [], lengths: [] };
    return f;
  }

  /** Tensors (current observations) and JSON state of the environments. */
  checkpoint(): { tensors: Record<string, Tensor>; state: CollectorState } {
    const envStates: number[][] = [];
    if (this.env instanceof NativeVectorEnv) for (let i = 0; i < this.numEnvs; i++) envStates.push(Array.from(this.env.getState(i)));
    return {
      tensors: { currentObservation: { dtype: 'F32', shape: [this.numEnvs, this.obsDim], data: Float32Array.from(this.observations) } },
      state: {
        resets: Array.from(this.resets), envStates, episodeReturn: Array.from(this.epRet), episodeLength: Array.from(this.epLen),
        pending: { returns: [...this.finished.returns], lengths: [...this.finished.lengths] },
      },
    };
  }

  /** Checks {@link checkpoint} output; returns the function that applies it (nothing changes before). */
  prepareRestore(tensors: Record<string, Tensor>, st: CollectorState, bad: (what: string) => never): () => void {
    const N = this.numEnvs;
    const vec = (name: string, a: unknown, n: number): number[] => {
      if (!Array.isArray(a) || a.length !== n || !a.every((v) => typeof v === 'number' && Number.isFinite(v))) bad(`${name} must be ${n} finite numbers`);
      return a as number[];
    };
    const obs = tensors.currentObservation;
    if (!obs || obs.dtype !== 'F32' || obs.data.length !== this.observations.length) bad('tensor currentObservation');
    const resets = vec('resets', st?.resets, N), epRet = vec('episodeReturn', st?.episodeReturn, N), epLen = vec('episodeLength', st?.episodeLength, N);
    if (!st.pending || !Array.isArray(st.pending.returns) || !Array.isArray(st.pending.lengths)) bad('pending episodes');
    const probe = make(this.envId, { numEnvs: N, seed: this.seed });
    if (probe instanceof NativeVectorEnv) {
      if (!Array.isArray(st.envStates) || st.envStates.length !== N) bad('envStates');
      st.envStates.forEach((x, i) => vec(`envStates[${i}]`, x, probe.stateDim + 1));
    }
    probe.close();
    return () => {
      this.observations.set(obs.data as Float32Array);
      this.resets = Float64Array.from(resets);
      this.epRet.set(epRet);
      this.epLen.set(epLen);
      this.finished = { returns: [...st.pending.returns], lengths: [...st.pending.lengths] };
      this.restoreEnv(st);
    };
  }

  // A native environment's reset streams are sequential per copy: a fresh environment with the
  // same seed is brought to the same stream positions by replaying each copy's resets (forcing
  // them with a one-step-to-the-time-limit state), then every copy's state is set.
  private restoreEnv(st: CollectorState): void {
    const N = this.numEnvs;
    this.env.close();
    this.env = make(this.envId, { numEnvs: N, seed: this.seed });
    this.env.reset();
    const env = this.env;
    if (!(env instanceof NativeVectorEnv)) return;
    const dim = env.stateDim, start: Float64Array[] = [];
    for (let i = 0; i < N; i++) start.push(env.getState(i));
    const x = new Float64Array(dim + 1);
    let rounds = 0;
    for (const r of st.resets) rounds = Math.max(rounds, r);
    env.actions.fill(0);
    for (let r = 1; r <= rounds; r++) {
      for (let i = 0; i < N; i++) {
        x.set(start[i]);
        x[dim] = st.resets[i] >= r ? env.maxEpisodeSteps - 1 : 0;
        env.setState(i, x);
      }
      env.step();
    }
    for (let i = 0; i < N; i++) env.setState(i, st.envStates[i]);
  }

  /** Releases the environments. */
  close(): void {
    this.env.close();
  }
}

/**
 * Checkpoint tensors of `nets` (`<net>.<param>`) and of their Adam states (`optimizer.<name>.<key>`,
 * or `optimizer.<key>` for the name ''), as copies, with each optimiser's step count.
 */
export function netTensors(
  nets: ReadonlyArray<readonly [string, Sequential]>,
  opts: ReadonlyArray<readonly [string, Adam]>,
): { tensors: Record<string, Tensor>; optimizerSteps: Record<string, number> } {
  const tensors: Record<string, Tensor> = {}, optimizerSteps: Record<string, number> = {};
  for (const [name, net] of nets) {
    for (const p of net.parameters()) tensors[`${name}.${p.name}`] = { dtype: 'F32', shape: p.shape, data: Float32Array.from(p.data) };
  }
  for (const [name, opt] of opts) {
    const prefix = name ? `optimizer.${name}.` : 'optimizer.';
    for (const [key, t] of Object.entries(opt.stateDict().tensors)) tensors[prefix + key] = { ...t, data: Float32Array.from(t.data as Float32Array) };
    optimizerSteps[name] = opt.stepCount;
  }
  return { tensors, optimizerSteps };
}

/** Adds the replay buffer to checkpoint `tensors` when `include`; returns its byte length (−1: not included). */
export function addReplayTensor(tensors: Record<string, Tensor>, rb: ReplayBuffer, include: boolean): number {
  if (!include) return -1;
  const r = replayTensor(rb);
  tensors.replay = r.tensor;
  return r.byteLength;
}

/**
 * The replay buffer a checkpoint holds (undefined when it holds none: `byteLength` −1); `bad`
 * throws when it is malformed or `fits` rejects its layout.
 */
export function restoreReplay(
  tensors: Record<string, Tensor>,
  byteLength: number,
  fits: (rb: ReplayBuffer) => boolean,
  bad: (what: string) => never,
): ReplayBuffer | undefined {
  if (byteLength < 0) return undefined;
  const rb = replayFromTensor(tensors.replay, byteLength);
  if (!fits(rb)) {
    rb.close();
    bad('replay buffer layout');
  }
  return rb;
}

/** The whole replay buffer as one checkpoint tensor (its bytes, zero-padded into I32 words). */
export function replayTensor(rb: ReplayBuffer): { tensor: Tensor; byteLength: number } {
  const bytes = rb.serialize();
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  return { tensor: { dtype: 'I32', shape: [words.length], data: words }, byteLength: bytes.length };
}

/** The buffer stored by {@link replayTensor}; ERR_IO when the tensor is not one. */
export function replayFromTensor(t: Tensor | undefined, byteLength: number): ReplayBuffer {
  if (!t || t.dtype !== 'I32' || !Number.isInteger(byteLength) || byteLength < 0 || byteLength > t.data.byteLength) {
    throw new RlcoreError('ERR_IO', 'replay checkpoint: missing or malformed replay tensor');
  }
  return ReplayBuffer.deserialize(new Uint8Array(t.data.buffer, t.data.byteOffset, byteLength));
}

/**
 * Checks a checkpoint's weights for `nets` (tensors named `<net>.<param>`) and returns the
 * writes that load them; `bad` throws. Nothing is written until the caller runs the writes,
 * so a mismatched checkpoint leaves the run unchanged.
 */
export function prepareNetsRestore(
  tensors: Record<string, Tensor>,
  nets: ReadonlyArray<readonly [string, Sequential]>,
  bad: (what: string) => never,
): Array<() => void> {
  const writes: Array<() => void> = [];
  for (const [name, net] of nets) {
    for (const p of net.parameters()) {
      const x = tensors[`${name}.${p.name}`];
      if (!x || x.dtype !== 'F32' || x.data.length !== p.data.length) bad(`tensor ${name}.${p.name}`);
      writes.push(() => p.data.set(x.data as Float32Array));
    }
  }
  return writes;
}

/**
 * Checks the Adam state stored under `prefix` (e.g. "optimizer.actor.") against `opt` by loading
 * it into a scratch optimiser, and returns the write that loads it into `opt`.
 */
export function prepareOptimizerRestore(
  tensors: Record<string, Tensor>,
  prefix: string,
  opt: Adam,
  paramInfo: readonly ParamInfo[] | undefined,
  step: unknown,
  bad: (what: string) => never,
): () => void {
  const state: Record<string, Tensor> = {};
  for (const [key, x] of Object.entries(tensors)) if (key.startsWith(prefix)) state[key.slice(prefix.length)] = x;
  const meta = { step: String(step) };
  const n = opt.m.length;
  try {
    new Adam({ params: new Float32Array(n), grads: new Float32Array(n), paramInfo }).loadStateDict({ tensors: state, metadata: meta });
  } catch (e) {
    bad(`optimizer ${prefix}: ${(e as Error).message}`);
  }
  return () => opt.loadStateDict({ tensors: state, metadata: meta });
}
