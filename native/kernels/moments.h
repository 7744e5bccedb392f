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
#include "../core/simd_scan.h"
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

#if RLCORE_SCAN_SIMD
// BlockMoments<true> with the mask as a lane mask: masked-out elements are never loaded (so a
// NaN there adds nothing), the count is a popcount, and each pass is 32 elements per step in
// four float64 accumulators of 8 lanes (the 32 lanes of BlockMoments, summed in another order).
// The compiler's form of the generic loop widens the mask bytes and selects per element, which
// made the masked whiten compute-bound (~65% of copy bandwidth at 8M elements).
inline Moments MaskedBlockMoments(const float* x, const uint8_t* mask, size_t n) {
  auto lanes = [&](size_t i) {  // mask of the 16 elements from i (fewer at the end)
    const __mmask16 in = n - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m128i m = _mm_maskz_loadu_epi8(in, mask + i);
    return _mm_test_epi8_mask(m, m);
  };
  auto lo = [](__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); };
  auto hi = [](__m512 v) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))); };
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  size_t count = 0;
  for (size_t i = 0; i < n; i += 32) {
    const __mmask16 k0 = lanes(i), k1 = i + 16 < n ? lanes(i + 16) : 0;
    const __m512 a = _mm512_maskz_loadu_ps(k0, x + i), b = _mm512_maskz_loadu_ps(k1, x + i + 16);
    s0 = _mm512_add_pd(s0, lo(a)), s1 = _mm512_add_pd(s1, hi(a));
    s2 = _mm512_add_pd(s2, lo(b)), s3 = _mm512_add_pd(s3, hi(b));
    count += static_cast<size_t>(__builtin_popcount(k0) + __builtin_popcount(k1));
  }
  if (count == 0) return {};
  const double mean = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3))) / static_cast<double>(count);
  const __m512d mu = _mm512_set1_pd(mean);
  __m512d q0 = _mm512_setzero_pd(), q1 = q0, q2 = q0, q3 = q0;
  for (size_t i = 0; i < n; i += 32) {
    const __mmask16 k0 = lanes(i), k1 = i + 16 < n ? lanes(i + 16) : 0;
    const __m512 a = _mm512_maskz_loadu_ps(k0, x + i), b = _mm512_maskz_loadu_ps(k1, x + i + 16);
    // Masked-out lanes: d = 0.
    const __m512d d0 = _mm512_maskz_sub_pd(static_cast<__mmask8>(k0), lo(a), mu);
    const __m512d d1 = _mm512_maskz_sub_pd(static_cast<__mmask8>(k0 >> 8), hi(a), mu);
    const __m512d d2 = _mm512_maskz_sub_pd(static_cast<__mmask8>(k1), lo(b), mu);
    const __m512d d3 = _mm512_maskz_sub_pd(static_cast<__mmask8>(k1 >> 8), hi(b), mu);
    q0 = _mm512_fmadd_pd(d0, d0, q0), q1 = _mm512_fmadd_pd(d1, d1, q1);
    q2 = _mm512_fmadd_pd(d2, d2, q2), q3 = _mm512_fmadd_pd(d3, d3, q3);
  }
  const double m2 = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
  return {static_cast<double>(count), mean, m2};
}
#endif

template <bool kMasked>
Moments SerialMoments(const float* x, const uint8_t* mask, size_t n) {
  Moments m;
  for (size_t i = 0; i < n; i += kMomentBlock) {
    const size_t len = std::min(kMomentBlock, n - i);
#if RLCORE_SCAN_SIMD
    if constexpr (kMasked) {
      m = MergeMoments(m, MaskedBlockMoments(x + i, mask + i, len));
      continue;
    }
#endif
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
  thread_local std::vector<Moments> partial_buf;  // grown only: no allocation per call
  if (partial_buf.size() < parts) partial_buf.resize(parts);
  Moments* partial = partial_buf.data();
  ParallelFor(parts, 1, [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; ++p) partial[p] = part(p);
  });
  Moments m;
  for (size_t p = 0; p < parts; ++p) m = MergeMoments(m, partial[p]);
  return m;
}

}  // namespace rlcore
