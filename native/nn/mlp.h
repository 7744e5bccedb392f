// A feed-forward network (Sequential of Linear, Tanh, ReLU, LayerNorm) evaluated on row-major
// [B, features] batches. The network object holds only the architecture, the training caches
// and scratch; parameters and gradients are flat float arrays owned by the caller (TypeScript),
// laid out layer by layer: Linear W [out, in] (PyTorch layout) then b [out]; LayerNorm gamma
// [d] then beta [d]. Plain data; no N-API (CUDA can include it).
#pragma once
#include <cstddef>
#include <vector>

#include "gemm.h"

namespace rlcore::nn {

enum class LayerKind : int { kLinear = 0, kTanh = 1, kRelu = 2, kLayerNorm = 3 };

/// One evaluation step: a Linear or a LayerNorm with the element-wise activation that follows
/// it fused in, or a lone activation. Fusing removes a pass over the batch and a cache.
struct Stage {
  LayerKind kind = LayerKind::kLinear;  // kLinear, kLayerNorm, or kTanh (a lone activation; see act)
  size_t in = 0, out = 0;
  Act act = Act::kNone;
  size_t w_offset = 0, b_offset = 0;  // Linear: W, b; LayerNorm: gamma, beta
};

class Mlp {
 public:
  /// `kinds[l]` and `sizes[l]` (output features of a Linear; ignored otherwise) per layer.
  Mlp(size_t input_size, const std::vector<LayerKind>& kinds, const std::vector<size_t>& sizes, float ln_eps);

  size_t InputSize() const { return input_size_; }
  size_t OutputSize() const { return stages_.empty() ? input_size_ : stages_.back().out; }
  size_t NumParams() const { return num_params_; }
  size_t MaxWidth() const { return max_width_; }

  /// Grows the caches for a training pass of `batch` rows (may throw std::bad_alloc; call before
  /// any output is written).
  void PrepareTrain(size_t batch);
  /// Grows the inference scratch for `batch` rows.
  void PrepareInfer(size_t batch);

  /// out[B, out] = f(x[B, in]). Training mode keeps what Backward needs.
  void Forward(const float* params, const float* x, float* out, size_t batch, bool train);
  /// Backward of the last training Forward: accumulates parameter gradients into `grads` (if
  /// non-null) and writes dL/dx into `dx` (if non-null). `dout` is [B, out].
  void Backward(const float* params, float* grads, const float* dout, float* dx, size_t batch);

  /// Rows of the last training Forward (0: none).
  size_t CachedBatch() const { return cached_batch_; }
  void InvalidateCache() { cached_batch_ = 0; }

 private:
  size_t input_size_;
  float ln_eps_;
  std::vector<Stage> stages_;
  size_t num_params_ = 0, max_width_ = 0;
  // Training caches: input copy, each stage's output, LayerNorm x-hat and 1/std.
  std::vector<float> input_cache_;
  std::vector<std::vector<float>> outputs_, xhat_, rstd_;
  // Scratch: two ping-pong activations (inference) or gradients (training), and dZ.
  std::vector<float> ping_, pong_, dz_;
  std::vector<double> colsum_;
  size_t cached_batch_ = 0;
  GemmWorkspace ws_;
};

}  // namespace rlcore::nn
