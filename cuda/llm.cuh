// Pieces shared by the CUDA LLM losses (cuda/policy_loss.cu, cuda/kl.cu, cuda/preference.cu):
// the float32 math of native/dist/fastmath.h and native/llm/llm.h as __host__ __device__
// functions (so scripts/cuda-host-check.sh can run them against the CPU kernels without a GPU),
// and float64 block reductions whose order is fixed by the shape alone (deterministic: no
// atomics, and grids that depend on the problem, never on the device).
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../native/llm/llm.h"
#include "common.cuh"

namespace rlcore::cuda::llm {

constexpr int kThreads = 256;

#define RLCORE_LLM_HD __host__ __device__ __forceinline__

RLCORE_LLM_HD float FloatFromBits(int32_t bits) {
#ifdef __CUDA_ARCH__
  return __int_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

/// ExpSplitF of native/dist/fastmath.h, operation for operation: e^x = (p r² + r + 1) 2^n.
struct ExpParts {
  float n, r, p, scale;
};
RLCORE_LLM_HD ExpParts ExpSplit(float x) {
  x = x < -87.33654f ? -87.33654f : x;
  x = x > 88.0f ? 88.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return {n, r, p, FloatFromBits((static_cast<int32_t>(n) + 127) << 23)};
}
/// ExpF (fastmath.h).
RLCORE_LLM_HD float Exp(float x) {
  const ExpParts e = ExpSplit(x);
  return (e.p * e.r * e.r + e.r + 1.0f) * e.scale;
}
/// ExpK3F (llm.h): e^x, and e^x − 1 − x without cancellation in *k3.
RLCORE_LLM_HD float ExpK3(float x, float* k3) {
  const ExpParts p = ExpSplit(x);
  const float q = p.p * p.r * p.r;
  const float e = (q + p.r + 1.0f) * p.scale;
  *k3 = p.n == 0.0f ? q : e - 1.0f - x;
  return e;
}

/// One token of KlTermsF (llm.h): the estimate k(log π, log π_ref) of the fixed estimator and
/// ∂k/∂log π, with d = clamp(ref − logp, −20, 20).
RLCORE_LLM_HD void KlTerm(KlEstimator kind, float logp, float ref, float* value, float* grad) {
  const float raw = ref - logp;
  const float inside = (raw > -20.0f && raw < 20.0f) ? 1.0f : 0.0f;
  const float d = raw < -20.0f ? -20.0f : (raw > 20.0f ? 20.0f : raw);
  if (kind == KlEstimator::kK1) {
    *value = -d, *grad = inside;
  } else if (kind == KlEstimator::kK2) {
    *value = 0.5f * d * d, *grad = -d * inside;
  } else {
    float k3;
    ExpK3(d, &k3);
    k3 = k3 > 0.0f ? k3 : 0.0f;
    const float keep = k3 > 10.0f ? 0.0f : 1.0f;
    *value = k3 > 10.0f ? 10.0f : k3;
    *grad = -(d + k3) * inside * keep;
  }
}

/// Softplus of native/dist/batch.h and the stable logistic of native/llm/preference.cc (float64).
RLCORE_LLM_HD double Softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
RLCORE_LLM_HD double Sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/// Sums v[0..W) over the kThreads threads of a block, in an order fixed by the thread index
/// (xor shuffles within warps, then the warps' sums in warp order); every thread gets the sums.
template <int W>
__device__ void BlockSum(double (&v)[W]) {
  __shared__ double part[kThreads / 32][W];
  for (int o = 16; o > 0; o /= 2)
    for (int k = 0; k < W; ++k) v[k] += __shfl_xor_sync(0xffffffffu, v[k], o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  if (lane == 0)
    for (int k = 0; k < W; ++k) part[warp][k] = v[k];
  __syncthreads();
  for (int k = 0; k < W; ++k) {
    double s = 0.0;
    for (int w = 0; w < kThreads / 32; ++w) s += part[w][k];
    v[k] = s;
  }
  __syncthreads();  // part[] is reused by the next call
}

/// out[k] = Σ_i in[i·W + k] (one block: a fixed order for a given n).
template <int W>
__global__ void __launch_bounds__(kThreads) SumRowsKernel(const double* in, size_t n, double* out) {
  double v[W];
  for (int k = 0; k < W; ++k) v[k] = 0.0;
  for (size_t i = threadIdx.x; i < n; i += kThreads)
    for (int k = 0; k < W; ++k) v[k] += in[i * W + k];
  BlockSum<W>(v);
  if (threadIdx.x == 0)
    for (int k = 0; k < W; ++k) out[k] = v[k];
}

template <int W>
void SumRows(const double* in, size_t n, double* out, cudaStream_t s) {
  SumRowsKernel<W><<<1, kThreads, 0, s>>>(in, n, out);
  RLCORE_CUDA_CHECK_LAUNCH("llm SumRows");
}

/// Blocks of `per_block` items over n items (at least one block; items beyond n are skipped).
inline unsigned FixedBlocks(size_t n, size_t per_block) {
  const size_t b = (n + per_block - 1) / per_block;
  if (b >= (size_t{1} << 31)) throw std::runtime_error("llm CUDA kernels: problem too large for one launch");
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

}  // namespace rlcore::cuda::llm
