// The reverse affine scan shared by every return estimator:
//
//   y[t] = a[t] + c[t] * y[t + 1],   y[T] = boundary,   for t = T-1 .. 0,
//
// over time-major [T, N] data (N independent columns). GAE, TD(λ), reward-to-go and V-trace
// differ only in how they form a[t] and c[t] and in what they write from y. The map
// y -> a + c*y is affine and composes associatively, which lets one long column be split
// across threads here (and across CUDA blocks in cuda/scan.cuh). Accumulation is in float64.
//
// A kernel plugs in as an object with
//
//   double Boundary(size_t n) const;   // y[T] of column n
//   template <bool kWrite>
//   void Rows(size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, double* s1) const;
//
// Rows walks t = t_hi-1 down to t_lo over columns [n0, n1), forms a and c for each element
// (index j = n - n0) and hands them to ScanApply<kWrite>(a, c, s0, s1, j), which either
// advances the scan (kWrite: s0[j] holds y[t+1] and receives y[t], which the kernel then
// writes out) or composes the affine map of the range (!kWrite: s0 = A, s1 = C, no writes).
// Keep the inner loop over j branch-free (see select.h) so it vectorises. Rows must not throw.
//
// Episode ends: a step with c == 0 (an episode end, or γ λ = 0) gives y[t] = a[t] by a select,
// not a + 0 * y[t+1], so NaN or Inf in y[t+1] (a later episode) cannot reach it; within an
// episode, NaN and Inf propagate as IEEE arithmetic does. Every path (ScanApply, the composed
// maps, the AVX-512 scans of simd_scan.h, cuda/scan.cuh) keeps this rule. c >= 0 (or NaN).
//
// Optionally, for batches of very few columns (one long sequence), a kernel may also provide
//   template <bool kWrite> void Column(size_t n, size_t t_lo, size_t t_hi, double* s0, double* s1) const;
// doing the same for the single column n (s0/s1 point at that column's state, advanced by
// ScanApply); per-row setup in Rows would otherwise dominate when the rows are one element wide.
//
// And, where AVX-512 is compiled in, Coefs16/Write16 (see simd_scan.h): the writing scan then
// runs 16 columns at a time by hand, Rows<true> only covers the remaining columns; and
// Coefs8/Write8, which scan one-column batches 8 steps per vector (Column<true> then only does
// the first T mod 8 steps).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "simd_scan.h"
#include "step_param.h"
#include "thread_pool.h"

namespace rlcore {

/// The composed map y[t_lo] = A + C y[t_hi] of a range of steps holding an episode end (a step
/// with c == 0) does not depend on y[t_hi]: ScanApply<false> marks it with C = -0.0, which the
/// products of later (earlier-step) c >= 0 keep. A product of c > 0 that underflows to +0 is not
/// such a mark: y[t_hi] still reaches y[t_lo] through it as NaN or ±Inf, as in the step-by-step
/// scan, so the results do not depend on how the steps are grouped (threads).
inline bool CutsMap(double C) { return C == 0.0 && std::signbit(C); }

/// y[t_lo] from y[t_hi] through the map (A, C) of ScanApply<false> (see CutsMap; an underflowed
/// C > 0 times ±Inf is ±Inf, not 0 · Inf = NaN).
inline double ApplyMap(double A, double C, double y) {
  if (CutsMap(C)) return A;
  return A + (C == 0.0 && std::isinf(y) ? y : C * y);
}

/// One step of the scan for element j: see the comment at the top of this file.
template <bool kWrite>
inline double ScanApply(double a, double c, double* __restrict s0, double* __restrict s1, size_t j) {
  const bool cut = c == 0.0;  // y = a: nothing after an episode end is read (see the top)
  if constexpr (kWrite) {
    const double y = cut ? a : a + c * s0[j];
    s0[j] = y;
    return y;
  } else {
    s0[j] = cut ? a : a + c * s0[j];
    s1[j] = cut ? -0.0 : c * s1[j];
    return 0.0;
  }
}

constexpr size_t kScanColumns = 512;  // columns handled together (stack state)
static_assert(kScanColumns <= StepRows::kMax, "StepRows must hold a row of the scan");
constexpr size_t kTileColumns = kScanColumns;  // older name

// Kernels written against the earlier Coefs/Write tile interface fail here with a clear message.
template <class K, class = void>
struct HasRows : std::false_type {};
template <class K>
struct HasRows<K, std::void_t<decltype(&K::template Rows<true>)>> : std::true_type {};
template <class K, class = void>
struct HasColumn : std::false_type {};
template <class K>
struct HasColumn<K, std::void_t<decltype(&K::template Column<true>)>> : std::true_type {};
template <class K, class = void>
struct HasCoefs16 : std::false_type {};
template <class K, class = void>
struct HasCoefs8 : std::false_type {};
#if RLCORE_SCAN_SIMD
template <class K>
struct HasCoefs16<K, std::void_t<decltype(&K::Coefs16)>> : std::true_type {};
template <class K>
struct HasCoefs8<K, std::void_t<decltype(&K::Coefs8)>> : std::true_type {};
#endif
constexpr size_t kNarrowColumns = 8;  // below this many columns, prefer Column when available

// Runs the kernel over steps [t_lo, t_hi) of columns [n0, n1) with state arrays s0, s1. With
// `stream`, outputs may be written with streaming stores (see simd_scan.h).
template <bool kWrite, class K>
void RunRows(const K& k, size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, double* s1, bool stream = false) {
  if constexpr (HasColumn<K>::value) {
    if (n1 - n0 < kNarrowColumns) {
      for (size_t n = n0; n < n1; ++n) k.template Column<kWrite>(n, t_lo, t_hi, s0 + (n - n0), s1 ? s1 + (n - n0) : nullptr);
      return;
    }
  }
#if RLCORE_SCAN_SIMD
  if constexpr (kWrite && HasCoefs16<K>::value) {
    const size_t done = simd::ScanRows16(k, t_lo, t_hi, n0, n1, s0, stream);
    if (done < n1 - n0) k.template Rows<kWrite>(t_lo, t_hi, n0 + done, n1, s0 + done, s1);
    return;
  }
#endif
  (void)stream;
  k.template Rows<kWrite>(t_lo, t_hi, n0, n1, s0, s1);
}

/// Streamed scans with the 16-column path (simd_scan.h) take the columns in blocks of up to this
/// many, not kScanColumns: out of cache, a whole row of a task's columns is one long ascending run
/// per array, which the prefetchers follow; 512-column blocks cut every row into 2 KiB pieces
/// 16 KiB apart (N = 4096) and lost a third of the bandwidth (gae, T = 2048, N = 4096, measured
/// 45-55% of copy bandwidth with 512 columns, 70-95% with 2048 or 4096). The scan state of a block
/// (8 bytes a column) stays in L1/L2.
constexpr size_t kStreamColumns = 4096;

/// Columns per block of the writing scan (see kStreamColumns).
template <class K>
constexpr size_t BlockColumns(bool stream) {
  return stream && HasCoefs16<K>::value ? kStreamColumns : kScanColumns;
}

#define RLCORE_REQUIRE_ROWS(K)                                                                       \
  static_assert(HasRows<K>::value,                                                                  \
                "scan.h changed (lead, 12:40): the kernel must implement template <bool kWrite> "   \
                "void Rows(t_lo, t_hi, n0, n1, double* s0, double* s1) const using ScanApply "      \
                "(see the comment at the top of native/core/scan.h and native/kernels/gae.cc); "    \
                "Coefs/Write tiles are gone")

/// Scans columns [n0, n1) over steps [t_lo, t_hi) from y[t_hi] = y_end[n - n0]; if y_start
/// is given, it receives y[t_lo].
template <class K>
void ScanRange(const K& k, size_t t_lo, size_t t_hi, size_t n0, size_t n1, const double* y_end,
               double* y_start = nullptr, bool stream = false) {
  RLCORE_REQUIRE_ROWS(K);
  alignas(64) double carry[kStreamColumns];
  const size_t width = BlockColumns<K>(stream);
  for (size_t b0 = n0; b0 < n1; b0 += width) {
    const size_t b1 = std::min(n1, b0 + width);
    std::copy(y_end + (b0 - n0), y_end + (b1 - n0), carry);
    RunRows<true>(k, t_lo, t_hi, b0, b1, carry, nullptr, stream);
    if (y_start) std::copy(carry, carry + (b1 - b0), y_start + (b0 - n0));
  }
}

/// Affine map of steps [t_lo, t_hi) for columns [n0, n1): y[t_lo] = A + C * y[t_hi].
template <class K>
void ChunkMap(const K& k, size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* A, double* C) {
  for (size_t b0 = n0; b0 < n1; b0 += kScanColumns) {
    const size_t b1 = std::min(n1, b0 + kScanColumns);
    std::fill(A + (b0 - n0), A + (b1 - n0), 0.0);
    std::fill(C + (b0 - n0), C + (b1 - n0), 1.0);
    RunRows<false>(k, t_lo, t_hi, b0, b1, A + (b0 - n0), C + (b0 - n0));
  }
}

/// Scans columns [n0, n1) over all T steps on the calling thread (no allocation: this runs
/// inside ParallelFor tasks).
template <class K>
void ReverseScanSerial(const K& k, size_t T, size_t n0, size_t n1, bool stream) {
  RLCORE_REQUIRE_ROWS(K);
  alignas(64) double carry[kStreamColumns];
  const size_t width = BlockColumns<K>(stream);
  for (size_t b0 = n0; b0 < n1; b0 += width) {
    const size_t b1 = std::min(n1, b0 + width);
    for (size_t n = b0; n < b1; ++n) carry[n - b0] = k.Boundary(n);
    RunRows<true>(k, 0, T, b0, b1, carry, nullptr, stream);
  }
}

/// Scans all N columns over T steps using the thread pool: split over columns when there are
/// enough of them, otherwise over time in chunks (two passes: chunk maps, then the scan).
template <class K>
void ReverseScan(const K& k, size_t T, size_t N) {
  const size_t threads = static_cast<size_t>(NumThreads());
  const bool stream = T * N >= simd::kStreamElements;
#if RLCORE_SCAN_SIMD
  // One column with the in-register scan (simd_scan.h): one pass at memory speed on one thread
  // beats the two-pass split below. Column<true> finishes the (fewer than 8) first steps.
  if constexpr (HasCoefs8<K>::value) {
    if (N == 1) {
      double y = k.Boundary(0);
      const size_t rest = simd::ScanColumn8(k, 0, T, &y, stream);
      if (rest > 0) k.template Column<true>(0, 0, rest, &y, nullptr);
      return;
    }
  }
#endif
  if (threads <= 1 || T * N < (1u << 16)) {
    ReverseScanSerial(k, T, 0, N, stream);
    return;
  }
  if (N >= 32 * threads) {
    // Tasks start at multiples of 16 columns, so a column takes the same path (16-column vector
    // scan or the scalar remainder, whose FMA contraction rounds differently) for any thread count.
    ParallelFor((N + 15) / 16, 2, [&](size_t g0, size_t g1) { ReverseScanSerial(k, T, g0 * 16, std::min(N, g1 * 16), stream); });
    return;
  }
  // Few long columns: split time into P front chunks and one last chunk. Phase 1: one thread
  // scans the last chunk (its end is the boundary) while the others compute the affine maps of
  // the front chunks (reads only, ~0.7 of a scan's cost, hence the longer last chunk). The maps
  // then give each front chunk its end value; phase 2 scans the front chunks in parallel.
  const size_t P = threads, F = P;
  const double last_share = 0.7 * static_cast<double>(P) / static_cast<double>(P - 1);
  const size_t x = static_cast<size_t>(static_cast<double>(T) / (static_cast<double>(F) + last_share));
  if (x < 1024) {
    ReverseScanSerial(k, T, 0, N, stream);
    return;
  }
  auto start = [&](size_t q) { return q * x; };  // front chunk q covers [q*x, (q+1)*x); the last [F*x, T)
  // Scratch of the calling thread, grown only: every entry is written before it is read.
  thread_local std::vector<double> scratch;
  if (scratch.size() < (3 * F + 2) * N) scratch.resize((3 * F + 2) * N);
  double *A = scratch.data(), *C = A + F * N, *ends = C + F * N, *y_end = ends + F * N, *last_start = y_end + N;
  for (size_t n = 0; n < N; ++n) y_end[n] = k.Boundary(n);
  // Task 0 scans the last chunk; tasks 1..F map front chunks 0..F-1.
  ParallelFor(F + 1, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      if (q == 0) ScanRange(k, start(F), T, 0, N, y_end, last_start, stream);
      else ChunkMap(k, start(q - 1), start(q), 0, N, &A[(q - 1) * N], &C[(q - 1) * N]);
    }
  });
  for (size_t n = 0; n < N; ++n) {
    double y = last_start[n];
    for (size_t q = F; q-- > 0;) {
      ends[q * N + n] = y;
      y = ApplyMap(A[q * N + n], C[q * N + n], y);
    }
  }
  ParallelFor(F, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) ScanRange(k, start(q), start(q + 1), 0, N, &ends[q * N], nullptr, stream);
  });
}

}  // namespace rlcore
