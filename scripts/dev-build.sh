#!/usr/bin/env bash
# Private incremental build for parallel development: copies the native sources to
# /tmp/rlcore-dev/<name>, builds there (only native/core plus the given paths, if any), and
# prints the addon path. Use it as RLCORE_ADDON=<path> npx vitest run test/...
#   scripts/dev-build.sh vtrace native/kernels/vtrace.cc
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: dev-build.sh NAME [PATH ...]}; shift
dir=/tmp/rlcore-dev/$name
mkdir -p "$dir"
cp -p binding.gyp package.json "$dir/"
mkdir -p "$dir/native" "$dir/cuda"
# Copy only files whose content differs, with a fresh timestamp, so make rebuilds exactly those
# (cp -p would keep an older time than an object built from an edited copy).
(cd native && find . -type f) | while read -r f; do
  cmp -s "native/$f" "$dir/native/$f" || { mkdir -p "$(dirname "$dir/native/$f")"; cp "native/$f" "$dir/native/$f"; }
done
cp -rp cuda/. "$dir/cuda/"
[ -e "$dir/node_modules" ] || ln -s "$PWD/node_modules" "$dir/node_modules"
only=$(IFS=,; echo "$*")
cd "$dir"
sources=$(RLCORE_ONLY="$only" node native/sources.cjs)
if [ ! -f build/Makefile ] || [ "$(cat build/.sources 2>/dev/null)" != "$sources" ]; then
  RLCORE_ONLY="$only" npx node-gyp configure --werror=true >/dev/null 2>&1
  echo "$sources" > build/.sources
fi
# Fail loudly on a compile error (a stale addon from an earlier build must not be reported).
if ! log=$(RLCORE_ONLY="$only" npx node-gyp build 2>&1); then
  echo "$log" | grep -E "error|warning" >&2
  exit 1
fi
echo "$dir/build/Release/rlcore.node"
