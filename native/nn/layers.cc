#include "layers.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../core/thread_pool.h"

namespace rlcore::nn {
namespace {

constexpr size_t kParallelElements = 1 << 15;

// Runs fn(r0, r1) over rows, on the pool when B * D is large. fn must not throw.
template <class F>
void ForRows(size_t B, size_t D, F&& fn) {
  if (B * D < kParallelElements || B < 2) {
    fn(size_t{0}, B);
    return;
  }
  ParallelFor(B, std::max<size_t>(1, kParallelElements / (4 * D)), fn);
}

}  // namespace

void ActBackward(Act act, const float* y, const float* dy, float* dz, size_t n) {
  ForRows(n, 1, [&](size_t i0, size_t i1) {
    switch (act) {
      case Act::kTanh:
        for (size_t i = i0; i < i1; ++i) dz[i] = dy[i] * (1.f - y[i] * y[i]);
        break;
      case Act::kRelu:
        // y > 0 tested on the bits: an integer compare vectorises where a float compare may trap.
        for (size_t i = i0; i < i1; ++i) {
          int32_t bits;
          std::memcpy(&bits, y + i, sizeof bits);
          const float d = dy[i];
          dz[i] = bits > 0 ? d : 0.f;
        }
        break;
      case Act::kNone:
        for (size_t i = i0; i < i1; ++i) dz[i] = dy[i];
        break;
    }
  });
}

void LayerNormForward(const float* x, const float* gamma, const float* beta, float eps, Act act, float* y,
                      float* xhat, float* rstd, size_t B, size_t D) {
  ForRows(B, D, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * D;
      double s = 0.0;
      for (size_t j = 0; j < D; ++j) s += xr[j];
      const double mean = s / static_cast<double>(D);
      double ss = 0.0;
      for (size_t j = 0; j < D; ++j) {
        const double d = xr[j] - mean;
        ss += d * d;
      }
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(D) + eps));
      const float m = static_cast<float>(mean);
      float* yr = y + r * D;
      if (xhat) {
        float* hr = xhat + r * D;
        for (size_t j = 0; j < D; ++j) hr[j] = (xr[j] - m) * inv;
        for (size_t j = 0; j < D; ++j) yr[j] = gamma[j] * hr[j] + beta[j];
        rstd[r] = inv;
      } else {
        for (size_t j = 0; j < D; ++j) yr[j] = gamma[j] * ((xr[j] - m) * inv) + beta[j];
      }
      ApplyAct(act, yr, D);
    }
  });
}

void LayerNormBackward(const float* dz, const float* xhat, const float* rstd, const float* gamma, float* dgamma,
                       float* dbeta, float* dx, size_t B, size_t D, double* scratch) {
  if (dgamma) {
    ColumnSumAccumulate(dz, xhat, dgamma, B, D, scratch);
    ColumnSumAccumulate(dz, nullptr, dbeta, B, D, scratch);
  }
  if (!dx) return;
  ForRows(B, D, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* dr = dz + r * D;
      const float* hr = xhat + r * D;
      double sg = 0.0, sgh = 0.0;
      for (size_t j = 0; j < D; ++j) {
        const double g = static_cast<double>(dr[j]) * gamma[j];
        sg += g;
        sgh += g * hr[j];
      }
      const float mg = static_cast<float>(sg / static_cast<double>(D));
      const float mgh = static_cast<float>(sgh / static_cast<double>(D));
      const float inv = rstd[r];
      float* xr = dx + r * D;
      for (size_t j = 0; j < D; ++j) xr[j] = inv * ((dr[j] * gamma[j] - mg) - hr[j] * mgh);
    }
  });
}

void ColumnSumAccumulate(const float* a, const float* w, float* out, size_t B, size_t D, double* scratch) {
  // Threads split the columns, so every column is summed over rows in order on one thread.
  auto cols = [&](size_t j0, size_t j1) {
    double* acc = scratch + j0;
    const size_t n = j1 - j0;
    for (size_t j = 0; j < n; ++j) acc[j] = 0.0;
    for (size_t b = 0; b < B; ++b) {
      const float* ar = a + b * D + j0;
      if (w) {
        const float* wr = w + b * D + j0;
        for (size_t j = 0; j < n; ++j) acc[j] += static_cast<double>(ar[j]) * wr[j];
      } else {
        for (size_t j = 0; j < n; ++j) acc[j] += ar[j];
      }
    }
    for (size_t j = 0; j < n; ++j) out[j0 + j] = static_cast<float>(out[j0 + j] + acc[j]);
  };
  if (B * D < kParallelElements || D < 32) cols(0, D);
  else ParallelFor(D, 16, cols);
}

}  // namespace rlcore::nn
