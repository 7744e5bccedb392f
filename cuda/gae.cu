// Generalized Advantage Estimation on the GPU: the same semantics as native/kernels/gae.cc
// (Schulman et al. 2016, arXiv:1506.02438, with Gymnasium's termination / truncation split):
//
//   v'_t  = V(s_{t+1})          (at a truncated step: V of the final observation)
//   δ_t   = r_t + γ_t (1 - term_t) v'_t - V(s_t)
//   A_t   = δ_t + γ_t λ_t (1 - done_t) A_{t+1},   done_t = term_t | trunc_t,   A_T = 0
//   G_t   = A_t + V(s_t)
//
// as the reverse affine scan of cuda/scan.cuh with a = δ_t and c = γ_t λ_t (1 - done_t); the
// factors (1 - term_t), (1 - done_t) are selects: a terminated step does not read v'_t, and an
// episode end does not read A_{t+1}, so NaN or Inf in a later episode stays there.
#include <cuda_runtime.h>

#include "../native/kernels/gae.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "scan.cuh"

namespace rlcore::cuda {
namespace {

// All pointers are device pointers; optional inputs are null when absent.
struct GaeOp {
  size_t T, N;
  const float* rewards;
  const float* values;
  const uint8_t* terminated;
  const uint8_t* truncated;
  const float* next_values;
  const float* last_values;
  const float* final_values;  // null unless it is read (truncated given, nextValues not)
  StepParam gamma, lambda;
  float* advantages;
  float* returns;

  __host__ __device__ double Boundary(size_t) const { return 0.0; }

  __host__ __device__ void Coefs(size_t t, size_t n, double& a, double& c) const {
    const size_t i = t * N + n;
    const bool term = terminated != nullptr && Ldg(terminated + i) != 0;
    const bool trunc = truncated != nullptr && Ldg(truncated + i) != 0;
    float boot = 0.f;  // v'_t, not read at terminations
    if (!term) {
      // With nextValues given, truncated steps already carry V(final observation).
      if (trunc && final_values) boot = Ldg(final_values + i);
      else if (next_values) boot = Ldg(next_values + i);
      else if (t + 1 < T) boot = Ldg(values + i + N);
      else if (last_values) boot = Ldg(last_values + n);
    }
    const float g = gamma.At(t, n);
    a = static_cast<double>(Ldg(rewards + i)) + static_cast<double>(g) * boot - Ldg(values + i);
    c = (term || trunc) ? 0.0 : static_cast<double>(g * lambda.At(t, n));
  }

  __host__ __device__ void Write(size_t t, size_t n, double y) const {
    const size_t i = t * N + n;
    advantages[i] = static_cast<float>(y);
    if (returns) returns[i] = static_cast<float>(y + Ldg(values + i));
  }
};

// A step parameter whose array (if any) now lives in `device`.
StepParam OnDevice(StepParam p, const DeviceBuffer& device) {
  if (p.values) p.values = device.as<float>();
  return p;
}

BenchResult GaeBench(size_t T, size_t N, int iters) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = T * N;
  DeviceBuffer rewards(TN * sizeof(float), s), values(TN * sizeof(float), s), terminated(TN, s),
      last_values(N * sizeof(float), s), advantages(TN * sizeof(float), s), returns(TN * sizeof(float), s);
  FillUniform(rewards.as<float>(), TN, 1, -1.f, 1.f, s);
  FillUniform(values.as<float>(), TN, 2, -1.f, 1.f, s);
  FillFlags(terminated.as<uint8_t>(), TN, 3, 0.01f, s);
  FillUniform(last_values.as<float>(), N, 4, -1.f, 1.f, s);
  GaeOp op{};
  op.T = T;
  op.N = N;
  op.rewards = rewards.as<float>();
  op.values = values.as<float>();
  op.terminated = terminated.as<uint8_t>();
  op.last_values = last_values.as<float>();
  op.gamma.scalar = 0.99f;
  op.lambda.scalar = 0.95f;
  op.advantages = advantages.as<float>();
  op.returns = returns.as<float>();
  BenchResult r;
  r.ms = TimeLaunches([&] { ReverseScan(op, T, N, s); }, iters, s);
  r.elements = static_cast<double>(TN);
  r.bytes = static_cast<double>(TN) * (4 + 4 + 1 + 4 + 4);  // read r, v, term; write adv, ret
  r.path = scan::ReverseScanPath(T, N);
  return r;
}

}  // namespace

void Gae(const GaeProblem& p) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = p.T * p.N;
  // finalValues is read only at truncated steps when nextValues is absent: skip the copy otherwise.
  const float* final_values = (p.truncated && !p.next_values) ? p.final_values : nullptr;
  DeviceBuffer rewards = ToDevice(p.rewards, TN, s), values = ToDevice(p.values, TN, s),
               terminated = ToDevice(p.terminated, TN, s), truncated = ToDevice(p.truncated, TN, s),
               next_values = ToDevice(p.next_values, TN, s), last_values = ToDevice(p.last_values, p.N, s),
               final = ToDevice(final_values, TN, s), gamma = ToDevice(p.gamma.values, p.gamma.length, s),
               lambda = ToDevice(p.lambda.values, p.lambda.length, s);
  DeviceBuffer advantages(TN * sizeof(float), s), returns(p.returns ? TN * sizeof(float) : 0, s);
  GaeOp op{};
  op.T = p.T;
  op.N = p.N;
  op.rewards = rewards.as<float>();
  op.values = values.as<float>();
  op.terminated = terminated.as<uint8_t>();
  op.truncated = truncated.as<uint8_t>();
  op.next_values = next_values.as<float>();
  op.last_values = last_values.as<float>();
  op.final_values = final.as<float>();
  op.gamma = OnDevice(p.gamma, gamma);
  op.lambda = OnDevice(p.lambda, lambda);
  op.advantages = advantages.as<float>();
  op.returns = returns.as<float>();
  ReverseScan(op, p.T, p.N, s);
  ToHost(p.advantages, advantages, TN, s);
  ToHost(p.returns, returns, TN, s);
  stream.Sync();
}

RLCORE_CUDA_BENCH(gae, GaeBench);

}  // namespace rlcore::cuda
