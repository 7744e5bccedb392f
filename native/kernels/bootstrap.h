// The next-state value v'_t every return estimator bootstraps from, with gae's convention:
//   v'_t = nextValues[t]                    when nextValues is given in full, else
//          finalValues[t]                   at a truncated step (V of the final observation),
//          values[t + 1] / lastValues       otherwise (lastValues, or 0, after the last step).
// Row pointers let the inner loops stay branch-free. CPU-side helpers shared by
// lambda_returns.cc, discounted_returns.cc, nstep_returns.cc and vtrace.cc (CUDA indexes directly).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/scan.h"

namespace rlcore::bootstrap {

// Optional inputs are replaced by rows of zeros so the inner loops have no branches.
alignas(64) inline const uint8_t kNoFlags[kScanColumns] = {};
alignas(64) inline const float kZeros[kScanColumns] = {};

/// The rows of v' for step t, columns [n0, n0 + w) with w <= kScanColumns: `next` is read at
/// steps that are not truncated, `final_obs` at truncated ones (the same row when nextValues is given).
struct Rows {
  const float* next;
  const float* final_obs;
};

inline Rows At(size_t T, size_t N, size_t t, size_t n0, const float* values, const float* next_values,
               const float* last_values, const float* final_values) {
  const size_t row = t * N + n0;
  const float* next = next_values   ? next_values + row
                      : t + 1 < T   ? values + row + N
                      : last_values ? last_values + n0
                                    : kZeros;
  // With nextValues given, truncated steps already carry V(final observation).
  const float* fin = (final_values && !next_values) ? final_values + row : next;
  return {next, fin};
}

/// Flags of row t from column n0 (or zeros when the flag array is absent).
inline const uint8_t* Flags(const uint8_t* flags, size_t N, size_t t, size_t n0) {
  return flags ? flags + t * N + n0 : kNoFlags;
}

}  // namespace rlcore::bootstrap
