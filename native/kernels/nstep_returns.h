// n-step bootstrapped returns over time-major [T, N] batches. Plain data, shared by the CPU
// kernel (native/kernels/nstep_returns.cc) and the CUDA kernel (cuda/nstep_returns.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "bootstrap_inputs.h"

namespace rlcore {

struct NstepReturnsProblem : BootstrapInputs {
  size_t n = 1;                         // steps per window, >= 1
  float* returns = nullptr;  // [T, N] out
};

/// CPU kernel (thread pool).
void NstepReturnsCpu(const NstepReturnsProblem& p);

}  // namespace rlcore
