import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { backends, gae, resolveDevice, RlcoreError } from '../../src/index.js';

const tsx = ['--import', 'tsx'];
function runSnippet(code: string, env: Record<string, string>): { out: string; status: number | null } {
  const r = spawnSync(process.execPath, [...tsx, '--input-type=module', '-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { out: r.stdout + r.stderr, status: r.status };
}
const index = new URL('../../src/index.ts', import.meta.url).href;

describe('backends and devices', () => {
  it('reports the CPU backend and the CUDA status', () => {
    const b = backends();
    expect(b.cpu.threads).toBeGreaterThanOrEqual(1);
    expect([0, 128, 256, 512]).toContain(b.cpu.simdWidthBits);
    expect(typeof b.cuda.built).toBe('boolean');
    expect(Array.isArray(b.cuda.devices)).toBe(true);
    expect(b.cuda.status.length).toBeGreaterThan(0);
    expect(b.addon.path.endsWith('.node')).toBe(true);
  });

  it('cpu always resolves; cuda without a device is an ERR_DEVICE error', () => {
    expect(resolveDevice('cpu')).toBe('cpu');
    const b = backends();
    if (b.cuda.devices.length === 0) {
      expect(() => resolveDevice('cuda')).toThrow(RlcoreError);
      expect(() => gae({ shape: [1, 1], rewards: new Float32Array(1), values: new Float32Array(1), device: 'cuda' })).toThrow(
        /cuda/,
      );
    } else {
      expect(resolveDevice('cuda')).toBe('cuda');
    }
  });

  it('auto falls back to the CPU and warns exactly once', () => {
    const r = runSnippet(
      `import { gae, backends } from '${index}';
       const o = { shape: [1, 1], rewards: new Float32Array([1]), values: new Float32Array([0]) };
       gae(o); gae(o); gae(o);
       console.log('devices', backends().cuda.devices.length);`,
      { RLCORE_DEVICE: 'auto' },
    );
    expect(r.status).toBe(0);
    if (r.out.includes('devices 0')) expect(r.out.match(/RLCORE_CPU_FALLBACK/g)?.length).toBe(1);
  });

  it('RLCORE_DEVICE sets the default and is validated', () => {
    const cpu = runSnippet(
      `import { gae } from '${index}';
       gae({ shape: [1, 1], rewards: new Float32Array([1]), values: new Float32Array([0]) }); console.log('ok');`,
      { RLCORE_DEVICE: 'cpu' },
    );
    expect(cpu.out).toContain('ok');
    expect(cpu.out).not.toContain('RLCORE_CPU_FALLBACK');
    const bad = runSnippet(
      `import { gae } from '${index}';
       try { gae({ shape: [1, 1], rewards: new Float32Array([1]), values: new Float32Array([0]) }); }
       catch (e) { console.log(e.code, e.message); }`,
      { RLCORE_DEVICE: 'gpu' },
    );
    expect(bad.out).toContain('ERR_DEVICE');
    expect(bad.out).toContain('RLCORE_DEVICE');
  });

  it('a broken addon path gives one actionable ERR_LOAD error', () => {
    const r = runSnippet(
      `import { backends } from '${index}';
       try { backends(); } catch (e) { console.log(e.code); console.log(e.message); }`,
      { RLCORE_ADDON: '/nonexistent/rlcore.node' },
    );
    expect(r.out).toContain('ERR_LOAD');
    expect(r.out).toContain('/nonexistent/rlcore.node');
    expect(r.out).toMatch(/npm rebuild rlcore/);
  });
});
