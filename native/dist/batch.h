// Pieces shared by the batched distribution and loss kernels over [B, A] network outputs.
// napi-free (plain C++), so CUDA translation units can include it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "../core/rng.h"
#include "../core/thread_pool.h"
#include "fastmath.h"

namespace rlcore {

/// Rows per block. Blocks are fixed by the batch size alone, so float64 partial sums are added
/// in the same order whatever the thread count: results are bit-identical with 1 or N threads.
constexpr size_t kRowBlock = 1024;

inline size_t RowBlocks(size_t rows) { return (rows + kRowBlock - 1) / kRowBlock; }

/// Calls fn(block, row_begin, row_end) for every block; on the thread pool when the batch is
/// large enough (`cost_per_row` ~ elements touched per row). fn must not throw.
template <class F>
void ForRowBlocks(size_t rows, size_t cost_per_row, const F& fn) {
  const size_t blocks = RowBlocks(rows);
  auto run = [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k) fn(k, k * kRowBlock, std::min(rows, (k + 1) * kRowBlock));
  };
  if (blocks == 1 || rows * cost_per_row < (size_t{1} << 15)) {
    run(0, blocks);
  } else {
    ParallelFor(blocks, 1, run);
  }
}

/// Sums `width` columns of per-block partials [blocks, width] in block order.
inline void SumBlocks(const std::vector<double>& partial, size_t width, double* total) {
  for (size_t i = 0; i < width; ++i) total[i] = 0.0;
  for (size_t k = 0; k * width < partial.size(); ++k)
    for (size_t i = 0; i < width; ++i) total[i] += partial[k * width + i];
}

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // ½ log 2π
constexpr double kLog2 = 0.69314718055994530942;

/// log(1 + e^x) without overflow.
inline double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

/// Draws the uniforms of Box–Muller for `pairs` pairs from `s` (two Uniform() calls per pair):
/// u1 in (0, 1] (float32 with 24 significant bits of a 53-bit uniform, so |z| reaches 8.5) and
/// u2 in [0, 1) turns.
inline void BoxMullerUniforms(RandomStream& s, size_t pairs, float* u1, float* u2) {
  for (size_t k = 0; k < pairs; ++k) {
    u1[k] = static_cast<float>(1.0 - s.Uniform());
    u2[k] = static_cast<float>(s.Uniform());
  }
}

/// Box–Muller over flat arrays (vectorises): z0 = r cos 2πu2, z1 = r sin 2πu2, r = √(−2 log u1).
inline void BoxMuller(size_t pairs, const float* u1, const float* u2, float* z0, float* z1) {
  // r in its own pass (z1 as scratch): GCC vectorises LogF alone, not fused with the selects below.
  for (size_t k = 0; k < pairs; ++k) z1[k] = SqrtF(-2.0f * LogF(u1[k]));
  for (size_t k = 0; k < pairs; ++k) {
    const float r = z1[k];
    // Quadrant q = round(4 u2); x = 2π (u2 − q/4) in [−π/4, π/4]; Cephes sinf/cosf polynomials.
    const int q = static_cast<int>(4.0f * u2[k] + 0.5f);
    const float x = 6.28318530717958647693f * (u2[k] - 0.25f * static_cast<float>(q));
    const float x2 = x * x;
    const float sn = ((-1.9515295891e-4f * x2 + 8.3321608736e-3f) * x2 - 1.6666654611e-1f) * x2 * x + x;
    const float cs = ((2.443315711809948e-5f * x2 - 1.388731625493765e-3f) * x2 + 4.166664568298827e-2f) * x2 * x2 -
                     0.5f * x2 + 1.0f;
    const float sin_abs = (q & 1) ? cs : sn, cos_abs = (q & 1) ? sn : cs;
    const float sin_sign = (q & 2) ? -1.0f : 1.0f, cos_sign = ((q + 1) & 2) ? -1.0f : 1.0f;
    z0[k] = r * cos_sign * cos_abs;
    z1[k] = r * sin_sign * sin_abs;
  }
}

/// Standard normals for `rows` rows of `width` each, row r drawn from RandomStream(seed, row0 + r)
/// (order-independent), written to z[r * width + j]. `scratch` holds 4 * rows * ceil(width / 2) floats.
inline void StandardNormalRows(uint64_t seed, size_t row0, size_t rows, size_t width, float* scratch, float* z) {
  const size_t P = (width + 1) / 2, n = rows * P;
  float* u1 = scratch;
  float* u2 = scratch + n;
  float* z0 = scratch + 2 * n;
  float* z1 = scratch + 3 * n;
  for (size_t r = 0; r < rows; ++r) {
    RandomStream rs(seed, row0 + r);
    BoxMullerUniforms(rs, P, u1 + r * P, u2 + r * P);
  }
  BoxMuller(n, u1, u2, z0, z1);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t k = 0; k < P; ++k) {
      z[r * width + 2 * k] = z0[r * P + k];
      if (2 * k + 1 < width) z[r * width + 2 * k + 1] = z1[r * P + k];
    }
  }
}

}  // namespace rlcore
