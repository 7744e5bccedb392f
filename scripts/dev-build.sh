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
cp -rp native/. "$dir/native/"
cp -rp cuda/. "$dir/cuda/"
[ -e "$dir/node_modules" ] || ln -s "$PWD/node_modules" "$dir/node_modules"
only=$(IFS=,; echo "$*")
cd "$dir"
sources=$(RLCORE_ONLY="$only" node native/sources.cjs)
if [ ! -f build/Makefile ] || [ "$(cat build/.sources 2>/dev/null)" != "$sources" ]; then
  RLCORE_ONLY="$only" npx node-gyp configure --werror=true >/dev/null 2>&1
  echo "$sources" > build/.sources
fi
RLCORE_ONLY="$only" npx node-gyp build 2>&1 | grep -E "error|warning" || true
test -f build/Release/rlcore.node
echo "$dir/build/Release/rlcore.node"
