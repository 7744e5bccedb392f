// Per-token KL estimates on the GPU, with the semantics of native/llm/kl.cc: with
// d = clamp(log π_ref − log π_θ, −20, 20), k1 = −d, k2 = ½ d², k3 = e^d − d − 1 ∈ [0, 10]
// (Schulman 2020, "Approximating KL Divergence") and ∂k/∂log π_θ; masked tokens get 0; stats =
// [mean k over the mask, tokens]. Fixed blocks of kKlItems tokens (by M alone) each write a
// float64 partial sum; one block adds the partials in a fixed order (deterministic).
#include <cuda_runtime.h>

#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "llm.cuh"

namespace rlcore::cuda {
namespace {

constexpr size_t kKlItems = 4096;  // tokens per block

/// One token: KlTerm, zeroed where the mask is 0; *on = counted (host and device).
struct KlOp {
  KlEstimator kind;
  const float* logp;
  const float* ref;
  const uint8_t* mask;  // null: all tokens
  float* kl;
  float* grad;  // null: not written
  __host__ __device__ __forceinline__ float Token(size_t i, bool* on) const {
    float v, g;
    llm::KlTerm(kind, Ldg(logp + i), Ldg(ref + i), &v, &g);
    *on = mask == nullptr || Ldg(mask + i) != 0;
    v = *on ? v : 0.0f, g = *on ? g : 0.0f;
    kl[i] = v;
    if (grad) grad[i] = g;
    return v;
  }
};

__global__ void __launch_bounds__(llm::kThreads) KlKernel(KlOp op, size_t M, double* part) {
  const size_t i0 = blockIdx.x * kKlItems, i1 = i0 + kKlItems < M ? i0 + kKlItems : M;
  double v[2] = {0.0, 0.0};
  for (size_t i = i0 + threadIdx.x; i < i1; i += llm::kThreads) {
    bool on;
    v[0] += op.Token(i, &on);
    v[1] += on ? 1.0 : 0.0;
  }
  llm::BlockSum<2>(v);
  if (threadIdx.x == 0) part[2 * blockIdx.x] = v[0], part[2 * blockIdx.x + 1] = v[1];
}

void Launch(const KlOp& op, size_t M, double* part, double* total, cudaStream_t s) {
  const unsigned blocks = llm::FixedBlocks(M, kKlItems);
  KlKernel<<<blocks, llm::kThreads, 0, s>>>(op, M, part);
  RLCORE_CUDA_CHECK_LAUNCH("tokenKl");
  llm::SumRows<2>(part, blocks, total, s);
}

BenchResult TokenKlBench(size_t T, size_t N, int iters) {
  // T·N tokens, k3, with a mask and the gradient.
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t M = T * N;
  DeviceBuffer lp(M * 4, s), ref(M * 4, s), mask(M, s), kl(M * 4, s), grad(M * 4, s),
      part(llm::FixedBlocks(M, kKlItems) * 16, s), total(16, s);
  FillUniform(lp.as<float>(), M, 1, -4.f, 0.f, s);
  FillUniform(ref.as<float>(), M, 2, -4.f, 0.f, s);
  FillFlags(mask.as<uint8_t>(), M, 3, 0.9f, s);
  const KlOp op{KlEstimator::kK3, lp.as<float>(), ref.as<float>(), mask.as<uint8_t>(), kl.as<float>(), grad.as<float>()};
  BenchResult r;
  r.ms = TimeLaunches([&] { Launch(op, M, part.as<double>(), total.as<double>(), s); }, iters, s);
  r.elements = static_cast<double>(M);
  r.bytes = static_cast<double>(M) * (4 + 4 + 1 + 4 + 4);
  r.path = "fixed blocks of 4096 tokens, float64 partials";
  return r;
}

}  // namespace

void TokenKl(size_t M, const float* logp, const float* ref, const uint8_t* mask, KlEstimator kind, float* kl,
             float* grad, double* stats) {
  if (M == 0) {
    stats[0] = 0.0, stats[1] = 0.0;
    return;
  }
  Stream stream;
  const cudaStream_t s = stream.get();
  DeviceBuffer d_lp = ToDevice(logp, M, s), d_ref = ToDevice(ref, M, s), d_mask = ToDevice(mask, M, s);
  DeviceBuffer d_kl(M * 4, s), d_grad(grad ? M * 4 : 0, s), part(llm::FixedBlocks(M, kKlItems) * 16, s), total(16, s);
  const KlOp op{kind, d_lp.as<float>(), d_ref.as<float>(), d_mask.as<uint8_t>(), d_kl.as<float>(), d_grad.as<float>()};
  Launch(op, M, part.as<double>(), total.as<double>(), s);
  double t[2];
  ToHost(kl, d_kl, M, s);
  ToHost(grad, d_grad, M, s);
  ToHost(t, total, 2, s);
  stream.Sync();
  stats[0] = t[1] > 0.0 ? t[0] / t[1] : 0.0;
  stats[1] = t[1];
}

RLCORE_CUDA_BENCH(token_kl, TokenKlBench);

}  // namespace rlcore::cuda
