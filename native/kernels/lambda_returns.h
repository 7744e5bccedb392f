// TD(λ) returns over time-major [T, N] batches. Plain data, shared by the CPU kernel
// (native/kernels/lambda_returns.cc) and the CUDA kernel (cuda/lambda_returns.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/step_param.h"

namespace rlcore {

struct LambdaReturnsProblem {
  size_t T = 0, N = 0;
  const float* rewards = nullptr;       // [T, N]
  const float* values = nullptr;        // [T, N]  V(s_t)
  const uint8_t* terminated = nullptr;  // [T, N] or null (no terminations)
  const uint8_t* truncated = nullptr;   // [T, N] or null (no truncations)
  const float* next_values = nullptr;   // [T, N] V(s_{t+1}) given in full, or null
  const float* last_values = nullptr;   // [N] V(s_T) after the last step, or null (zero)
  const float* final_values = nullptr;  // [T, N] V(final observation), read where truncated
  StepParam gamma, lambda;
  float* returns = nullptr;  // [T, N] out
};

/// CPU kernel (thread pool).
void LambdaReturnsCpu(const LambdaReturnsProblem& p);

}  // namespace rlcore
