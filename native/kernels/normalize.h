// Advantage normalisation ("whitening"). Plain data, shared by the CPU kernel
// (native/kernels/normalize.cc) and a CUDA kernel.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rlcore {

struct WhitenProblem {
  size_t n = 0;                      // elements of x
  const float* x = nullptr;          // [n]
  const uint8_t* mask = nullptr;     // [n] or null: statistics over the elements where mask != 0
  const int32_t* indices = nullptr;  // [k] or null: statistics over x[indices], out[j] for x[indices[j]]
  size_t k = 0;                      // elements of indices
  double eps = 1e-8;                 // > 0
  bool unbiased = true;              // Bessel's correction
  bool shift_mean = true;            // false: add the mean back
  float* out = nullptr;              // [n], or [k] with indices
  double* stats = nullptr;           // [3] out: mean, std, count
};

/// CPU kernel (thread pool). Indices must already be validated (0 <= indices[j] < n).
void WhitenCpu(const WhitenProblem& p);

}  // namespace rlcore
