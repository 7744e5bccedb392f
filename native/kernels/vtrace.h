// V-trace targets and policy-gradient advantages over time-major [T, N] batches. Plain data,
// shared by the CPU kernel (native/kernels/vtrace.cc) and the CUDA kernel (cuda/vtrace.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "bootstrap_inputs.h"

namespace rlcore {

struct VtraceProblem : BootstrapInputs {
  const float* log_rhos = nullptr;      // [T, N] log π(a_t|s_t) - log μ(a_t|s_t)
  StepParam lambda;
  float clip_rho = 1.f, clip_c = 1.f, clip_pg_rho = 1.f;  // ρ̄, c̄, ρ̄_pg: finite, > 0
  float* vs = nullptr;             // [T, N] out: V-trace targets v_s
  float* pg_advantages = nullptr;  // [T, N] out: ρ_pg,t (r_t + γ_t ṽ_{t+1} - V(s_t))
};

/// CPU kernel (thread pool).
void VtraceCpu(const VtraceProblem& p);

}  // namespace rlcore
