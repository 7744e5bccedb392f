// Row-wise layer kernels on row-major [B, D] batches, threaded over rows (or columns for
// column reductions) when large. Reductions accumulate in float64. Plain data; no N-API.
#pragma once
#include <cstddef>

#include "gemm.h"

namespace rlcore::nn {

/// dz = dy * act'(y) given the activation's output y (tanh: 1 - y^2; relu: y > 0).
void ActBackward(Act act, const float* y, const float* dy, float* dz, size_t n);

/// LayerNorm (Ba et al. 2016, arXiv:1607.06450) over the last axis:
///   xhat = (x - mean) / sqrt(var + eps),  y = act(gamma * xhat + beta).
/// Stores xhat [B, D] and rstd [B] when non-null (training).
void LayerNormForward(const float* x, const float* gamma, const float* beta, float eps, Act act, float* y,
                      float* xhat, float* rstd, size_t B, size_t D);

/// Backward of the affine normalisation given dz = dL/d(gamma * xhat + beta):
///   dgamma += sum_b dz * xhat,  dbeta += sum_b dz  (when dgamma non-null),
///   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dz * gamma   (when dx non-null).
void LayerNormBackward(const float* dz, const float* xhat, const float* rstd, const float* gamma, float* dgamma,
                       float* dbeta, float* dx, size_t B, size_t D, double* scratch);

/// out[j] += sum_b a[b, j] (* w[b, j] when w is non-null), summed in float64 (scratch: D doubles).
void ColumnSumAccumulate(const float* a, const float* w, float* out, size_t B, size_t D, double* scratch);

}  // namespace rlcore::nn
