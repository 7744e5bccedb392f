// Advantage normalisation ("whitening") on the GPU, with the semantics of
// native/kernels/normalize.cc:
//
//   μ = mean(x_S),  σ = std(x_S) (Bessel-corrected unless unbiased = false)
//   out = (x - μ) / (σ + eps)  (+ μ when shiftMean = false)
//
// over every element, the elements with mask != 0 (masked-out outputs are 0), or the gathered
// elements x[indices[j]]. The statistics stay on the device between the reduction and the
// elementwise pass; only the three numbers of `stats` come back separately.
#include <cuda_runtime.h>

#include "../native/kernels/normalize.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "moments.cuh"

namespace rlcore::cuda {
namespace {

__global__ void GatherKernel(const float* x, const int32_t* indices, size_t k, float* out) {
  for (size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; j < k;
       j += static_cast<size_t>(gridDim.x) * blockDim.x) {
    out[j] = __ldg(x + __ldg(indices + j));
  }
}

__global__ void __launch_bounds__(256) WhitenKernel(const float* x, const uint8_t* mask, size_t n,
                                                    const DeviceMoments* moments, double eps, bool unbiased,
                                                    bool shift_mean, float* out) {
  const DeviceMoments m = *moments;
  const double scale = 1.0 / (MomentsStd(m, unbiased) + eps);
  const double add = shift_mean ? 0.0 : m.mean;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float v = static_cast<float>((static_cast<double>(x[i]) - m.mean) * scale + add);
    out[i] = (mask == nullptr || __ldg(mask + i) != 0) ? v : 0.f;
  }
}

// Whitens device arrays: src (= out after a gather) of n elements; moments land in *moments.
void Launch(const float* src, const uint8_t* mask, size_t n, double eps, bool unbiased, bool shift_mean, float* out,
            DeviceMoments* moments, cudaStream_t s) {
  ComputeMoments(src, mask, n, moments, s);
  WhitenKernel<<<GridFor(n, 256), 256, 0, s>>>(src, mask, n, moments, eps, unbiased, shift_mean, out);
  RLCORE_CUDA_CHECK_LAUNCH("WhitenKernel");
}

BenchResult WhitenBench(size_t T, size_t N, int iters) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t n = T * N;
  DeviceBuffer x(n * 4, s), out(n * 4, s), moments(sizeof(DeviceMoments), s);
  FillUniform(x.as<float>(), n, 1, -1.f, 1.f, s);
  BenchResult r;
  r.ms = TimeLaunches([&] {
    Launch(x.as<float>(), nullptr, n, 1e-8, true, true, out.as<float>(), moments.as<DeviceMoments>(), s);
  }, iters, s);
  r.elements = static_cast<double>(n);
  r.bytes = static_cast<double>(n) * (4 + 4);  // read x, write out (as bench/normalize.bench.ts; x is read twice)
  r.path = "moments + elementwise";
  return r;
}

}  // namespace

void Whiten(const WhitenProblem& p) {
  const size_t n = p.indices ? p.k : p.n;
  if (n == 0) {
    p.stats[0] = p.stats[1] = p.stats[2] = 0.0;
    return;
  }
  Stream stream;
  const cudaStream_t s = stream.get();
  DeviceBuffer out(n * sizeof(float), s), moments(sizeof(DeviceMoments), s), x = ToDevice(p.x, p.n, s),
      mask = ToDevice(p.mask, p.n, s), indices = ToDevice(p.indices, p.k, s);
  const float* src = x.as<float>();
  if (p.indices) {
    GatherKernel<<<GridFor(p.k, 256), 256, 0, s>>>(x.as<float>(), indices.as<int32_t>(), p.k, out.as<float>());
    RLCORE_CUDA_CHECK_LAUNCH("GatherKernel");
    src = out.as<float>();
  }
  Launch(src, mask.as<uint8_t>(), n, p.eps, p.unbiased, p.shift_mean, out.as<float>(), moments.as<DeviceMoments>(), s);
  DeviceMoments m{};
  ToHost(p.out, out, n, s);
  ToHost(&m, moments, 1, s);
  stream.Sync();
  p.stats[0] = m.mean;
  p.stats[1] = MomentsStd(m, p.unbiased);
  p.stats[2] = m.count;
}

RLCORE_CUDA_BENCH(normalize, WhitenBench);

}  // namespace rlcore::cuda
