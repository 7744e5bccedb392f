// The inputs every bootstrapped return estimator over time-major [T, N] batches shares (gae,
// lambda_returns, nstep_returns, vtrace): rewards, values, episode ends and the next-state value
// convention of native/kernels/bootstrap.h. Plain data, shared by CPU and CUDA kernels; each
// kernel's Problem struct derives from it and adds its own parameters and outputs.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/step_param.h"

namespace rlcore {

struct BootstrapInputs {
  size_t T = 0, N = 0;
  const float* rewards = nullptr;       // [T, N]
  const float* values = nullptr;        // [T, N]  V(s_t)
  const uint8_t* terminated = nullptr;  // [T, N] or null (no terminations)
  const uint8_t* truncated = nullptr;   // [T, N] or null (no truncations)
  const float* next_values = nullptr;   // [T, N] V(s_{t+1}) given in full, or null
  const float* last_values = nullptr;   // [N] V(s_T) after the last step, or null (zero)
  const float* final_values = nullptr;  // [T, N] V(final observation), read where truncated
  StepParam gamma;                      // discount, scalar / [T] / [T, N]
};

}  // namespace rlcore
