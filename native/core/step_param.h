// A per-step parameter (gamma, lambda, ...): a scalar, or an array indexed by step (stride_t = 1)
// or by step and column (stride_t = N, stride_n = 1). Plain data: shared by CPU and CUDA code.
#pragma once
#include <cstddef>

namespace rlcore {

struct StepParam {
  const float* values = nullptr;  // null: use `scalar`
  float scalar = 0.f;
  size_t stride_t = 0, stride_n = 0;
  size_t length = 0;  // elements in `values` (0 for a scalar)
#ifdef __CUDACC__
  __host__ __device__
#endif
  float At(size_t t, size_t n) const { return values ? values[t * stride_t + n * stride_n] : scalar; }

  /// Pointer to the w values of row t, columns [n0, n0 + w): straight into `values` when they
  /// are per column, else `scratch` (w floats) filled with the row's single value.
  const float* Row(size_t t, size_t n0, size_t w, float* scratch) const {
    if (values && stride_n == 1) return values + t * stride_t + n0;
    const float v = At(t, 0);
    for (size_t j = 0; j < w; ++j) scratch[j] = v;
    return scratch;
  }
};

/// Rows of a StepParam over columns [n0, n0 + w), w <= kMax: a scalar is broadcast once per
/// kernel call (not per row), a per-step value once per row, per-column values are read in place.
class StepRows {
 public:
  static constexpr size_t kMax = 512;
  StepRows(const StepParam& p, size_t n0, size_t w) : p_(p), n0_(n0), w_(w) {
    if (!p.values) Fill(p.scalar);
  }
  const float* Row(size_t t) {
    if (!p_.values) return buf_;
    if (p_.stride_n == 1) return p_.values + t * p_.stride_t + n0_;
    Fill(p_.values[t * p_.stride_t]);
    return buf_;
  }

 private:
  void Fill(float v) {
    for (size_t j = 0; j < w_; ++j) buf_[j] = v;
  }
  const StepParam& p_;
  size_t n0_, w_;
  float buf_[kMax];
};

}  // namespace rlcore
