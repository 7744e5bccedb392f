// Discounted returns (reward-to-go) over time-major [T, N] batches. Plain data, shared by the
// CPU kernel (native/kernels/discounted_returns.cc) and the CUDA kernel (cuda/discounted_returns.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/step_param.h"

namespace rlcore {

struct DiscountedReturnsProblem {
  size_t T = 0, N = 0;
  const float* rewards = nullptr;       // [T, N]
  const uint8_t* terminated = nullptr;  // [T, N] or null (no terminations)
  const uint8_t* truncated = nullptr;   // [T, N] or null (no truncations)
  const float* last_values = nullptr;   // [N] bootstrap G_T after the last step, or null (zero)
  const float* final_values = nullptr;  // [T, N] V(final observation), read where truncated, or null
  StepParam gamma;
  float* returns = nullptr;  // [T, N] out
};

/// CPU kernel (thread pool).
void DiscountedReturnsCpu(const DiscountedReturnsProblem& p);

}  // namespace rlcore
