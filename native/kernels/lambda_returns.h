// TD(λ) returns over time-major [T, N] batches. Plain data, shared by the CPU kernel
// (native/kernels/lambda_returns.cc) and the CUDA kernel (cuda/lambda_returns.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "bootstrap_inputs.h"

namespace rlcore {

struct LambdaReturnsProblem : BootstrapInputs {
  StepParam lambda;
  float* returns = nullptr;  // [T, N] out
};

/// CPU kernel (thread pool).
void LambdaReturnsCpu(const LambdaReturnsProblem& p);

}  // namespace rlcore
