// V-trace targets and policy-gradient advantages over time-major [T, N] batches. Plain data,
// shared by the CPU kernel (native/kernels/vtrace.cc) and the CUDA kernel (cuda/vtrace.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/step_param.h"

namespace rlcore {

struct VtraceProblem {
  size_t T = 0, N = 0;
  const float* rewards = nullptr;       // [T, N]
  const float* values = nullptr;        // [T, N]  V(s_t) under the learner's value function
  const uint8_t* terminated = nullptr;  // [T, N] or null (no terminations)
  const uint8_t* truncated = nullptr;   // [T, N] or null (no truncations)
  const float* next_values = nullptr;   // [T, N] V(s_{t+1}) given in full, or null
  const float* last_values = nullptr;   // [N] V(s_T) after the last step, or null (zero)
  const float* final_values = nullptr;  // [T, N] V(final observation), read where truncated
  const float* log_rhos = nullptr;      // [T, N] log π(a_t|s_t) - log μ(a_t|s_t)
  StepParam gamma, lambda;
  float clip_rho = 1.f, clip_c = 1.f, clip_pg_rho = 1.f;  // ρ̄, c̄, ρ̄_pg: finite, > 0
  float* vs = nullptr;             // [T, N] out: V-trace targets v_s
  float* pg_advantages = nullptr;  // [T, N] out: ρ_pg,t (r_t + γ_t ṽ_{t+1} - V(s_t))
};

/// CPU kernel (thread pool).
void VtraceCpu(const VtraceProblem& p);

}  // namespace rlcore
