#!/usr/bin/env bash
# Checks the CUDA kernel functors against the CPU kernels without a GPU (needs nvcc and g++):
# builds cuda/test/host_check.cc with every cuda/test/NAME_host.cu (which runs cuda/NAME.cu's
# functors on the host) and native/kernels/NAME.cc (or native/llm/NAME.cc; for replay, the
# replay buffer of native/replay, whose device path runs on replay_host.cu's store), then runs it. Exit
# status 0 when all agree.
#   scripts/cuda-host-check.sh [build dir, default build-host-check]
# The N-API functions the kernel bindings reference are never called here; they are linked to
# generated no-op placeholders so that the CPU kernels can be linked without Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-host-check}
mkdir -p "$out"
command -v nvcc >/dev/null || { echo "cuda-host-check: nvcc not found (put the CUDA toolkit's bin on PATH)" >&2; exit 1; }
napi_inc=$(node -p "require('node-addon-api').include_dir" 2>/dev/null || echo node_modules/node-addon-api)
api_inc=node_modules/node-api-headers/include
[ -f "$api_inc/node_api.h" ] || api_inc=/usr/include/node
defs=(-DRLCORE_WITH_CUDA -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED)
cxx=(g++ -std=c++17 -O2 -Wall -Wextra -Wno-unused-parameter -Werror "${defs[@]}" -I"$napi_inc" -I"$api_inc")
objs=()
for f in cuda/test/*_host.cu; do
  name=$(basename "$f" _host.cu)
  nvcc -std=c++17 -O2 -arch=sm_80 -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror "${defs[@]}" \
    -c "$f" -o "$out/${name}_host.o" &
  objs+=("$out/${name}_host.o")
  if [ "$name" = replay ]; then  # the whole buffer: its device path calls replay_host.cu's store
    for src in native/replay/replay_buffer.cc native/replay/replay_io.cc native/replay/replay_device.cc; do
      "${cxx[@]}" -c "$src" -o "$out/$(basename "$src" .cc).o" &
      objs+=("$out/$(basename "$src" .cc).o")
    done
  else
    src=native/kernels/$name.cc
    [ -f "$src" ] || src=native/llm/$name.cc
    "${cxx[@]}" -c "$src" -o "$out/$name.o" &
    objs+=("$out/$name.o")
  fi
  wait
done
for f in native/core/thread_pool.cc native/core/binding.cc native/kernels/bootstrap_args.cc cuda/test/host_check.cc; do
  "${cxx[@]}" -c "$f" -o "$out/$(basename "$f" .cc).o"
  objs+=("$out/$(basename "$f" .cc).o")
done
nm -u "${objs[@]}" | awk '{print $NF}' | grep -E '^(napi_|node_api_)' | sort -u |
  sed 's/.*/int &(void) { return 0; }/' >"$out/napi_placeholders.c"
gcc -c "$out/napi_placeholders.c" -o "$out/napi_placeholders.o"
nvcc -o "$out/host_check" "${objs[@]}" "$out/napi_placeholders.o" -lpthread
"$out/host_check"
