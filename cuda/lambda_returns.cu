// TD(λ) returns on the GPU, with the semantics of native/kernels/lambda_returns.cc (Sutton &
// Barto 2018, ch. 12; rlax `lambda_returns`):
//
//   λ'_t = λ_t (1 - done_t),   λ'_{T-1} = 0
//   G_t  = r_t + γ_t (1 - term_t) [ (1 - λ'_t) v'_t + λ'_t G_{t+1} ]
//
// as the reverse affine scan of cuda/scan.cuh: a_t = r_t + γ_t (1 - term_t)(1 - λ'_t) v'_t,
// c_t = γ_t λ'_t; (1 - term_t) and (1 - done_t) are selects (a terminated step does not read v'_t),
// so NaN or Inf in a later episode stays there.
#include <cuda_runtime.h>

#include "../native/kernels/lambda_returns.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "inputs.cuh"
#include "scan.cuh"

namespace rlcore::cuda {
namespace {

struct LambdaReturnsOp {
  const float* rewards;
  const uint8_t* terminated;
  const uint8_t* truncated;
  NextValues next;
  StepParam gamma, lambda;
  float* returns;

  __host__ __device__ double Boundary(size_t) const { return 0.0; }
  __host__ __device__ void Coefs(size_t t, size_t n, double& a, double& c) const {
    const size_t i = t * next.N + n;
    const bool term = FlagAt(terminated, i), trunc = FlagAt(truncated, i);
    const float boot = term ? 0.f : next.At(t, n, i, trunc);  // not read at terminations
    const float g = gamma.At(t, n);
    const float not_last = t + 1 < next.T ? 1.f : 0.f;
    const double lam = (term || trunc) ? 0.f : lambda.At(t, n) * not_last;  // λ'_t
    a = static_cast<double>(Ldg(rewards + i)) + static_cast<double>(g) * (1.0 - lam) * boot;
    c = static_cast<double>(g) * lam;
  }
  __host__ __device__ void Write(size_t t, size_t n, double y) const { returns[t * next.N + n] = static_cast<float>(y); }
};

BenchResult LambdaReturnsBench(size_t T, size_t N, int iters) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = T * N;
  DeviceBuffer rewards(TN * 4, s), values(TN * 4, s), terminated(TN, s), last(N * 4, s), returns(TN * 4, s);
  FillUniform(rewards.as<float>(), TN, 1, -1.f, 1.f, s);
  FillUniform(values.as<float>(), TN, 2, -1.f, 1.f, s);
  FillFlags(terminated.as<uint8_t>(), TN, 3, 0.01f, s);
  FillUniform(last.as<float>(), N, 4, -1.f, 1.f, s);
  LambdaReturnsOp op{};
  op.rewards = rewards.as<float>();
  op.terminated = terminated.as<uint8_t>();
  op.next = NextValues{T, N, values.as<float>(), nullptr, last.as<float>(), nullptr};
  op.gamma.scalar = 0.99f;
  op.lambda.scalar = 0.95f;
  op.returns = returns.as<float>();
  BenchResult r;
  r.ms = TimeLaunches([&] { ReverseScan(op, T, N, s); }, iters, s);
  r.elements = static_cast<double>(TN);
  r.bytes = static_cast<double>(TN) * (4 + 4 + 1 + 4);  // read r, v, term; write G
  r.path = scan::ReverseScanPath(T, N);
  return r;
}

}  // namespace

void LambdaReturns(const LambdaReturnsProblem& p) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = p.T * p.N;
  DeviceBuffer rewards = ToDevice(p.rewards, TN, s), terminated = ToDevice(p.terminated, TN, s),
               truncated = ToDevice(p.truncated, TN, s), returns(TN * sizeof(float), s);
  NextValueInputs next(p.T, p.N, p.values, p.next_values, p.last_values, p.final_values, p.truncated, s);
  DeviceStepParam gamma(p.gamma, s), lambda(p.lambda, s);
  LambdaReturnsOp op{rewards.as<float>(), terminated.as<uint8_t>(), truncated.as<uint8_t>(), next.view,
                     gamma.param, lambda.param, returns.as<float>()};
  ReverseScan(op, p.T, p.N, s);
  ToHost(p.returns, returns, TN, s);
  stream.Sync();
}

RLCORE_CUDA_BENCH(lambda_returns, LambdaReturnsBench);

}  // namespace rlcore::cuda
