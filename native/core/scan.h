// The reverse affine scan shared by every return estimator:
//
//   y[t] = a[t] + c[t] * y[t + 1],   y[T] = boundary,   for t = T-1 .. 0,
//
// over time-major [T, N] data (N independent columns). GAE, TD(λ), reward-to-go and V-trace
// differ only in how they form a[t] and c[t] and in what they write from y. The map
// y -> a + c*y is affine and composes associatively, which lets one long column be split
// across threads here (and across CUDA blocks in cuda/scan.cuh).
//
// A kernel plugs in as an object with:
//   double Boundary(size_t n) const;  // y[T] of column n
//   void Coefs(size_t t0, size_t t1, size_t n0, size_t n1, double* a, double* c) const;
//   void Write(size_t t0, size_t t1, size_t n0, size_t n1, const double* y) const;
// Coefs and Write fill / read a tile of steps [t0, t1) x columns [n0, n1), stored row-major
// as tile[(t - t0) * (n1 - n0) + (n - n0)]. They must not throw. Accumulation is in float64.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "thread_pool.h"

namespace rlcore {

constexpr size_t kTileElements = 2048;  // a, c, y tiles live on the stack (48 KiB)
constexpr size_t kTileColumns = 256;

namespace detail {

// Steps [t0, t1) of columns [n0, n1): with y_end == nullptr computes the chunk's affine map
// y[t0] = A + C * y[t1] into A, C; otherwise scans from y[t1] = y_end and writes.
template <class K>
void ScanRange(const K& k, size_t t0, size_t t1, size_t n0, size_t n1, const double* y_end, double* A, double* C) {
  alignas(64) double a[kTileElements], c[kTileElements], y[kTileElements];
  for (size_t b0 = n0; b0 < n1; b0 += kTileColumns) {
    const size_t b1 = std::min(n1, b0 + kTileColumns), w = b1 - b0;
    const size_t rows = std::max<size_t>(1, kTileElements / w);
    double* Ab = A ? A + (b0 - n0) : nullptr;
    double* Cb = C ? C + (b0 - n0) : nullptr;
    // carry: y of the step after the current tile (or the chunk's A/C accumulators).
    double carry[kTileColumns];
    for (size_t j = 0; j < w; ++j) {
      if (y_end) carry[j] = y_end[b0 - n0 + j];
      else Ab[j] = 0.0, Cb[j] = 1.0;
    }
    for (size_t hi = t1; hi > t0;) {
      const size_t lo = hi - std::min(rows, hi - t0);
      k.Coefs(lo, hi, b0, b1, a, c);
      if (y_end) {
        for (size_t r = hi - lo; r-- > 0;) {
          const double* ar = a + r * w;
          const double* cr = c + r * w;
          double* yr = y + r * w;
          for (size_t j = 0; j < w; ++j) yr[j] = carry[j] = ar[j] + cr[j] * carry[j];
        }
        k.Write(lo, hi, b0, b1, y);
      } else {
        for (size_t r = hi - lo; r-- > 0;) {
          for (size_t j = 0; j < w; ++j) {
            Ab[j] = a[r * w + j] + c[r * w + j] * Ab[j];
            Cb[j] = c[r * w + j] * Cb[j];
          }
        }
      }
      hi = lo;
    }
  }
}

}  // namespace detail

/// Scans columns [n0, n1) over all T steps on the calling thread.
template <class K>
void ReverseScanSerial(const K& k, size_t T, size_t n0, size_t n1) {
  std::vector<double> boundary(n1 - n0);
  for (size_t n = n0; n < n1; ++n) boundary[n - n0] = k.Boundary(n);
  detail::ScanRange(k, 0, T, n0, n1, boundary.data(), nullptr, nullptr);
}

/// Scans all N columns over T steps using the thread pool: split over columns when there are
/// enough of them, otherwise over time in chunks (two passes: chunk maps, then the scan).
template <class K>
void ReverseScan(const K& k, size_t T, size_t N) {
  const size_t threads = static_cast<size_t>(NumThreads());
  if (threads <= 1 || T * N < (1u << 15)) {
    ReverseScanSerial(k, T, 0, N);
    return;
  }
  if (N >= 64 * threads) {
    ParallelFor(N, 64, [&](size_t n0, size_t n1) { ReverseScanSerial(k, T, n0, n1); });
    return;
  }
  // Few long columns: chunk q covers steps [q*T/Q, (q+1)*T/Q).
  const size_t Q = std::min(T, threads * 2);
  std::vector<double> A(Q * N), C(Q * N), ends(Q * N);
  auto start = [&](size_t q) { return T * q / Q; };
  ParallelFor(Q, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) detail::ScanRange(k, start(q), start(q + 1), 0, N, nullptr, &A[q * N], &C[q * N]);
  });
  for (size_t n = 0; n < N; ++n) {
    double y = k.Boundary(n);
    for (size_t q = Q; q-- > 0;) {
      ends[q * N + n] = y;
      y = A[q * N + n] + C[q * N + n] * y;
    }
  }
  ParallelFor(Q, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) detail::ScanRange(k, start(q), start(q + 1), 0, N, &ends[q * N], nullptr, nullptr);
  });
}

}  // namespace rlcore
