// Diagonal Gaussian and tanh-squashed Gaussian, batched over [B, A]. Plain data (napi-free).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/step_param.h"

namespace rlcore {

struct GaussianProblem {
  size_t B = 0, A = 0;
  const float* mean = nullptr;    // [B, A]
  const float* scale = nullptr;   // log σ (or σ when scale_is_std): [B, A] when per_row, else [A]
  bool scale_is_std = false;
  bool per_row = true;
  const float* actions = nullptr;  // [B, A] given actions, or null when sampling
  bool sample = false;             // x = μ + σ ε, row b drawing ε from RandomStream(seed, b)
  uint64_t seed = 0;
  StepParam grad_log_prob, grad_entropy;  // upstream dL/d log π_b, dL/d H_b (At(b, 0))
  float* sampled = nullptr;      // [B, A] out (sample mode)
  float* log_prob = nullptr;     // [B] out, or null
  float* entropy = nullptr;      // [B] out, or null
  float* grad_mean = nullptr;    // [B, A] out, or null
  float* grad_scale = nullptr;   // like `scale` (free: summed over the batch), or null
};

/// CPU kernel (thread pool). σ must be positive when given directly (checked by the binding).
void GaussianCpu(const GaussianProblem& p);

struct SquashedGaussianProblem {
  size_t B = 0, A = 0;
  const float* mean = nullptr;     // [B, A]
  const float* log_std = nullptr;  // [B, A] when per_row, else [A]
  bool per_row = true;
  const float* noise = nullptr;    // [B, A] given ε, or null: drawn from RandomStream(seed, b) into noise_out
  uint64_t seed = 0;
  StepParam grad_log_prob;             // dL/d log π_b
  const float* grad_actions = nullptr;  // [B, A] dL/da, or null
  float* actions = nullptr;      // [B, A] out a = tanh(u), or null
  float* pre_tanh = nullptr;     // [B, A] out u = μ + σ ε, or null
  float* noise_out = nullptr;    // [B, A] out ε (when drawn)
  float* log_prob = nullptr;     // [B] out, or null
  float* grad_mean = nullptr;    // [B, A] out, or null
  float* grad_log_std = nullptr;  // like log_std (free: summed over the batch), or null
};

/// CPU kernel (thread pool).
void SquashedGaussianCpu(const SquashedGaussianProblem& p);

}  // namespace rlcore
