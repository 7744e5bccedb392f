#!/usr/bin/env bash
# The CUDA check for a machine with a GPU: build the CUDA addon there, load it, check every CUDA
# kernel against the CPU kernel of the same addon, and time the kernels on device-resident data
# (16M+ elements, and one sequence of 1M steps). Results go under $OUT (default ./device-out):
#   nvidia-smi.txt build.log backends.json parity.log parity-llm.log parity-replay.log [vitest.log] bench.md
#   bench.json
#   summary.txt
#
# Needs nvcc and CMake (>= 3.18). Node.js is optional for the build, required for the checks:
# if `node` is not on PATH, .device/node.xz (an xz-compressed node binary) is unpacked to /tmp.
# Headers: node_modules/node-addon-api and node_modules/node-api-headers (or /usr/include/node).
# No other node_modules are needed: parity and timing are plain-Node scripts; vitest runs too
# when node_modules/.bin/vitest happens to be there.
#
# With the `run` tool from this repository's session (carry stays far under 64 MiB):
#   mkdir -p .device && xz -9 -T2 -c "$(command -v node)" > .device/node.xz
#   run(command="bash scripts/device-check.sh", timeout_s=600,
#       carry=[".device/node.xz", "node_modules/node-addon-api", "node_modules/node-api-headers"])
# It builds into build-device/ (not build-cuda/, which cmake-js configures with another generator);
# a second call on the same warm machine reuses it (only changed files recompile).
# Environment: OUT, RLCORE_CUDA_ARCHS (default: the GPU's own, from nvidia-smi), JOBS.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
status=0

if ! command -v node >/dev/null 2>&1 && [ -f .device/node.xz ]; then
  xz -dc .device/node.xz >/tmp/node && chmod +x /tmp/node && export PATH=/tmp:$PATH
fi
have_node=0
command -v node >/dev/null 2>&1 && have_node=1
say "node: $([ $have_node = 1 ] && node --version || echo 'absent (build only)')"

nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
archs=${RLCORE_CUDA_ARCHS:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')}
say "gpu: $(nvidia-smi --query-gpu=name,compute_cap,memory.total --format=csv,noheader 2>/dev/null | head -1)"

# Build: plain CMake (what cmake-js runs underneath), so neither cmake-js nor a download is needed.
cmake_args=(-S . -B build-device -DCMAKE_BUILD_TYPE=Release -DRLCORE_WERROR=ON)
[ -n "$archs" ] && cmake_args+=("-DCMAKE_CUDA_ARCHITECTURES=$archs")
t0=$(date +%s)
if cmake "${cmake_args[@]}" >"$OUT/build.log" 2>&1 &&
  cmake --build build-device -j "${JOBS:-$(nproc)}" >>"$OUT/build.log" 2>&1; then
  say "build: ok in $(($(date +%s) - t0)) s (archs ${archs:-default})"
else
  say "build: FAILED (see build.log)"
  tail -40 "$OUT/build.log"
  exit 1
fi
addon=$PWD/build-device/Release/rlcore.node
[ $have_node = 1 ] || { say "no node: stopping after the build"; exit 0; }
export RLCORE_ADDON=$addon

node -e "
  const b = require(process.env.RLCORE_ADDON);
  const info = b.backends();
  require('fs').writeFileSync(process.argv[1], JSON.stringify(info, null, 2));
  console.log('backends: cuda ' + JSON.stringify(info.cuda));
  if (!info.cuda.built) process.exit(1);
" "$OUT/backends.json" | tee -a "$summary" || { say "load: FAILED"; exit 1; }

# Return estimators (device-parity.mjs), LLM losses (device-parity-llm.mjs: policyLoss, tokenKl,
# preferenceLoss, cplLoss, each also run twice on CUDA for determinism) and the device replay
# buffer (device-parity-replay.mjs: same buffers, rows, weights and batches as the CPU buffer).
for check in parity parity-llm parity-replay; do
  log="$OUT/$check.log"
  if node "scripts/device-$check.mjs" >"$log" 2>&1; then
    say "$check: $(tail -1 "$log")"
  else
    rc=$?
    if [ $rc = 2 ]; then say "$check: not checked, no CUDA device ($(tail -1 "$log"))"
    else say "$check: FAILED (exit $rc): $(grep -E '^(FAIL|ERROR|MISSING)' "$log" | head -5 | tr '\n' ' ')"; fi
    status=1
  fi
done

if [ -x node_modules/.bin/vitest ]; then
  if NO_COLOR=1 timeout 300 node_modules/.bin/vitest run test/kernels test/llm/cuda.test.ts test/replay/cuda.test.ts >"$OUT/vitest.log" 2>&1; then
    say "vitest: $(grep -E 'Tests' "$OUT/vitest.log" | tail -1)"
  else
    say "vitest: FAILED (see vitest.log)"
    status=1
  fi
fi

if timeout 400 node scripts/device-bench.mjs "$OUT" >"$OUT/bench.log" 2>&1; then
  say "bench: written to bench.md"
  cat "$OUT/bench.md"
else
  say "bench: FAILED (see bench.log)"
  tail -20 "$OUT/bench.log"
  status=1
fi
exit $status
