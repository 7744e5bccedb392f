// CUDA builds: device discovery, and the registry behind the device-resident benchmarks.
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../native/core/rng.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"

namespace rlcore::cuda {

bool Built() { return true; }

std::vector<DeviceInfo> Devices(std::string* error) {
  std::vector<DeviceInfo> out;
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // reset the last-error state so later calls start clean
    *error = std::string("no device: ") + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")";
    if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice) {
      *error += "; is an NVIDIA GPU present and its driver (libcuda.so) installed?";
    }
    return out;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    e = cudaGetDeviceProperties(&prop, d);
    if (e != cudaSuccess) {
      cudaGetLastError();
      *error = std::string("cudaGetDeviceProperties(") + std::to_string(d) + "): " + cudaGetErrorString(e);
      return {};
    }
    DeviceInfo info;
    info.name = prop.name;
    info.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    info.memory_bytes = prop.totalGlobalMem;
    out.push_back(std::move(info));
  }
  return out;
}

namespace {

std::map<std::string, BenchFn>& BenchRegistry() {
  static std::map<std::string, BenchFn> registry;
  return registry;
}

__global__ void FillUniformKernel(float* d, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) * 4; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x * 4) {
    const Philox4 r = Philox(seed, i / 4);
    for (int k = 0; k < 4 && i + k < n; ++k) d[i + k] = lo + (hi - lo) * UniformFloat(r.v[k]);
  }
}

__global__ void FillFlagsKernel(uint8_t* d, size_t n, uint64_t seed, float p) {
  for (size_t i = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) * 4; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x * 4) {
    const Philox4 r = Philox(seed, i / 4);
    for (int k = 0; k < 4 && i + k < n; ++k) d[i + k] = UniformFloat(r.v[k]) < p ? 1 : 0;
  }
}

}  // namespace

BenchRegistration::BenchRegistration(const char* name, BenchFn fn) { BenchRegistry()[name] = fn; }

void FillUniform(float* d, size_t n, uint64_t seed, float lo, float hi, cudaStream_t stream) {
  FillUniformKernel<<<GridFor((n + 3) / 4, 256, 4096), 256, 0, stream>>>(d, n, seed, lo, hi);
  RLCORE_CUDA_CHECK_LAUNCH("FillUniformKernel");
}

void FillFlags(uint8_t* d, size_t n, uint64_t seed, float p, cudaStream_t stream) {
  FillFlagsKernel<<<GridFor((n + 3) / 4, 256, 4096), 256, 0, stream>>>(d, n, seed, p);
  RLCORE_CUDA_CHECK_LAUNCH("FillFlagsKernel");
}

std::vector<std::string> BenchKernels() {
  std::vector<std::string> names;
  for (const auto& entry : BenchRegistry()) names.push_back(entry.first);
  return names;
}

BenchResult Bench(const std::string& kernel, size_t T, size_t N, int iters) {
  auto it = BenchRegistry().find(kernel);
  if (it == BenchRegistry().end()) {
    std::string known;
    for (const auto& name : BenchKernels()) known += (known.empty() ? "" : ", ") + name;
    throw std::invalid_argument("unknown kernel '" + kernel + "' (known: " + known + ")");
  }
  return it->second(T, N, std::max(1, iters));
}

}  // namespace rlcore::cuda
