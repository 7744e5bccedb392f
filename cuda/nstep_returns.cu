// n-step bootstrapped returns on the GPU, with the semantics of native/kernels/nstep_returns.cc
// (Mnih et al. 2016, arXiv:1602.01783; rlax `n_step_bootstrapped_returns`):
//
//   G_t = Σ_{k<m} Γ_{t,k} r_{t+k} + Γ_{t,m} (1 - term_{t+m-1}) v'_{t+m-1},   Γ_{t,k} = Π_{j<k} γ_{t+j}
//
// with m = min(n, steps up to and including the first episode end at or after t, T - t). Not a
// scan: one thread per element walks its own window (neighbouring threads share it in cache).
// Episodes are isolated as on the CPU: the walk stops at the first episode end, and v' enters only
// by a select (never 0 * v' at a termination), so NaN/Inf in a later episode reach no earlier output.
#include <cuda_runtime.h>

#include <algorithm>

#include "../native/kernels/nstep_returns.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "inputs.cuh"

namespace rlcore::cuda {
namespace {

struct NstepArgs {
  size_t window;
  const float* rewards;
  const uint8_t* terminated;
  const uint8_t* truncated;
  NextValues next;
  StepParam gamma;
  float* returns;
};

// G_t of element i = t * N + n.
__host__ __device__ __forceinline__ float NstepAt(const NstepArgs& p, size_t i) {
  const size_t T = p.next.T, N = p.next.N;
  const size_t t = i / N, n = i % N;
  const size_t m = p.window < T - t ? p.window : T - t;
  double acc = 0.0, disc = 1.0;
  for (size_t k = 0; k < m; ++k) {
    const size_t s = t + k, j = i + k * N;
    const bool term = FlagAt(p.terminated, j), trunc = FlagAt(p.truncated, j);
    const bool end = term || trunc || k + 1 == m;
    // The bootstrap term Γ_{t,k+1} v' enters only at the window's end, and not at a termination
    // (selected, not multiplied by 1 - term: v' there belongs to the next episode).
    const float boot = (end && !term) ? p.next.At(s, n, j, trunc) : 0.f;
    const float g = p.gamma.At(s, n);
    acc += disc * (static_cast<double>(Ldg(p.rewards + j)) + static_cast<double>(g) * boot);
    if (end) break;
    disc *= static_cast<double>(g);
  }
  return static_cast<float>(acc);
}

__global__ void __launch_bounds__(256) NstepKernel(NstepArgs p) {
  const size_t TN = p.next.T * p.next.N;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < TN;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    p.returns[i] = NstepAt(p, i);
  }
}

void Launch(const NstepArgs& args, cudaStream_t s) {
  const size_t TN = args.next.T * args.next.N;
  NstepKernel<<<GridFor(TN, 256), 256, 0, s>>>(args);
  RLCORE_CUDA_CHECK_LAUNCH("NstepKernel");
}

BenchResult NstepReturnsBench(size_t T, size_t N, int iters) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = T * N;
  DeviceBuffer rewards(TN * 4, s), values(TN * 4, s), terminated(TN, s), last(N * 4, s), returns(TN * 4, s);
  FillUniform(rewards.as<float>(), TN, 1, -1.f, 1.f, s);
  FillUniform(values.as<float>(), TN, 2, -1.f, 1.f, s);
  FillFlags(terminated.as<uint8_t>(), TN, 3, 0.01f, s);
  FillUniform(last.as<float>(), N, 4, -1.f, 1.f, s);
  NstepArgs args{};
  args.window = 5;
  args.rewards = rewards.as<float>();
  args.terminated = terminated.as<uint8_t>();
  args.next = NextValues{T, N, values.as<float>(), nullptr, last.as<float>(), nullptr};
  args.gamma.scalar = 0.99f;
  args.returns = returns.as<float>();
  BenchResult r;
  r.ms = TimeLaunches([&] { Launch(args, s); }, iters, s);
  r.elements = static_cast<double>(TN);
  r.bytes = static_cast<double>(TN) * (4 + 4 + 1 + 4);  // read r, v, term once each; write G
  r.path = "elementwise n=5";
  return r;
}

}  // namespace

void NstepReturns(const NstepReturnsProblem& p) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = p.T * p.N;
  DeviceBuffer rewards = ToDevice(p.rewards, TN, s), terminated = ToDevice(p.terminated, TN, s),
               truncated = ToDevice(p.truncated, TN, s), returns(TN * sizeof(float), s);
  NextValueInputs next(p.T, p.N, p.values, p.next_values, p.last_values, p.final_values, p.truncated, s);
  DeviceStepParam gamma(p.gamma, s);
  NstepArgs args{p.n, rewards.as<float>(), terminated.as<uint8_t>(), truncated.as<uint8_t>(), next.view,
                 gamma.param, returns.as<float>()};
  Launch(args, s);
  ToHost(p.returns, returns, TN, s);
  stream.Sync();
}

RLCORE_CUDA_BENCH(nstep_returns, NstepReturnsBench);

}  // namespace rlcore::cuda
