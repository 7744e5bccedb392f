// Loads the native addon: one loader, ordered fallbacks, one actionable error.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RlcoreError } from './errors.js';

const require = createRequire(import.meta.url);

/** Where the addon that is in use came from. */
export interface AddonSource {
  /** Absolute path of the loaded `.node` file. */
  path: string;
  /** Which candidate it was. */
  kind: 'env' | 'cuda-build' | 'prebuild-or-build';
}

/** The raw binding; every function is guarded in C++ as well, but call the TS wrappers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeBinding = Record<string, (...args: any[]) => any>;

/** The directory of rlcore's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'rlcore') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new RlcoreError('ERR_LOAD', 'rlcore: cannot find the package root (package.json)');
    dir = parent;
  }
}

let cached: { binding: NativeBinding; source: AddonSource } | undefined;

/**
 * Loads the addon once. Candidates, in order:
 * 1. `RLCORE_ADDON` (an explicit path; if set, it must load);
 * 2. the CUDA build from `npm run build:cuda` (`build-cuda/Release/rlcore.node`);
 * 3. node-gyp-build: a prebuild in `prebuilds/`, else `build/Release` from `npm install`.
 */
export function loadNative(): { binding: NativeBinding; source: AddonSource } {
  if (cached) return cached;
  const failures: string[] = [];
  const explicit = process.env.RLCORE_ADDON;
  const root = explicit ? '' : packageRoot(); // an explicit addon needs no package root
  const candidates: Array<[AddonSource['kind'], () => string]> = explicit
    ? [['env', () => explicit]]
    : [
        ['cuda-build', () => join(root, 'build-cuda', 'Release', 'rlcore.node')],
        ['prebuild-or-build', () => require('node-gyp-build').resolve(root) as string],
      ];
  for (const [kind, resolve] of candidates) {
    let path = '';
    try {
      path = resolve();
      if (kind === 'cuda-build' && !existsSync(path)) continue;
      const binding = require(path) as NativeBinding;
      binding.setErrorClass(RlcoreError);
      cached = { binding, source: { path, kind } };
      return cached;
    } catch (e) {
      failures.push(`  - ${kind}${path ? ` (${path})` : ''}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new RlcoreError(
    'ERR_LOAD',
    [
      'rlcore: could not load the native addon. Tried:',
      ...failures,
      'Fix: run `npm rebuild rlcore` (needs g++, make and python3), or `npm run build:cuda` for the CUDA build;',
      'or point RLCORE_ADDON at a built rlcore.node.',
    ].join('\n'),
  );
}

/** The loaded binding (loads on first use). */
export function native(): NativeBinding {
  return loadNative().binding;
}
