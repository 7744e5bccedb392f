// Drawing the classic-control environments: frames follow the state, GIF and SVG animations.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { animate, CLASSIC_CONTROL, renderEpisode, renderRgb, renderSvg, RlcoreError, writeEpisode } from '../../src/index.js';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RlcoreError);
    return (e as RlcoreError).code;
  }
  return 'no error';
}

const pixel = (f: { width: number; data: Uint8Array }, x: number, y: number) => Array.from(f.data.subarray(3 * (y * f.width + x), 3 * (y * f.width + x) + 3));

describe('rendering', () => {
  it('draws the cart where the state puts it', () => {
    const centre = renderRgb('CartPole-v1', Float32Array.from([0, 0, 0, 0]));
    expect([centre.width, centre.height]).toEqual([600, 400]);
    // cart body centred at x = 300, y = 400 - 100 = 300 (black); background white
    expect(pixel(centre, 300 - 20, 300 + 10)).toEqual([0, 0, 0]);
    expect(pixel(centre, 50, 50)).toEqual([255, 255, 255]);
    const right = renderRgb('CartPole-v1', Float32Array.from([1.2, 0, 0, 0]));
    expect(pixel(right, 300 - 20, 300 + 10)).toEqual([255, 255, 255]);
    expect(pixel(right, 450 - 20, 300 + 10)).toEqual([0, 0, 0]);
    // the upright pole is above the cart, a tilted one is not
    expect(pixel(centre, 300, 300 - 80)).toEqual([202, 152, 101]);
    const tilted = renderRgb('CartPole-v1', Float32Array.from([0, 0, 0.2, 0]));
    expect(pixel(tilted, 300, 300 - 110)).toEqual([255, 255, 255]);
    const half = renderRgb('CartPole-v1', Float32Array.from([0, 0, 0, 0]), { scale: 0.5 });
    expect([half.width, half.height]).toEqual([300, 200]);
  });

  it('draws every environment as RGB and SVG, differently for different states', () => {
    for (const id of Object.keys(CLASSIC_CONTROL)) {
      const space = CLASSIC_CONTROL[id].observationSpace();
      space.seed(1);
      const a = space.sample() as Float32Array, b = space.sample() as Float32Array;
      if (id === 'Acrobot-v1' || id === 'Pendulum-v1') {
        // angles as (cos, sin) pairs
        for (const o of [a, b]) for (let k = 0; k + 1 < (id === 'Acrobot-v1' ? 4 : 2); k += 2) [o[k], o[k + 1]] = [Math.cos(o[k] * 3), Math.sin(o[k] * 3)];
      }
      const fa = renderRgb(id, a, { scale: 0.25 }), fb = renderRgb(id, b, { scale: 0.25 });
      expect(fa.data.length).toBe(fa.width * fa.height * 3);
      expect(fa.data.some((v) => v !== 255)).toBe(true);
      expect(Buffer.from(fa.data).equals(Buffer.from(fb.data))).toBe(false);
      const svg = renderSvg(id, a);
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toMatch(/<(polygon|circle)/);
      expect(svg).not.toMatch(/NaN/);
    }
  });

  it('animates episodes as GIF and SVG', () => {
    const ep = renderEpisode({ id: 'CartPole-v1', seed: 3, format: 'gif', scale: 0.25, fps: 25 });
    expect(ep.steps).toBeGreaterThan(5);
    expect(ep.return).toBe(ep.steps);
    const gif = ep.data as Uint8Array;
    expect(Buffer.from(gif.subarray(0, 6)).toString('latin1')).toBe('GIF89a');
    expect(gif.length).toBeGreaterThan(200);
    const balanced = renderEpisode({ id: 'CartPole-v1', seed: 3, format: 'svg', maxSteps: 10, policy: (o) => (o[2] + 0.5 * o[3] > 0 ? 1 : 0) });
    expect(balanced.steps).toBe(10);
    const svg = balanced.data as string;
    expect(svg.match(/<g visibility/g)?.length).toBe(11);
    expect(svg).toContain('repeatCount="indefinite"');
    const pend = renderEpisode({ id: 'Pendulum-v1', format: 'gif', scale: 0.1, maxSteps: 3, policy: () => [2] });
    expect(pend.steps).toBe(3);
    const dir = mkdtempSync(join(tmpdir(), 'rlcore-render-'));
    writeEpisode(join(dir, 'mc.gif'), { id: 'MountainCar-v0', format: 'gif', scale: 0.1, maxSteps: 4 });
    expect(readFileSync(join(dir, 'mc.gif')).subarray(0, 3).toString()).toBe('GIF');
    expect(codeOf(() => writeEpisode(join(dir, 'missing', 'x.gif'), { id: 'MountainCar-v0', format: 'gif', maxSteps: 1 }))).toBe('ERR_IO');
  });

  it('rejects bad input', () => {
    expect(codeOf(() => renderRgb('Nope', new Float32Array(4)))).toBe('ERR_ARG');
    expect(codeOf(() => renderRgb('CartPole-v1', new Float32Array(3)))).toBe('ERR_SHAPE');
    expect(codeOf(() => renderRgb('CartPole-v1', [0, 0, 0, 0] as never))).toBe('ERR_DTYPE');
    expect(codeOf(() => renderSvg('CartPole-v1', new Float32Array(4), { scale: 0 }))).toBe('ERR_RANGE');
    expect(codeOf(() => animate('CartPole-v1', [], { format: 'gif' }))).toBe('ERR_ARG');
    expect(codeOf(() => animate('CartPole-v1', [new Float32Array(4)], { format: 'png' as 'gif' }))).toBe('ERR_ARG');
    expect(codeOf(() => renderEpisode({ id: 'CartPole-v1', format: 'gif', maxSteps: 0 }))).toBe('ERR_SHAPE');
  });
});
