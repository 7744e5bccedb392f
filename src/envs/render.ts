// Drawing the classic-control environments from their observations, as raster frames (for
// animated GIFs, encoded with gifenc) or SVG, following Gymnasium's pictures of them.
import { writeFileSync } from 'node:fs';
import * as gifencModule from 'gifenc';
import { RlcoreError } from '../errors.js';
import { checkNumber, checkSize } from '../validate.js';
import { CLASSIC_CONTROL } from './classic_control.js';
import { NativeVectorEnv } from './native_vector_env.js';

/** An RGB image, row-major, 3 bytes per pixel, top row first. */
export interface RgbFrame {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `[height, width, 3]` bytes. */
  data: Uint8Array;
}

// The fixed palette every picture is drawn with (16 entries: one GIF colour table).
const PALETTE: number[][] = [
  [255, 255, 255], [0, 0, 0], [202, 152, 101], [129, 132, 203], [0, 204, 204], [204, 204, 0],
  [128, 128, 128], [204, 77, 77], [230, 230, 230], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0],
];
// gifenc is CommonJS: Node exposes it as `default`, bundlers (vitest) as named exports.
type GifencApi = typeof gifencModule.default;
const gifenc: GifencApi = ((gifencModule as unknown as { GIFEncoder?: unknown }).GIFEncoder ? gifencModule : gifencModule.default) as GifencApi;

const WHITE = 0, BLACK = 1, POLE = 2, AXLE = 3, LINK = 4, JOINT = 5, GREY = 6, ROD = 7, TRACK = 8;

type Pt = [number, number];
type Shape =
  | { kind: 'poly'; pts: Pt[]; color: number }
  | { kind: 'circle'; c: Pt; r: number; color: number }
  | { kind: 'line'; pts: Pt[]; width: number; color: number };

/** A picture in pixel coordinates with y pointing up (flipped when drawn). */
interface Scene {
  width: number;
  height: number;
  shapes: Shape[];
}

const rot = (p: Pt, a: number): Pt => [p[0] * Math.cos(a) - p[1] * Math.sin(a), p[0] * Math.sin(a) + p[1] * Math.cos(a)];
const add = (p: Pt, q: Pt): Pt => [p[0] + q[0], p[1] + q[1]];

function bar(from: Pt, angle: number, length: number, width: number, color: number): Shape {
  const corners: Pt[] = [[0, -width / 2], [0, width / 2], [length, width / 2], [length, -width / 2]];
  return { kind: 'poly', pts: corners.map((c) => add(from, rot(c, angle))), color };
}

function cartpole(o: Float32Array): Scene {
  const W = 600, H = 400, scale = W / 4.8, cartY = 100;
  const cartX = o[0] * scale + W / 2;
  const pole = 10, poleLen = scale * 1.0, cartW = 50, cartH = 30, axleOffset = cartH / 4;
  const axle: Pt = [cartX, cartY + axleOffset];
  return {
    width: W, height: H,
    shapes: [
      { kind: 'line', pts: [[0, cartY], [W, cartY]], width: 1, color: BLACK },
      { kind: 'poly', pts: [[cartX - cartW / 2, cartY - cartH / 2], [cartX - cartW / 2, cartY + cartH / 2], [cartX + cartW / 2, cartY + cartH / 2], [cartX + cartW / 2, cartY - cartH / 2]], color: BLACK },
      bar(axle, Math.PI / 2 - o[2], poleLen, pole, POLE),
      { kind: 'circle', c: axle, r: pole / 2, color: AXLE },
    ],
  };
}

function acrobot(o: Float32Array): Scene {
  const W = 500, scale = W / 4.4, off = W / 2;
  const t1 = Math.atan2(o[1], o[0]), t2 = Math.atan2(o[3], o[2]);
  const p0: Pt = [off, off];
  const p1: Pt = [off + Math.sin(t1) * scale, off - Math.cos(t1) * scale];
  const p2: Pt = [p1[0] + Math.sin(t1 + t2) * scale, p1[1] - Math.cos(t1 + t2) * scale];
  return {
    width: W, height: W,
    shapes: [
      { kind: 'line', pts: [[off - 2.2 * scale, off + scale], [off + 2.2 * scale, off + scale]], width: 1, color: BLACK },
      bar(p0, t1 - Math.PI / 2, scale, 0.2 * scale, LINK),
      bar(p1, t1 + t2 - Math.PI / 2, scale, 0.2 * scale, LINK),
      { kind: 'circle', c: p0, r: 0.1 * scale, color: JOINT },
      { kind: 'circle', c: p1, r: 0.1 * scale, color: JOINT },
    ],
  };
}

function mountainCar(o: Float32Array, goal: number): Scene {
  const W = 600, H = 400, min = -1.2, scale = W / 1.8, carW = 40, carH = 20, clearance = 10;
  const height = (x: number) => Math.sin(3 * x) * 0.45 + 0.55;
  const curve: Pt[] = Array.from({ length: 100 }, (_, i) => {
    const x = min + (1.8 * i) / 99;
    return [(x - min) * scale, height(x) * scale];
  });
  const pos = o[0], a = Math.cos(3 * pos);
  const base: Pt = [(pos - min) * scale, clearance + height(pos) * scale];
  const body: Pt[] = ([[-carW / 2, 0], [-carW / 2, carH], [carW / 2, carH], [carW / 2, 0]] as Pt[]).map((c) => add(base, rot(c, a)));
  const wheels: Shape[] = ([[carW / 4, 0], [-carW / 4, 0]] as Pt[]).map((c) => ({ kind: 'circle', c: add(base, rot(c, a)), r: carH / 2.5, color: GREY }));
  const fx = (goal - min) * scale, fy = height(goal) * scale;
  return {
    width: W, height: H,
    shapes: [
      { kind: 'line', pts: curve, width: 2, color: BLACK },
      { kind: 'poly', pts: body, color: BLACK },
      ...wheels,
      { kind: 'line', pts: [[fx, fy], [fx, fy + 50]], width: 2, color: BLACK },
      { kind: 'poly', pts: [[fx, fy + 50], [fx, fy + 40], [fx + 25, fy + 45]], color: JOINT },
    ],
  };
}

function pendulum(o: Float32Array): Scene {
  const W = 500, scale = W / 4.4, off = W / 2;
  const th = Math.atan2(o[1], o[0]);
  const c: Pt = [off, off];
  return {
    width: W, height: W,
    shapes: [
      { kind: 'circle', c: add(c, rot([scale, 0], th + Math.PI / 2)), r: 0.1 * scale, color: ROD },
      bar(c, th + Math.PI / 2, scale, 0.2 * scale, ROD),
      { kind: 'circle', c, r: 0.1 * scale, color: ROD },
      { kind: 'circle', c, r: 0.05 * scale, color: BLACK },
    ],
  };
}

function scene(id: string, obs: Float32Array): Scene {
  const spec = CLASSIC_CONTROL[id];
  if (!spec) throw new RlcoreError('ERR_ARG', `render: no picture for '${id}'; available: ${Object.keys(CLASSIC_CONTROL).join(', ')}`);
  const D = spec.observationSpace().size;
  if (!(obs instanceof Float32Array) || obs.length !== D) {
    throw new RlcoreError(obs instanceof Float32Array ? 'ERR_SHAPE' : 'ERR_DTYPE', `render: ${id} observation must be a Float32Array of ${D} elements`);
  }
  switch (id) {
    case 'CartPole-v1': return cartpole(obs);
    case 'Acrobot-v1': return acrobot(obs);
    case 'MountainCar-v0': return mountainCar(obs, 0.5);
    case 'MountainCarContinuous-v0': return mountainCar(obs, 0.45);
    default: return pendulum(obs);
  }
}

// Thick polyline segments as quads.
function segments(s: Extract<Shape, { kind: 'line' }>): Pt[][] {
  const out: Pt[][] = [];
  for (let i = 0; i + 1 < s.pts.length; i++) {
    const [a, b] = [s.pts[i], s.pts[i + 1]];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    const nx = ((a[1] - b[1]) / len) * (s.width / 2), ny = ((b[0] - a[0]) / len) * (s.width / 2);
    out.push([[a[0] + nx, a[1] + ny], [b[0] + nx, b[1] + ny], [b[0] - nx, b[1] - ny], [a[0] - nx, a[1] - ny]]);
  }
  return out;
}

// Rasterises a scene into palette indices at `scale` (pixel centres sampled, even-odd fill).
function rasterize(sc: Scene, scale: number): { width: number; height: number; index: Uint8Array } {
  const w = Math.max(1, Math.round(sc.width * scale)), h = Math.max(1, Math.round(sc.height * scale));
  const index = new Uint8Array(w * h).fill(WHITE);
  const toPx = (p: Pt): Pt => [p[0] * scale, h - p[1] * scale];
  const fillPoly = (pts: Pt[], color: number) => {
    const q = pts.map(toPx);
    const y0 = Math.max(0, Math.floor(Math.min(...q.map((p) => p[1])))), y1 = Math.min(h - 1, Math.ceil(Math.max(...q.map((p) => p[1]))));
    for (let y = y0; y <= y1; y++) {
      const yc = y + 0.5, xs: number[] = [];
      for (let i = 0; i < q.length; i++) {
        const a = q[i], b = q[(i + 1) % q.length];
        if ((a[1] <= yc) !== (b[1] <= yc)) xs.push(a[0] + ((yc - a[1]) * (b[0] - a[0])) / (b[1] - a[1]));
      }
      xs.sort((u, v) => u - v);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const xa = Math.max(0, Math.ceil(xs[k] - 0.5)), xb = Math.min(w - 1, Math.floor(xs[k + 1] - 0.5));
        if (xb >= xa) index.fill(color, y * w + xa, y * w + xb + 1);
      }
    }
  };
  for (const s of sc.shapes) {
    if (s.kind === 'poly') fillPoly(s.pts, s.color);
    else if (s.kind === 'line') for (const quad of segments({ ...s, width: Math.max(s.width, 1 / scale) })) fillPoly(quad, s.color);
    else {
      const [cx, cy] = toPx(s.c), r = s.r * scale;
      for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(h - 1, Math.ceil(cy + r)); y++) {
        for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(w - 1, Math.ceil(cx + r)); x++) {
          if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) index[y * w + x] = s.color;
        }
      }
    }
  }
  return { width: w, height: h, index };
}

function toRgb(f: { width: number; height: number; index: Uint8Array }): RgbFrame {
  const data = new Uint8Array(f.width * f.height * 3);
  for (let i = 0; i < f.index.length; i++) {
    const c = PALETTE[f.index[i]];
    data[3 * i] = c[0], data[3 * i + 1] = c[1], data[3 * i + 2] = c[2];
  }
  return { width: f.width, height: f.height, data };
}

/** Options of the drawing functions. */
export interface RenderOptions {
  /** Size relative to Gymnasium's pictures (600x400 or 500x500 pixels); default 1. */
  scale?: number;
}

function scaleOf(o?: RenderOptions): number {
  return checkNumber('render', 'scale', o?.scale, 0.01, 8, 1);
}

/** Draws one observation of a classic-control environment as an RGB image. */
export function renderRgb(id: string, observation: Float32Array, options?: RenderOptions): RgbFrame {
  return toRgb(rasterize(scene(id, observation), scaleOf(options)));
}

const hex = (c: number) => `#${PALETTE[c].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
const f2 = (v: number) => (Math.round(v * 100) / 100).toString();

function svgShapes(sc: Scene, scale: number): string {
  const h = sc.height * scale;
  const pt = (p: Pt) => `${f2(p[0] * scale)},${f2(h - p[1] * scale)}`;
  return sc.shapes
    .map((s) => {
      if (s.kind === 'poly') return `<polygon points="${s.pts.map(pt).join(' ')}" fill="${hex(s.color)}"/>`;
      if (s.kind === 'line') return `<polyline points="${s.pts.map(pt).join(' ')}" fill="none" stroke="${hex(s.color)}" stroke-width="${f2(s.width * scale)}"/>`;
      return `<circle cx="${f2(s.c[0] * scale)}" cy="${f2(h - s.c[1] * scale)}" r="${f2(s.r * scale)}" fill="${hex(s.color)}"/>`;
    })
    .join('');
}

/** Draws one observation of a classic-control environment as an SVG document. */
export function renderSvg(id: string, observation: Float32Array, options?: RenderOptions): string {
  const scale = scaleOf(options), sc = scene(id, observation);
  const w = f2(sc.width * scale), h = f2(sc.height * scale);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect width="100%" height="100%" fill="#ffffff"/>${svgShapes(sc, scale)}</svg>`;
}

/** Options of {@link animate}. */
export interface AnimateOptions extends RenderOptions {
  /** 'gif' (bytes) or 'svg' (text, SMIL animation). */
  format: 'gif' | 'svg';
  /** Frames per second (default 30). */
  fps?: number;
}

/**
 * Animates a sequence of observations of a classic-control environment: an animated GIF
 * (Uint8Array, looping) or an animated SVG (string, looping).
 */
export function animate(id: string, observations: Float32Array[], options: AnimateOptions): Uint8Array | string {
  if (!Array.isArray(observations) || observations.length === 0) throw new RlcoreError('ERR_ARG', 'animate: observations must be a non-empty array');
  const fps = checkNumber('animate', 'fps', options?.fps, 0.1, 100, 30);
  const scale = scaleOf(options);
  const scenes = observations.map((o) => scene(id, o));
  if (options.format === 'gif') {
    const gif = gifenc.GIFEncoder();
    for (const sc of scenes) {
      const f = rasterize(sc, scale);
      gif.writeFrame(f.index, f.width, f.height, { palette: PALETTE, delay: 1000 / fps, repeat: 0 });
    }
    gif.finish();
    return gif.bytes();
  }
  if (options.format !== 'svg') throw new RlcoreError('ERR_ARG', `animate: format must be 'gif' or 'svg'; received ${JSON.stringify(options.format)}`);
  const n = scenes.length, total = n / fps;
  const w = f2(scenes[0].width * scale), h = f2(scenes[0].height * scale);
  const frames = scenes.map((sc, i) => {
    const a = f2(i / n), b = f2((i + 1) / n);
    const values = n === 1 ? null : i === 0 ? ['visible;hidden', `0;${b}`] : i === n - 1 ? ['hidden;visible', `0;${a}`] : ['hidden;visible;hidden', `0;${a};${b}`];
    const anim = values ? `<animate attributeName="visibility" values="${values[0]}" keyTimes="${values[1]}" dur="${f2(total)}s" calcMode="discrete" repeatCount="indefinite"/>` : '';
    return `<g visibility="${i === 0 ? 'visible' : 'hidden'}">${anim}${svgShapes(sc, scale)}</g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect width="100%" height="100%" fill="#ffffff"/>${frames.join('')}</svg>`;
}

/** Options of {@link renderEpisode}. */
export interface RenderEpisodeOptions extends AnimateOptions {
  /** A classic-control id. */
  id: string;
  /** Chooses the action from the observation (default: uniformly random actions from the action space, seeded). */
  policy?: (observation: Float32Array) => number | ArrayLike<number>;
  /** Seed of the episode (default 0). */
  seed?: number;
  /** Stop after this many steps even if the episode goes on (default: the time limit). */
  maxSteps?: number;
  /** Environment-specific options, as for `make`. */
  envOptions?: Record<string, number | boolean>;
}

/** What {@link renderEpisode} returns. */
export interface RenderedEpisode {
  /** The GIF bytes or SVG text. */
  data: Uint8Array | string;
  /** Steps taken. */
  steps: number;
  /** Sum of the rewards. */
  return: number;
}

/** Runs one episode of a classic-control environment and animates it (the first frame is the reset observation). */
export function renderEpisode(options: RenderEpisodeOptions): RenderedEpisode {
  const env = new NativeVectorEnv(options.id, { numEnvs: 1, seed: options.seed ?? 0, envOptions: options.envOptions });
  const limit = options.maxSteps === undefined ? env.maxEpisodeSteps : checkSize('renderEpisode', 'maxSteps', options.maxSteps);
  env.singleActionSpace.seed(options.seed ?? 0);
  const frames = [Float32Array.from(env.reset())];
  let ret = 0, steps = 0;
  while (steps < limit) {
    const obs = Float32Array.from(env.observations);
    const a = options.policy ? options.policy(obs) : env.singleActionSpace.sample();
    env.step(typeof a === 'number' ? [a] : Array.from(a));
    ret += env.rewards[0];
    steps++;
    const done = env.terminated[0] || env.truncated[0];
    frames.push(Float32Array.from(done ? env.finalObservations : env.observations));
    if (done) break;
  }
  return { data: animate(options.id, frames, options), steps, return: ret };
}

/** Runs and animates one episode like {@link renderEpisode} and writes it to `path` (.gif or .svg); returns the episode. */
export function writeEpisode(path: string, options: RenderEpisodeOptions): RenderedEpisode {
  const ep = renderEpisode(options);
  try {
    writeFileSync(path, ep.data);
  } catch (e) {
    throw new RlcoreError('ERR_IO', `writeEpisode: cannot write ${path}: ${(e as Error).message}`);
  }
  return ep;
}
