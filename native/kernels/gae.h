// Generalized Advantage Estimation over time-major [T, N] batches. Plain data, shared by the
// CPU kernel (native/kernels/gae.cc) and the CUDA kernel (cuda/gae.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "bootstrap_inputs.h"

namespace rlcore {

struct GaeProblem : BootstrapInputs {
  StepParam lambda;
  float* advantages = nullptr;  // [T, N] out
  float* returns = nullptr;     // [T, N] out: advantages + values
};

/// CPU kernel (thread pool).
void GaeCpu(const GaeProblem& p);

}  // namespace rlcore
