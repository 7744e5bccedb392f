// Lists the C++ sources of the addon for binding.gyp: every .cc under native/ (not native/test).
// RLCORE_ONLY=path1,path2 restricts the non-core sources to those paths (private dev builds).
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const only = (process.env.RLCORE_ONLY || '').split(',').filter(Boolean);
const out = [];
(function walk(dir) {
  for (const name of fs.readdirSync(path.join(root, dir)).sort()) {
    const rel = `${dir}/${name}`;
    if (fs.statSync(path.join(root, rel)).isDirectory()) {
      if (rel !== 'native/test') walk(rel);
    } else if (name.endsWith('.cc')) {
      const core = rel.startsWith('native/core/');
      if (core || only.length === 0 || only.some((p) => rel.startsWith(p))) out.push(rel);
    }
  }
})('native');
console.log(out.join('\n'));
