// Discounted returns (reward-to-go) on the GPU, with the semantics of
// native/kernels/discounted_returns.cc:
//
//   G_t = r_t + γ_t (1 - done_t) G_{t+1} + trunc_t γ_t V(final obs_t),   G_T = lastValues (or 0)
//
// as the reverse affine scan of cuda/scan.cuh: a_t = r_t + trunc_t γ_t V(final obs_t),
// c_t = γ_t (1 - done_t) (selects: an episode end does not read G_{t+1}). Without finalValues a
// truncated step bootstraps nothing.
#include <cuda_runtime.h>

#include "../native/kernels/discounted_returns.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "inputs.cuh"
#include "scan.cuh"

namespace rlcore::cuda {
namespace {

struct DiscountedReturnsOp {
  size_t N;
  const float* rewards;
  const uint8_t* terminated;
  const uint8_t* truncated;
  const float* last_values;   // [N] or null
  const float* final_values;  // [T, N] or null (also null when truncated is absent: never read)
  StepParam gamma;
  float* returns;

  __host__ __device__ double Boundary(size_t n) const { return last_values ? Ldg(last_values + n) : 0.0; }
  __host__ __device__ void Coefs(size_t t, size_t n, double& a, double& c) const {
    const size_t i = t * N + n;
    const bool term = FlagAt(terminated, i), trunc = FlagAt(truncated, i);
    const float boot = (trunc && final_values) ? Ldg(final_values + i) : 0.f;
    const float g = gamma.At(t, n);
    a = static_cast<double>(Ldg(rewards + i)) + static_cast<double>(g) * boot;
    c = (term || trunc) ? 0.f : g;
  }
  __host__ __device__ void Write(size_t t, size_t n, double y) const { returns[t * N + n] = static_cast<float>(y); }
};

BenchResult DiscountedReturnsBench(size_t T, size_t N, int iters) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = T * N;
  DeviceBuffer rewards(TN * 4, s), terminated(TN, s), last(N * 4, s), returns(TN * 4, s);
  FillUniform(rewards.as<float>(), TN, 1, -1.f, 1.f, s);
  FillFlags(terminated.as<uint8_t>(), TN, 3, 0.01f, s);
  FillUniform(last.as<float>(), N, 4, -1.f, 1.f, s);
  DiscountedReturnsOp op{};
  op.N = N;
  op.rewards = rewards.as<float>();
  op.terminated = terminated.as<uint8_t>();
  op.last_values = last.as<float>();
  op.gamma.scalar = 0.99f;
  op.returns = returns.as<float>();
  BenchResult r;
  r.ms = TimeLaunches([&] { ReverseScan(op, T, N, s); }, iters, s);
  r.elements = static_cast<double>(TN);
  r.bytes = static_cast<double>(TN) * (4 + 1 + 4);  // read r, term; write G
  r.path = scan::ReverseScanPath(T, N);
  return r;
}

}  // namespace

void DiscountedReturns(const DiscountedReturnsProblem& p) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = p.T * p.N;
  DeviceBuffer rewards = ToDevice(p.rewards, TN, s), terminated = ToDevice(p.terminated, TN, s),
               truncated = ToDevice(p.truncated, TN, s), last = ToDevice(p.last_values, p.N, s),
               final = ToDevice(p.truncated ? p.final_values : nullptr, TN, s), returns(TN * sizeof(float), s);
  DeviceStepParam gamma(p.gamma, s);
  DiscountedReturnsOp op{p.N, rewards.as<float>(), terminated.as<uint8_t>(), truncated.as<uint8_t>(),
                         last.as<float>(), final.as<float>(), gamma.param, returns.as<float>()};
  ReverseScan(op, p.T, p.N, s);
  ToHost(p.returns, returns, TN, s);
  stream.Sync();
}

RLCORE_CUDA_BENCH(discounted_returns, DiscountedReturnsBench);

}  // namespace rlcore::cuda
