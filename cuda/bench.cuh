// Device-resident benchmarks: each cuda/NAME.cu registers a function that allocates its inputs on
// the device, fills them, and times launches, so bench/ can report GPU memory bandwidth without
// PCIe copies (see Bench() in backend.h and the `cudaBench` native function).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backend.h"
#include "common.cuh"

namespace rlcore::cuda {

using BenchFn = BenchResult (*)(size_t T, size_t N, int iters);

/// Adds a kernel to the Bench() registry (at static initialisation).
struct BenchRegistration {
  BenchRegistration(const char* name, BenchFn fn);
};
#define RLCORE_CUDA_BENCH(name, fn) static ::rlcore::cuda::BenchRegistration rlcore_cuda_bench_##name(#name, fn)

/// Fills d[0..n) with uniform floats in [lo, hi) from Philox(seed) (same seed, same data).
void FillUniform(float* d, size_t n, uint64_t seed, float lo, float hi, cudaStream_t stream);
/// Fills d[0..n) with 1 with probability p, else 0.
void FillFlags(uint8_t* d, size_t n, uint64_t seed, float p, cudaStream_t stream);

/// A CUDA event, destroyed on scope exit.
class Event {
 public:
  Event() { RLCORE_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

/// Mean milliseconds per call of `launch` (which enqueues work on `stream`) over `iters` calls,
/// after one warm-up call.
template <class Launch>
double TimeLaunches(Launch&& launch, int iters, cudaStream_t stream) {
  launch();
  Event start, stop;
  RLCORE_CUDA_CHECK(cudaEventRecord(start.get(), stream));
  for (int i = 0; i < iters; ++i) launch();
  RLCORE_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
  RLCORE_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0.f;
  RLCORE_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return static_cast<double>(ms) / iters;
}

}  // namespace rlcore::cuda
