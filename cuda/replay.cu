// Device-resident replay buffers (`new ReplayBuffer({ ..., device: 'cuda' })`): the storage and
// kernels behind backend.h's Replay* functions, which native/replay/replay_buffer.cc calls for a
// buffer on the device. The logic is cuda/replay_store.cuh's (shared with the host check) and the
// arithmetic cuda/replay.cuh's; this file adds device memory, a stream per buffer, and two
// kernel shapes: one thread per item (ForEachKernel) and, for inserts and gathers, one
// grid-stride loop per field over (row, 4-byte word) pairs (FieldsKernel, blockIdx.y = field),
// so that consecutive threads touch consecutive words of a column.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend.h"
#include "common.cuh"
#include "replay.cuh"
#include "replay_store.cuh"

namespace rlcore::cuda {
namespace {

constexpr unsigned kThreads = 256;

template <class Fn>
__global__ void ForEachKernel(size_t n, Fn fn) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    fn(i);
  }
}

template <class Op>
__global__ void FieldsKernel(size_t rows, Op op) {
  const size_t f = blockIdx.y, units = op.FieldUnits(f), n = rows * units;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    op.Field(f, i / units, i % units);
  }
}

}  // namespace

namespace replay_dev {

/// Device memory owned by one buffer, and its stream.
class CudaMem {
 public:
  CudaMem() { RLCORE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~CudaMem() {
    cudaStreamSynchronize(stream_);
    for (void* p : allocations_) cudaFree(p);
    if (scratch_) cudaFree(scratch_);
    if (staging_) cudaFreeHost(staging_);
    cudaStreamDestroy(stream_);
  }
  CudaMem(const CudaMem&) = delete;
  CudaMem& operator=(const CudaMem&) = delete;

  void* Alloc(size_t bytes) {
    void* p = nullptr;
    RLCORE_CUDA_CHECK(cudaMalloc(&p, bytes > 0 ? bytes : 1));
    allocations_.push_back(p);
    return p;
  }
  uint8_t* Staging(size_t bytes) {
    if (bytes > staging_bytes_) {
      if (staging_) cudaFreeHost(staging_);
      staging_ = nullptr;
      staging_bytes_ = 0;
      RLCORE_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&staging_), bytes));
      staging_bytes_ = bytes;
    }
    return staging_;
  }
  uint8_t* Scratch(size_t bytes) {
    if (bytes > scratch_bytes_) {
      if (scratch_) cudaFree(scratch_);
      scratch_ = nullptr;
      scratch_bytes_ = 0;
      RLCORE_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&scratch_), bytes));
      scratch_bytes_ = bytes;
    }
    return scratch_;
  }
  void Up(void* dst, const void* src, size_t bytes) {
    if (bytes > 0) RLCORE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  }
  void Down(void* dst, const void* src, size_t bytes) {
    if (bytes > 0) RLCORE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  }
  template <class Fn>
  void ForEach(size_t n, const Fn& fn) {
    if (n == 0) return;
    ForEachKernel<<<GridFor(n, kThreads, 8192), kThreads, 0, stream_>>>(n, fn);
    RLCORE_CUDA_CHECK_LAUNCH("replay ForEachKernel");
  }
  template <class Op>
  void ForFields(size_t num_fields, size_t rows, size_t max_units, const Op& op) {
    if (rows == 0 || num_fields == 0) return;
    const dim3 grid(GridFor(rows * max_units, kThreads, 4096), static_cast<unsigned>(num_fields));
    FieldsKernel<<<grid, kThreads, 0, stream_>>>(rows, op);
    RLCORE_CUDA_CHECK_LAUNCH("replay FieldsKernel");
  }
  void Sync() { RLCORE_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
  std::vector<void*> allocations_;
  uint8_t* staging_ = nullptr;  // pinned host memory
  uint8_t* scratch_ = nullptr;
  size_t staging_bytes_ = 0, scratch_bytes_ = 0;
};

}  // namespace replay_dev

class ReplayStore : public replay_dev::StoreImpl<replay_dev::CudaMem> {
 public:
  using StoreImpl::StoreImpl;
};

RLCORE_REPLAY_ENTRY_POINTS

}  // namespace rlcore::cuda
