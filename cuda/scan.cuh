// The reverse affine scan of native/core/scan.h on the GPU, in float64:
//
//   y[t] = a[t] + c[t] * y[t + 1],   y[T] = boundary,   for t = T-1 .. 0,
//
// over time-major [T, N] data (N independent columns). Every return estimator (GAE, TD(λ),
// reward-to-go, V-trace, ...) is this scan with its own a, c and outputs, so it is written once,
// as block- and device-level pieces in the style of CUB, and reused.
//
// A kernel plugs in as a functor (passed by value to the kernels; __host__ __device__, so that
// cuda/test can run it on the host against the CPU kernel):
//   double Boundary(size_t n) const;                        // y[T] of column n
//   void Coefs(size_t t, size_t n, double& a, double& c) const;
//   void Write(size_t t, size_t n, double y) const;         // y = y[t] of column n
// Coefs is called once per element in the walk path and twice in the tiled path (both passes).
// Coefs(t, n) may read what Write(t, n) itself overwrites (every block computes all its
// coefficients before it writes), but nothing that Write changes at other elements.
// A step with c == 0 exactly (an episode end; c >= 0 or NaN) gives y = a and ignores everything
// after it, as on the CPU (native/core/scan.h): NaN or Inf in a later episode, or in a later
// sequence of a packed column (token GAE), cannot reach it; within an episode NaN and Inf
// propagate as IEEE arithmetic does.
//
// Device-level strategy (ReverseScan):
// - Many columns (N >= kWalkMinColumns): one thread per column walks time backwards. Loads and
//   stores are coalesced across the columns of a warp and each input is read once.
// - Otherwise (few or long columns): time is cut into tiles of kTileItems elements (S steps x W
//   columns, W = the power of two >= N, at most 32). Within a block each thread owns kItems
//   consecutive steps of one column; threads compose their steps into one affine map, a block
//   scan composes those maps, and the tile's map (an "aggregate") goes to global memory. The
//   aggregates form a smaller [Q, N] scan of the same kind, solved recursively; it yields the
//   value y after every tile, and a second pass over the tiles applies it. So one column of 1M
//   steps is spread over ~450 blocks, like 1024 columns of 1K steps. The price: the inputs are
//   read twice (reduce-then-scan); a single-pass decoupled look-back would read them once, at the
//   cost of inter-block spinning that cannot be tested without a GPU.
// Elements are moved between global and shared memory in striped order (coalesced) and scanned
// in blocked order, as CUB's BlockLoad / BlockStore transposes do.
#pragma once
#include <cuda_runtime.h>

#include <climits>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common.cuh"

namespace rlcore::cuda {

/// The affine map y_before = A + C * y_after of a run of consecutive steps. A run holding a step
/// with c == 0 does not depend on y_after: it is marked C = -0.0 (StepMap), which products with
/// the C >= 0 of other maps keep. A product of c > 0 that underflows to +0 is no such mark: NaN
/// or Inf in y_after still reaches y_before, as in the step-by-step scan (and on the CPU, CutsMap
/// in native/core/scan.h), so the results do not depend on how the steps are grouped.
struct __align__(16) Affine {
  double A, C;
};

__host__ __device__ __forceinline__ Affine AffineIdentity() { return Affine{0.0, 1.0}; }

/// Whether map m ignores y_after (see Affine).
__host__ __device__ __forceinline__ bool Cuts(const Affine& m) { return m.C == 0.0 && copysign(1.0, m.C) < 0.0; }

/// The map of one step (a, c).
__host__ __device__ __forceinline__ Affine StepMap(double a, double c) { return Affine{a, c == 0.0 ? -0.0 : c}; }

/// C x for the C of a map that does not cut: a product of c > 0 that underflowed to +0 still
/// carries ±Inf (not 0 · Inf = NaN), as the step-by-step scan does (ApplyMap in native/core/scan.h).
__host__ __device__ __forceinline__ double Scale(double C, double x) { return (C == 0.0 && isinf(x)) ? x : C * x; }

/// The map of the steps of `early` followed by those of `late`: early(late(y)). An early map that
/// ignores y drops late (NaN/Inf in it included).
__host__ __device__ __forceinline__ Affine Then(const Affine& early, const Affine& late) {
  if (Cuts(early)) return early;
  return Affine{early.A + Scale(early.C, late.A), early.C * late.C};
}

/// y_before = m(y_after) for a map m (see Affine).
__host__ __device__ __forceinline__ double ApplyMap(const Affine& m, double y) { return Cuts(m) ? m.A : m.A + Scale(m.C, y); }

/// One step: y = a where c == 0 (either sign), else a + c * y.
__host__ __device__ __forceinline__ double Apply(const Affine& step, double y) {
  return ApplyMap(StepMap(step.A, step.C), y);
}

/// Ops whose Coefs give composed maps (A, C), not steps (a, c): CarryOp.
template <class Op, class = void>
struct IsMapOp : std::false_type {};
template <class Op>
struct IsMapOp<Op, std::void_t<decltype(Op::kMaps)>> : std::bool_constant<Op::kMaps> {};

/// The map of element (t, n) of op.
template <class Op>
__device__ __forceinline__ Affine MapAt(const Op& op, size_t t, size_t n) {
  double a, c;
  op.Coefs(t, n, a, c);
  if constexpr (IsMapOp<Op>::value) return Affine{a, c};
  else return StepMap(a, c);
}

__device__ __forceinline__ Affine ShuffleDown(const Affine& m, unsigned delta) {
  return Affine{__shfl_down_sync(0xffffffffu, m.A, delta), __shfl_down_sync(0xffffffffu, m.C, delta)};
}

namespace scan {

constexpr int kThreads = 256;                   // threads per block
constexpr int kWarps = kThreads / 32;
constexpr int kItems = 9;                       // steps per thread; odd, so shared-memory columns are conflict-free
constexpr int kTileItems = kThreads * kItems;   // elements per tile (S steps x W columns)
constexpr size_t kWalkMinColumns = 65536;       // from here on one thread per column fills the GPU

/// Columns per tile for N columns: the power of two >= N, capped at a warp.
inline int TileColumns(size_t N) {
  int w = 1;
  while (w < 32 && static_cast<size_t>(w) < N) w *= 2;
  return w;
}

/// Block-level piece: for a block whose thread k owns (column j = k % W, thread-row r = k / W) and
/// whose thread-rows are consecutive runs of time, composes the per-thread maps of each column.
template <int W>
struct BlockColumnScan {
  static_assert(W >= 1 && W <= 32 && (W & (W - 1)) == 0, "W must be a power of two <= 32");
  struct TempStorage {
    Affine warp_total[kWarps][W];
  };
  TempStorage& tmp;

  /// Returns the map of the thread-rows after this thread's in its column (identity for the last
  /// row) and sets *total to the map of the whole column of the block. Synchronises the block.
  __device__ __forceinline__ Affine ExclusiveReverse(const Affine& own, Affine* total) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, j = threadIdx.x & (W - 1);
    // Within a warp, the same column recurs every W lanes: a Kogge-Stone suffix scan by shuffles.
    Affine inclusive = own;
#pragma unroll
    for (int offset = W; offset < 32; offset *= 2) {
      const Affine later = ShuffleDown(inclusive, offset);
      if (lane + offset < 32) inclusive = Then(inclusive, later);
    }
    Affine exclusive = ShuffleDown(inclusive, W);
    if (lane + W >= 32) exclusive = AffineIdentity();
    if (lane < W) tmp.warp_total[warp][j] = inclusive;  // the warp's first row covers the whole warp
    __syncthreads();
    Affine later_warps = AffineIdentity();
    for (int w = kWarps - 1; w > warp; --w) later_warps = Then(tmp.warp_total[w][j], later_warps);
    Affine all = later_warps;
    for (int w = warp; w >= 0; --w) all = Then(tmp.warp_total[w][j], all);
    *total = all;
    return Then(exclusive, later_warps);
  }
};

/// Computes the maps (MapAt) of the tile at (t0, n0) into shared memory in striped order: element
/// (step tl, column j) at index tl * W + j. Out-of-range elements get the identity map.
template <int W, class Op>
__device__ __forceinline__ void LoadTile(const Op& op, size_t T, size_t N, size_t t0, size_t n0, double* sa,
                                         double* sc) {
  for (int f = threadIdx.x; f < kTileItems; f += kThreads) {
    const size_t t = t0 + f / W, n = n0 + f % W;
    const Affine m = (t < T && n < N) ? MapAt(op, t, n) : AffineIdentity();
    sa[f] = m.A;
    sc[f] = m.C;
  }
}

/// This thread's composed map over its kItems steps (blocked order).
template <int W>
__device__ __forceinline__ Affine ThreadMap(const double* sa, const double* sc) {
  const int j = threadIdx.x % W, r = threadIdx.x / W;
  Affine m = AffineIdentity();
#pragma unroll
  for (int i = kItems - 1; i >= 0; --i) {
    const int f = (r * kItems + i) * W + j;
    m = Then(Affine{sa[f], sc[f]}, m);
  }
  return m;
}

/// Pass 1 of the tiled path: the affine map of every (tile, column), stored as agg[q * N + n].
template <int W, class Op>
__global__ void __launch_bounds__(kThreads) TileAggregateKernel(Op op, size_t T, size_t N, size_t CT, Affine* agg) {
  __shared__ double sa[kTileItems], sc[kTileItems];
  __shared__ typename BlockColumnScan<W>::TempStorage tmp;
  constexpr size_t S = kTileItems / W;
  const size_t q = blockIdx.x / CT, n0 = (blockIdx.x % CT) * W;
  LoadTile<W>(op, T, N, q * S, n0, sa, sc);
  __syncthreads();
  Affine total;
  BlockColumnScan<W>{tmp}.ExclusiveReverse(ThreadMap<W>(sa, sc), &total);
  const size_t n = n0 + threadIdx.x;
  if (threadIdx.x < W && n < N) agg[q * N + n] = total;
}

/// Pass 2 of the tiled path (the only pass when Q == 1): scans every tile from the value after
/// it (y_after[(q + 1) * N + n], or the boundary for the last tile) and writes y.
template <int W, class Op>
__global__ void __launch_bounds__(kThreads) TileScanKernel(Op op, size_t T, size_t N, size_t Q, size_t CT,
                                                           const double* y_after) {
  __shared__ double sa[kTileItems], sc[kTileItems];
  __shared__ typename BlockColumnScan<W>::TempStorage tmp;
  constexpr size_t S = kTileItems / W;
  const size_t q = blockIdx.x / CT, n0 = (blockIdx.x % CT) * W;
  LoadTile<W>(op, T, N, q * S, n0, sa, sc);
  __syncthreads();
  Affine total;
  const Affine after_me = BlockColumnScan<W>{tmp}.ExclusiveReverse(ThreadMap<W>(sa, sc), &total);
  const int j = threadIdx.x % W, r = threadIdx.x / W;
  const size_t n = n0 + j;
  double y = 0.0;
  if (n < N) y = ApplyMap(after_me, q + 1 == Q ? op.Boundary(n) : y_after[(q + 1) * N + n]);
#pragma unroll
  for (int i = kItems - 1; i >= 0; --i) {
    const int f = (r * kItems + i) * W + j;
    y = ApplyMap(Affine{sa[f], sc[f]}, y);
    sa[f] = y;  // each thread overwrites only its own elements
  }
  __syncthreads();
  for (int f = threadIdx.x; f < kTileItems; f += kThreads) {
    const size_t t = q * S + f / W, nn = n0 + f % W;
    if (t < T && nn < N) op.Write(t, nn, sa[f]);
  }
}

/// The walk path: one thread per column, all T steps, reading each input once.
template <class Op>
__global__ void __launch_bounds__(kThreads) ColumnWalkKernel(Op op, size_t T, size_t N) {
  const size_t n = blockIdx.x * static_cast<size_t>(kThreads) + threadIdx.x;
  if (n >= N) return;
  double y = op.Boundary(n);
#pragma unroll 4
  for (size_t k = 0; k < T; ++k) {
    const size_t t = T - 1 - k;
    y = ApplyMap(MapAt(op, t, n), y);
    op.Write(t, n, y);
  }
}

template <class Op>
__global__ void BoundaryKernel(Op op, size_t N, double* out) {
  for (size_t n = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; n < N;
       n += static_cast<size_t>(gridDim.x) * blockDim.x) {
    out[n] = op.Boundary(n);
  }
}

/// The scan over tile maps that the tiled path recurses into: y'[q] = A_q + C_q y'[q + 1],
/// y'[Q] = boundary; y'[q + 1] is then the value after tile q.
struct CarryOp {
  static constexpr bool kMaps = true;  // Coefs gives the tiles' maps (C = -0.0 marks, see Affine)
  const Affine* agg;
  const double* boundary;
  double* out;
  size_t N;
  __device__ double Boundary(size_t n) const { return boundary[n]; }
  __device__ void Coefs(size_t q, size_t n, double& a, double& c) const {
    const Affine m = agg[q * N + n];
    a = m.A;
    c = m.C;
  }
  __device__ void Write(size_t q, size_t n, double y) const { out[q * N + n] = y; }
};

inline unsigned BlocksOrThrow(size_t blocks) {
  if (blocks > static_cast<size_t>(INT_MAX)) {
    throw std::runtime_error("rlcore CUDA scan: problem too large (" + std::to_string(blocks) + " blocks)");
  }
  return static_cast<unsigned>(blocks);
}

template <class Op>
void ReverseScan(const Op& op, size_t T, size_t N, cudaStream_t stream);

template <int W, class Op>
void ReverseScanTiled(const Op& op, size_t T, size_t N, cudaStream_t stream) {
  constexpr size_t S = kTileItems / W;
  const size_t Q = (T + S - 1) / S, CT = (N + W - 1) / W;
  const unsigned blocks = BlocksOrThrow(Q * CT);
  if (Q == 1) {
    TileScanKernel<W><<<blocks, kThreads, 0, stream>>>(op, T, N, Q, CT, nullptr);
    RLCORE_CUDA_CHECK_LAUNCH("TileScanKernel");
    return;
  }
  DeviceBuffer agg(Q * N * sizeof(Affine), stream), y_after((Q + 1) * N * sizeof(double), stream);
  TileAggregateKernel<W><<<blocks, kThreads, 0, stream>>>(op, T, N, CT, agg.as<Affine>());
  RLCORE_CUDA_CHECK_LAUNCH("TileAggregateKernel");
  // y_after rows 0..Q-1 receive y'[0..Q-1]; row Q holds the boundary (y'[Q]).
  double* boundary = y_after.as<double>() + Q * N;
  BoundaryKernel<<<GridFor(N, 256, 4096), 256, 0, stream>>>(op, N, boundary);
  RLCORE_CUDA_CHECK_LAUNCH("BoundaryKernel");
  ReverseScan(CarryOp{agg.as<Affine>(), boundary, y_after.as<double>(), N}, Q, N, stream);
  TileScanKernel<W><<<blocks, kThreads, 0, stream>>>(op, T, N, Q, CT, y_after.as<double>());
  RLCORE_CUDA_CHECK_LAUNCH("TileScanKernel");
}

/// Device-level reverse affine scan of `op` over [T, N], enqueued on `stream` (asynchronous;
/// temporary buffers come from the stream-ordered allocator). Throws std::runtime_error on
/// launch errors.
template <class Op>
void ReverseScan(const Op& op, size_t T, size_t N, cudaStream_t stream) {
  if (N >= kWalkMinColumns) {
    ColumnWalkKernel<<<BlocksOrThrow((N + kThreads - 1) / kThreads), kThreads, 0, stream>>>(op, T, N);
    RLCORE_CUDA_CHECK_LAUNCH("ColumnWalkKernel");
    return;
  }
  switch (TileColumns(N)) {
    case 1: return ReverseScanTiled<1>(op, T, N, stream);
    case 2: return ReverseScanTiled<2>(op, T, N, stream);
    case 4: return ReverseScanTiled<4>(op, T, N, stream);
    case 8: return ReverseScanTiled<8>(op, T, N, stream);
    case 16: return ReverseScanTiled<16>(op, T, N, stream);
    default: return ReverseScanTiled<32>(op, T, N, stream);
  }
}

/// Which path ReverseScan takes for [T, N], for benchmark reports.
inline std::string ReverseScanPath(size_t T, size_t N) {
  if (N >= kWalkMinColumns) return "walk";
  const size_t W = static_cast<size_t>(TileColumns(N)), S = kTileItems / W;
  size_t Q = (T + S - 1) / S, levels = 1;
  for (size_t len = Q; len > 1; len = (len + S - 1) / S) ++levels;
  return "tiled W=" + std::to_string(W) + " Q=" + std::to_string(Q) + " levels=" + std::to_string(levels);
}

}  // namespace scan

using scan::ReverseScan;

}  // namespace rlcore::cuda
