// Device copies of the inputs the return estimators share, and the next-state value v'_t with
// the convention of native/kernels/bootstrap.h (gae's):
//   v'_t = nextValues[t]                 when nextValues is given in full, else
//          finalValues[t]                at a truncated step (V of the final observation),
//          values[t + 1] / lastValues    otherwise (lastValues, or 0, after the last step).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "../native/core/step_param.h"
#include "common.cuh"

namespace rlcore::cuda {

/// flags[i] != 0, or false for an absent flag array.
__host__ __device__ __forceinline__ bool FlagAt(const uint8_t* flags, size_t i) { return flags != nullptr && Ldg(flags + i) != 0; }

/// Device view of values / nextValues / lastValues / finalValues (device pointers, null when absent;
/// final_values is null unless it is read: truncated given and nextValues not).
struct NextValues {
  size_t T, N;
  const float* values;
  const float* next_values;
  const float* last_values;
  const float* final_values;

  /// v'_t at a step that is not truncated.
  __host__ __device__ __forceinline__ float Next(size_t t, size_t n, size_t i) const {
    if (next_values) return Ldg(next_values + i);
    if (t + 1 < T) return Ldg(values + i + N);
    return last_values ? Ldg(last_values + n) : 0.f;
  }
  /// v'_t: at a truncated step V(final observation) (already inside nextValues when given).
  __host__ __device__ __forceinline__ float At(size_t t, size_t n, size_t i, bool truncated) const {
    return (truncated && final_values) ? Ldg(final_values + i) : Next(t, n, i);
  }
};

/// Owns the device copies behind a NextValues view.
struct NextValueInputs {
  DeviceBuffer values, next_values, last_values, final_values;
  NextValues view{};
  NextValueInputs(size_t T, size_t N, const float* h_values, const float* h_next, const float* h_last,
                  const float* h_final, const uint8_t* h_truncated, cudaStream_t s)
      : values(ToDevice(h_values, T * N, s)),
        next_values(ToDevice(h_next, T * N, s)),
        last_values(ToDevice(h_last, N, s)),
        final_values(ToDevice((h_truncated && !h_next) ? h_final : nullptr, T * N, s)) {
    view = NextValues{T, N, values.as<float>(), next_values.as<float>(), last_values.as<float>(),
                      final_values.as<float>()};
  }
};

/// A step parameter (gamma, lambda) with its array, if any, copied to the device.
struct DeviceStepParam {
  DeviceBuffer buffer;
  StepParam param;
  DeviceStepParam(const StepParam& host, cudaStream_t s) : buffer(ToDevice(host.values, host.length, s)), param(host) {
    if (param.values) param.values = buffer.as<float>();
  }
};

}  // namespace rlcore::cuda
