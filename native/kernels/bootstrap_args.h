// Binding side of BootstrapInputs: reading the shared leading arguments
//   (T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?, finalValues?)
// and checking that an output does not alias any of them.
#pragma once
#include "../core/binding.h"
#include "bootstrap_inputs.h"

namespace rlcore {

/// Reads arguments 0..8 into `p` (all but gamma) and returns the [T, N] shape.
Shape ReadBootstrapInputs(const Napi::CallbackInfo& info, const char* kernel, BootstrapInputs& p);

/// Throws ERR_ARG if the [T, N] output `out` shares memory with any input in `p`.
void CheckOutputAlias(Napi::Env env, const char* kernel, const char* out_name, const float* out,
                      const BootstrapInputs& p);

}  // namespace rlcore
