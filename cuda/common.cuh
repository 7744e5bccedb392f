// Host-side plumbing shared by the CUDA kernels: error checks that throw std::runtime_error with
// the CUDA error text (DeviceUnavailable, from backend.h, when there is no usable device; the
// binding turns them into RlcoreError), a per-call stream, and
// stream-ordered device buffers. Every entry point runs on its own stream, so calls from several
// libuv workers overlap instead of serialising on the legacy default stream.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "backend.h"

namespace rlcore::cuda {

[[noreturn]] inline void ThrowCuda(cudaError_t e, const char* what) {
  const std::string message =
      std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")";
  switch (e) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorDevicesUnavailable:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
      throw DeviceUnavailable(message);
    default:
      throw std::runtime_error(message);
  }
}

inline void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) ThrowCuda(e, what);
}

/// A read-only load: through the read-only data cache on the device, a plain load on the host
/// (kernel functors are __host__ __device__ so that their formulas can be checked without a GPU).
template <class T>
__host__ __device__ __forceinline__ T Ldg(const T* p) {
#ifdef __CUDA_ARCH__
  return __ldg(p);
#else
  return *p;
#endif
}

#define RLCORE_CUDA_CHECK(expr) ::rlcore::cuda::Check((expr), #expr)
/// After a kernel launch: reports bad launch configurations (the launch itself returns nothing).
#define RLCORE_CUDA_CHECK_LAUNCH(name) ::rlcore::cuda::Check(cudaGetLastError(), name)

/// A non-blocking stream owned by one call; synchronised and destroyed on scope exit.
class Stream {
 public:
  Stream() { Check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
  ~Stream() {
    // Outstanding work must finish before buffers freed on this stream are reused; errors were
    // (or will be) reported by Sync(), and a destructor must not throw.
    cudaStreamSynchronize(s_);
    cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void Sync() const { RLCORE_CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

/// Device memory from the stream-ordered allocator (pooled: repeated calls do not hit cudaMalloc).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t bytes, cudaStream_t stream) : stream_(stream), bytes_(bytes) {
    if (bytes > 0) RLCORE_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(stream_, o.stream_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_ = nullptr;
  size_t bytes_ = 0;
};

/// Copies `count` elements of a host array to a new device buffer (null in, empty buffer out).
template <class T>
DeviceBuffer ToDevice(const T* host, size_t count, cudaStream_t stream) {
  if (host == nullptr) return DeviceBuffer();
  DeviceBuffer d(count * sizeof(T), stream);
  RLCORE_CUDA_CHECK(cudaMemcpyAsync(d.as<void>(), host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
  return d;
}

/// Copies a device buffer back into a host array (no-op for a null host pointer).
template <class T>
void ToHost(T* host, const DeviceBuffer& d, size_t count, cudaStream_t stream) {
  if (host == nullptr) return;
  RLCORE_CUDA_CHECK(cudaMemcpyAsync(host, d.as<void>(), count * sizeof(T), cudaMemcpyDeviceToHost, stream));
}

/// Blocks for a 1-D launch over `n` items, capped where a grid-stride loop takes over.
inline unsigned GridFor(size_t n, unsigned threads, size_t max_blocks = 1u << 20) {
  size_t blocks = (n + threads - 1) / threads;
  if (blocks > max_blocks) blocks = max_blocks;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

}  // namespace rlcore::cuda
