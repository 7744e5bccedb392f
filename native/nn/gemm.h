// Single-precision matrix products for the network layers: C = op(A) op(B) (+ C), with any
// strides, so the three products of a Linear layer (forward X W^T, weight gradient dY^T X,
// input gradient dY W) share one blocked, register-tiled kernel. Plain data; no N-API.
//
// Why not a BLAS: the fresh-clone install must build without one, and at RL sizes (K, N <= 376)
// a packed 6x16 FMA micro-kernel with the epilogue fused in is within reach of one (bench/).
#pragma once
#include <cstddef>
#include <vector>

namespace rlcore::nn {

/// Element-wise function applied to each output after the bias (fused into the GEMM epilogue).
enum class Act : int { kNone = 0, kTanh = 1, kRelu = 2 };

/// A strided matrix view: element (i, j) is data[i * rs + j * cs].
struct MatView {
  const float* data = nullptr;
  size_t rs = 0, cs = 0;
};

/// One product C[M, N] = A[M, K] B[K, N] (+ C when `accumulate`), then per column `bias` (if
/// non-null) and `act`. C is row-major with leading dimension ldc.
struct GemmProblem {
  size_t M = 0, N = 0, K = 0;
  MatView A, B;
  float* C = nullptr;
  size_t ldc = 0;
  bool accumulate = false;
  const float* bias = nullptr;  // [N] or null
  Act act = Act::kNone;
  /// Set by Gemm itself: the product is computed as C^T = B^T A^T (few output columns).
  bool c_transposed = false;
};

/// Scratch for packed panels, one slot per thread; grown on the calling thread before any
/// parallel work so nothing allocates (or throws) inside ParallelFor.
class GemmWorkspace {
 public:
  /// Floats per slot: a packed A block (96 x 256) and a packed B block (256 x 512).
  static constexpr size_t kSlotFloats = 96 * 256 + 256 * 512;
  float* Slot(size_t s) { return buf_.data() + s * kSlotFloats; }
  /// Makes room for `slots` threads (may throw std::bad_alloc).
  void Reserve(size_t slots) {
    if (buf_.size() < slots * kSlotFloats) buf_.resize(slots * kSlotFloats);
  }
  /// Makes room for the thread pool's current size.
  void ReserveForPool();

 private:
  std::vector<float> buf_;
};

/// Runs the product, multithreaded over tiles of C when it is large enough. Each C element sums
/// over K in the same order whatever the thread count, so results do not depend on threading.
void Gemm(const GemmProblem& p, GemmWorkspace& ws);

/// Applies `act` in place to n values (vectorisable; tanh to about 2 ulp).
void ApplyAct(Act act, float* x, size_t n);

/// tanh, vectorisable (no libm call), max error about 2 ulp.
float FastTanh(float x);

}  // namespace rlcore::nn
