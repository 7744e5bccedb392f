// Mean and sum of squared deviations of float32 data on the GPU, in float64: the device
// counterpart of native/kernels/moments.h (same merge rule, Chan et al.'s pairwise update, so it
// avoids the cancellation of sum-of-squares formulas). Each thread reduces runs of 8 elements with
// two passes in registers and merges them; warps and blocks merge pairwise; a fixed grid makes
// the result identical from run to run.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common.cuh"

namespace rlcore::cuda {

/// count, mean and M2 = Σ (x - mean)² of a set of values.
struct DeviceMoments {
  double count, mean, m2;
};

__host__ __device__ __forceinline__ DeviceMoments MergeMoments(const DeviceMoments& a, const DeviceMoments& b) {
  if (b.count == 0.0) return a;
  if (a.count == 0.0) return b;
  const double n = a.count + b.count, d = b.mean - a.mean;
  return {n, a.mean + d * (b.count / n), a.m2 + b.m2 + d * d * (a.count * b.count / n)};
}

/// sqrt(M2 / (count - 1)) (unbiased) or sqrt(M2 / count); 0 when there are too few values.
__host__ __device__ __forceinline__ double MomentsStd(const DeviceMoments& m, bool unbiased) {
  const double dof = unbiased ? m.count - 1.0 : m.count;
  return dof > 0.0 ? sqrt(m.m2 / dof) : 0.0;
}

namespace moments {

constexpr int kThreads = 256;
constexpr unsigned kMaxBlocks = 1024;
constexpr int kRun = 8;

__device__ __forceinline__ DeviceMoments ShuffleDown(const DeviceMoments& m, unsigned delta) {
  return {__shfl_down_sync(0xffffffffu, m.count, delta), __shfl_down_sync(0xffffffffu, m.mean, delta),
          __shfl_down_sync(0xffffffffu, m.m2, delta)};
}

/// Merges one DeviceMoments per thread; the result is valid in thread 0. Synchronises the block.
__device__ __forceinline__ DeviceMoments BlockMerge(DeviceMoments m) {
  __shared__ DeviceMoments warp_total[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) m = MergeMoments(m, ShuffleDown(m, offset));
  if ((threadIdx.x & 31) == 0) warp_total[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) m = MergeMoments(m, warp_total[w]);
  }
  return m;
}

// Moments of x[i0, i0 + len) (masked-in elements only when mask is given), len <= kRun.
__device__ __forceinline__ DeviceMoments RunMoments(const float* x, const uint8_t* mask, size_t i0, size_t len) {
  float v[kRun];
  bool on[kRun];
  double sum = 0.0, count = 0.0;
#pragma unroll
  for (int k = 0; k < kRun; ++k) {
    on[k] = k < static_cast<int>(len) && (mask == nullptr || __ldg(mask + i0 + k) != 0);
    v[k] = on[k] ? __ldg(x + i0 + k) : 0.f;
    sum += v[k];
    count += on[k] ? 1.0 : 0.0;
  }
  if (count == 0.0) return {0.0, 0.0, 0.0};
  const double mean = sum / count;
  double m2 = 0.0;
#pragma unroll
  for (int k = 0; k < kRun; ++k) {
    const double d = on[k] ? v[k] - mean : 0.0;
    m2 += d * d;
  }
  return {count, mean, m2};
}

// static: these kernels live in a header included by several .cu files.
static __global__ void __launch_bounds__(kThreads) PartialKernel(const float* x, const uint8_t* mask, size_t n,
                                                          DeviceMoments* partial) {
  DeviceMoments m{0.0, 0.0, 0.0};
  const size_t runs = (n + kRun - 1) / kRun;
  for (size_t r = blockIdx.x * static_cast<size_t>(kThreads) + threadIdx.x; r < runs;
       r += static_cast<size_t>(gridDim.x) * kThreads) {
    const size_t i0 = r * kRun;
    m = MergeMoments(m, RunMoments(x, mask, i0, n - i0 < kRun ? n - i0 : kRun));
  }
  m = BlockMerge(m);
  if (threadIdx.x == 0) partial[blockIdx.x] = m;
}

static __global__ void __launch_bounds__(kThreads) FinalKernel(const DeviceMoments* partial, unsigned count,
                                                        DeviceMoments* out) {
  DeviceMoments m{0.0, 0.0, 0.0};
  for (unsigned b = threadIdx.x; b < count; b += kThreads) m = MergeMoments(m, partial[b]);
  m = BlockMerge(m);
  if (threadIdx.x == 0) *out = m;
}

}  // namespace moments

/// Enqueues the moments of x[0, n) (or of the elements with mask != 0) into *out (device).
inline void ComputeMoments(const float* x, const uint8_t* mask, size_t n, DeviceMoments* out, cudaStream_t s) {
  const size_t runs = (n + moments::kRun - 1) / moments::kRun;
  const unsigned blocks = GridFor(runs, moments::kThreads, moments::kMaxBlocks);
  DeviceBuffer partial(blocks * sizeof(DeviceMoments), s);
  moments::PartialKernel<<<blocks, moments::kThreads, 0, s>>>(x, mask, n, partial.as<DeviceMoments>());
  RLCORE_CUDA_CHECK_LAUNCH("moments::PartialKernel");
  moments::FinalKernel<<<1, moments::kThreads, 0, s>>>(partial.as<DeviceMoments>(), blocks, out);
  RLCORE_CUDA_CHECK_LAUNCH("moments::FinalKernel");
}

}  // namespace rlcore::cuda
