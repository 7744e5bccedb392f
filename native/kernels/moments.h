// Mean and sum of squared deviations of float32 data, accumulated in float64, shared by whiten
// (native/kernels/normalize.cc) and groupNormalize (native/kernels/group_normalize.cc).
//
// Data is read once from memory: each cache-sized block is reduced with two passes (sum, then
// squared deviations from the block mean, the second pass hitting L1), and blocks are merged with
// Chan et al.'s pairwise update. That is as accurate as a global two-pass algorithm and avoids
// the cancellation of sum-of-squares formulas. The partition depends only on the length, so the
// result is bit-identical for every thread count. Plain data and napi-free.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/select.h"
#include "../core/thread_pool.h"

namespace rlcore {

/// count, mean and M2 = Σ (x - mean)² of a set of values.
struct Moments {
  double count = 0.0, mean = 0.0, m2 = 0.0;
};

/// Chan, Golub & LeVeque's pairwise combination of two disjoint sets.
inline Moments MergeMoments(const Moments& a, const Moments& b) {
  if (b.count == 0.0) return a;
  if (a.count == 0.0) return b;
  const double n = a.count + b.count, d = b.mean - a.mean;
  return {n, a.mean + d * (b.count / n), a.m2 + b.m2 + d * d * (a.count * b.count / n)};
}

/// Standard deviation from moments: sqrt(M2 / (count - 1)) with Bessel's correction, else
/// sqrt(M2 / count); 0 when fewer than two (unbiased) or one value(s) take part.
inline double MomentsStd(const Moments& m, bool unbiased) {
  const double dof = unbiased ? m.count - 1.0 : m.count;
  return dof > 0.0 ? std::sqrt(m.m2 / dof) : 0.0;
}

namespace detail {

constexpr size_t kMomentLanes = 32;      // independent accumulators: vectorised, 4 add chains in flight
constexpr size_t kMomentBlock = 4096;    // elements reduced per block (16 KiB of floats)
constexpr size_t kMomentPart = 1 << 16;  // elements per parallel part (fixed: deterministic)

// Moments of x[0, n) (masked-in elements only when kMasked), n <= kMomentBlock.
template <bool kMasked>
Moments BlockMoments(const float* x, const uint8_t* mask, size_t n) {
  constexpr size_t W = kMomentLanes;
  double s[W] = {}, c[W] = {};
  const size_t body = n - n % W;
  for (size_t i = 0; i < body; i += W) {
    for (size_t j = 0; j < W; ++j) {
      s[j] += kMasked ? Select(mask[i + j], x[i + j], 0.f) : x[i + j];
      if (kMasked) c[j] += Select(mask[i + j], 1.f, 0.f);
    }
  }
  for (size_t i = body; i < n; ++i) {
    s[0] += kMasked ? Select(mask[i], x[i], 0.f) : x[i];
    if (kMasked) c[0] += Select(mask[i], 1.f, 0.f);
  }
  double sum = 0.0, count = kMasked ? 0.0 : static_cast<double>(n);
  for (size_t j = 0; j < W; ++j) sum += s[j], count += c[j];
  if (count == 0.0) return {};
  const double mean = sum / count;
  double q[W] = {};
  for (size_t i = 0; i < body; i += W) {
    for (size_t j = 0; j < W; ++j) {
      // Masked-out elements count as the mean itself: they add nothing (even if NaN).
      const double xi = kMasked ? Select(mask[i + j], x[i + j], 0.f) : x[i + j];
      const double d = kMasked ? (xi - mean) * Select(mask[i + j], 1.f, 0.f) : xi - mean;
      q[j] += d * d;
    }
  }
  for (size_t i = body; i < n; ++i) {
    const double xi = kMasked ? Select(mask[i], x[i], 0.f) : x[i];
    const double d = kMasked ? (xi - mean) * Select(mask[i], 1.f, 0.f) : xi - mean;
    q[0] += d * d;
  }
  double m2 = 0.0;
  for (size_t j = 0; j < W; ++j) m2 += q[j];
  return {count, mean, m2};
}

template <bool kMasked>
Moments SerialMoments(const float* x, const uint8_t* mask, size_t n) {
  Moments m;
  for (size_t i = 0; i < n; i += kMomentBlock) {
    const size_t len = std::min(kMomentBlock, n - i);
    m = MergeMoments(m, BlockMoments<kMasked>(x + i, kMasked ? mask + i : nullptr, len));
  }
  return m;
}

}  // namespace detail

/// Moments of x[0, n), or of the elements where mask[i] != 0 when `mask` is given. Uses the
/// thread pool for large n; never throws.
inline Moments ComputeMoments(const float* x, const uint8_t* mask, size_t n) {
  using detail::kMomentPart;
  auto part = [&](size_t p) {
    const size_t i0 = p * kMomentPart, len = std::min(kMomentPart, n - i0);
    return mask ? detail::SerialMoments<true>(x + i0, mask + i0, len) : detail::SerialMoments<false>(x + i0, nullptr, len);
  };
  const size_t parts = (n + kMomentPart - 1) / kMomentPart;
  if (parts <= 1) return parts == 0 ? Moments{} : part(0);
  std::vector<Moments> partial(parts);
  ParallelFor(parts, 1, [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; ++p) partial[p] = part(p);
  });
  Moments m;
  for (const Moments& q : partial) m = MergeMoments(m, q);
  return m;
}

}  // namespace rlcore
