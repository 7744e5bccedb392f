// Blocked GEMM in the style of BLIS / GotoBLAS: C is cut into MC x NC tiles (the unit of
// threading); for each KC-deep slice, A is packed into MR-row slivers and B into NR-column
// slivers, and a register-resident MR x NR accumulator sweeps the slice. Packing makes the
// three stride patterns of a Linear layer identical for the micro-kernel and pads edges with
// zeros so it never branches. On x86 an AVX2/FMA micro-kernel is picked at run time; the
// portable one is plain loops the compiler vectorises for the baseline ISA.
#include "gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "../core/thread_pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RLCORE_NN_X86 1
#include <immintrin.h>
#endif

namespace rlcore::nn {
namespace {

constexpr size_t kMR = 6, kNR = 16;
constexpr size_t kKC = 256;
constexpr size_t kMCMax = 96;   // multiple of kMR
constexpr size_t kNCMax = 512;  // multiple of kNR
static_assert(GemmWorkspace::kSlotFloats == kMCMax * kKC + kKC * kNCMax, "slot layout");

size_t RoundUp(size_t x, size_t m) { return (x + m - 1) / m * m; }

// acc = sum over k of a[k*MR + i] * b[k*NR + j]; then c (= or +=) acc on the mr x nr corner.
void KernelPortable(size_t kc, const float* a, const float* b, float* c, size_t ldc, size_t mr, size_t nr,
                    bool add) {
  float acc[kMR][kNR] = {};
  for (size_t k = 0; k < kc; ++k) {
    const float* ak = a + k * kMR;
    const float* bk = b + k * kNR;
    for (size_t i = 0; i < kMR; ++i)
      for (size_t j = 0; j < kNR; ++j) acc[i][j] += ak[i] * bk[j];
  }
  for (size_t i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    if (add)
      for (size_t j = 0; j < nr; ++j) ci[j] += acc[i][j];
    else
      for (size_t j = 0; j < nr; ++j) ci[j] = acc[i][j];
  }
}

#ifdef RLCORE_NN_X86
__attribute__((target("avx2,fma"))) void KernelAvx2(size_t kc, const float* a, const float* b, float* c,
                                                    size_t ldc, size_t mr, size_t nr, bool add) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (size_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00), c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10), c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20), c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30), c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40), c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50), c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  const __m256 acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == kMR && nr == kNR) {
    for (size_t i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      __m256 v0 = acc[i][0], v1 = acc[i][1];
      if (add) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(ci)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(ci + 8));
      _mm256_storeu_ps(ci, v0);
      _mm256_storeu_ps(ci + 8, v1);
    }
    return;
  }
  alignas(32) float tmp[kMR][kNR];
  for (size_t i = 0; i < kMR; ++i) _mm256_store_ps(tmp[i], acc[i][0]), _mm256_store_ps(tmp[i] + 8, acc[i][1]);
  for (size_t i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    if (add)
      for (size_t j = 0; j < nr; ++j) ci[j] += tmp[i][j];
    else
      for (size_t j = 0; j < nr; ++j) ci[j] = tmp[i][j];
  }
}
#endif

using Kernel = void (*)(size_t, const float*, const float*, float*, size_t, size_t, size_t, bool);

Kernel PickKernel() {
#ifdef RLCORE_NN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return KernelAvx2;
#endif
  return KernelPortable;
}

const Kernel kKernel = PickKernel();

// Packs rows [i0, i0 + mc) x depth [k0, k0 + kc) of A into MR-row slivers (zero-padded).
void PackA(const MatView& A, size_t i0, size_t mc, size_t k0, size_t kc, float* dst) {
  for (size_t s = 0; s < mc; s += kMR) {
    const size_t rows = std::min(kMR, mc - s);
    float* d = dst + s * kc;
    if (A.cs == 1) {
      for (size_t k = 0; k < kc; ++k)
        for (size_t i = 0; i < kMR; ++i) d[k * kMR + i] = i < rows ? A.data[(i0 + s + i) * A.rs + k0 + k] : 0.f;
    } else {
      for (size_t k = 0; k < kc; ++k) {
        const float* src = A.data + (k0 + k) * A.cs + (i0 + s) * A.rs;
        for (size_t i = 0; i < kMR; ++i) d[k * kMR + i] = i < rows ? src[i * A.rs] : 0.f;
      }
    }
  }
}

// Packs depth [k0, k0 + kc) x columns [j0, j0 + nc) of B into NR-column slivers (zero-padded).
void PackB(const MatView& B, size_t k0, size_t kc, size_t j0, size_t nc, float* dst) {
  for (size_t s = 0; s < nc; s += kNR) {
    const size_t cols = std::min(kNR, nc - s);
    float* d = dst + s * kc;
    for (size_t k = 0; k < kc; ++k) {
      const float* src = B.data + (k0 + k) * B.rs + (j0 + s) * B.cs;
      float* dk = d + k * kNR;
      if (B.cs == 1 && cols == kNR) {
        std::memcpy(dk, src, kNR * sizeof(float));
      } else {
        for (size_t j = 0; j < kNR; ++j) dk[j] = j < cols ? src[j * B.cs] : 0.f;
      }
    }
  }
}

void Epilogue(const GemmProblem& p, size_t i0, size_t i1, size_t j0, size_t j1) {
  for (size_t i = i0; i < i1; ++i) {
    float* ci = p.C + i * p.ldc + j0;
    const size_t n = j1 - j0;
    if (p.bias) {
      const float* b = p.bias + j0;
      for (size_t j = 0; j < n; ++j) ci[j] += b[j];
    }
    ApplyAct(p.act, ci, n);
  }
}

// One tile of C (of C^T when p.c_transposed: then the micro-tile goes through a small buffer
// and is scattered, and the epilogue runs in C's own coordinates).
void Tile(const GemmProblem& p, size_t i0, size_t i1, size_t j0, size_t j1, float* slot) {
  float* ap = slot;
  float* bp = slot + kMCMax * kKC;
  const size_t mc = i1 - i0, nc = j1 - j0;
  for (size_t k0 = 0; k0 < p.K; k0 += kKC) {
    const size_t kc = std::min(kKC, p.K - k0);
    const bool add = p.accumulate || k0 > 0;
    PackB(p.B, k0, kc, j0, nc, bp);
    PackA(p.A, i0, mc, k0, kc, ap);
    for (size_t js = 0; js < nc; js += kNR) {
      const size_t nr = std::min(kNR, nc - js);
      for (size_t is = 0; is < mc; is += kMR) {
        const size_t mr = std::min(kMR, mc - is);
        if (!p.c_transposed) {
          kKernel(kc, ap + is * kc, bp + js * kc, p.C + (i0 + is) * p.ldc + j0 + js, p.ldc, mr, nr, add);
          continue;
        }
        alignas(32) float tmp[kMR * kNR];
        kKernel(kc, ap + is * kc, bp + js * kc, tmp, kNR, mr, nr, false);
        for (size_t j = 0; j < nr; ++j) {
          float* cj = p.C + (j0 + js + j) * p.ldc + i0 + is;
          for (size_t i = 0; i < mr; ++i) cj[i] = add ? cj[i] + tmp[i * kNR + j] : tmp[i * kNR + j];
        }
      }
    }
  }
  if (!(p.bias || p.act != Act::kNone)) return;
  if (p.c_transposed) Epilogue(p, j0, j1, i0, i1);
  else Epilogue(p, i0, i1, j0, j1);
}

// c[j] (+)= dot(a, W[j, :K]) for j < N, W rows ldw apart: the batch-1 forward of a Linear.
void DotRowsPortable(const float* a, const float* W, size_t ldw, size_t K, size_t N, float* c, bool accumulate) {
  for (size_t j = 0; j < N; ++j) {
    const float* w = W + j * ldw;
    float part[8] = {};
    size_t k = 0;
    for (; k + 8 <= K; k += 8)
      for (size_t l = 0; l < 8; ++l) part[l] += a[k + l] * w[k + l];
    float s = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
    for (; k < K; ++k) s += a[k] * w[k];
    c[j] = accumulate ? c[j] + s : s;
  }
}

#ifdef RLCORE_NN_X86
// Four rows at a time, eight lanes of k per FMA; the horizontal sums use hadd. (Left to the
// auto-vectoriser, the loop above runs 4x slower under -march=native at K >= 128.)
__attribute__((target("avx2,fma"))) void DotRowsAvx2(const float* a, const float* W, size_t ldw, size_t K, size_t N,
                                                     float* c, bool accumulate) {
  size_t j = 0;
  for (; j + 4 <= N; j += 4) {
    const float *w0 = W + j * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 x = _mm256_loadu_ps(a + k);
      s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w0 + k), s0);
      s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w1 + k), s1);
      s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w2 + k), s2);
      s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w3 + k), s3);
    }
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
    alignas(16) float r[4];
    _mm_store_ps(r, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    for (; k < K; ++k) {
      r[0] += a[k] * w0[k], r[1] += a[k] * w1[k];
      r[2] += a[k] * w2[k], r[3] += a[k] * w3[k];
    }
    for (size_t q = 0; q < 4; ++q) c[j + q] = accumulate ? c[j + q] + r[q] : r[q];
  }
  if (j < N) DotRowsPortable(a, W + j * ldw, ldw, K, N - j, c + j, accumulate);
}
#endif

using DotRows = void (*)(const float*, const float*, size_t, size_t, size_t, float*, bool);
DotRows PickDot() {
#ifdef RLCORE_NN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DotRowsAvx2;
#endif
  return DotRowsPortable;
}
const DotRows kDotRows = PickDot();

// Few rows (batch-1 inference, the output layer's weight gradient): no packing, no threads. C
// rows are axpys over contiguous rows of B, or dot products with W's rows when B = W^T.
bool SmallM(const GemmProblem& p) {
  const size_t M = p.M, N = p.N, K = p.K;
  if (M > 4) return false;
  if (p.B.cs == 1) {
    for (size_t i = 0; i < M; ++i) {
      float* ci = p.C + i * p.ldc;
      if (!p.accumulate) std::fill(ci, ci + N, 0.f);
      for (size_t k = 0; k < K; ++k) {
        const float a = p.A.data[i * p.A.rs + k * p.A.cs];
        const float* bk = p.B.data + k * p.B.rs;
        for (size_t j = 0; j < N; ++j) ci[j] += a * bk[j];
      }
    }
  } else if (p.B.rs == 1 && p.A.cs == 1) {
    for (size_t i = 0; i < M; ++i) kDotRows(p.A.data + i * p.A.rs, p.B.data, p.B.cs, K, N, p.C + i * p.ldc, p.accumulate);
  } else {
    return false;
  }
  if (p.bias || p.act != Act::kNone) Epilogue(p, 0, M, 0, N);
  return true;
}

struct Grid {
  size_t mc, nc, mt, nt;
};

Grid MakeGrid(size_t M, size_t N, size_t threads) {
  Grid g{std::min(RoundUp(M, kMR), kMCMax), std::min(RoundUp(N, kNR), kNCMax), 0, 0};
  // Enough tiles to keep every thread busy: shrink along M first, then along N.
  while (threads > 1 && ((M + g.mc - 1) / g.mc) * ((N + g.nc - 1) / g.nc) < 2 * threads) {
    if (g.mc > 2 * kMR) g.mc = RoundUp(g.mc / 2, kMR);
    else if (g.nc > 2 * kNR) g.nc = RoundUp(g.nc / 2, kNR);
    else break;
  }
  g.mt = (M + g.mc - 1) / g.mc;
  g.nt = (N + g.nc - 1) / g.nc;
  return g;
}

}  // namespace

void GemmWorkspace::ReserveForPool() { Reserve(static_cast<size_t>(std::max(1, NumThreads()))); }

void Gemm(const GemmProblem& problem, GemmWorkspace& ws) {
  if (problem.M == 0 || problem.N == 0) return;
  if (SmallM(problem)) return;
  GemmProblem p = problem;
  if (p.N <= 8 && p.M >= 4 * p.N) {
    // Few output columns (a value or logits head): padding N to the 16-wide micro-tile would
    // waste most of it, so compute C^T = B^T A^T, whose long dimension is the batch.
    p.c_transposed = true;
    std::swap(p.M, p.N);
    const MatView a = p.A;
    p.A = {problem.B.data, problem.B.cs, problem.B.rs};
    p.B = {a.data, a.cs, a.rs};
  }
  const double work = static_cast<double>(p.M) * p.N * p.K;
  // Below ~1M multiply-adds (~25 us on one core) waking the pool costs more than it saves.
  const size_t threads = work < (1 << 20) ? 1 : static_cast<size_t>(std::max(1, NumThreads()));
  const Grid g = MakeGrid(p.M, p.N, threads);
  const size_t tiles = g.mt * g.nt, slots = std::min(threads, tiles);
  ws.Reserve(slots);  // normally a no-op: Mlp::Prepare* reserved it on the JS thread
  auto run = [&](size_t s0, size_t s1) {
    for (size_t s = s0; s < s1; ++s) {
      // Slot s takes tiles s, s + slots, ...: a fixed assignment, so a slot's buffer is private.
      for (size_t t = s; t < tiles; t += slots) {
        const size_t ti = t / g.nt, tj = t % g.nt;
        const size_t i0 = ti * g.mc, j0 = tj * g.nc;
        Tile(p, i0, std::min(p.M, i0 + g.mc), j0, std::min(p.N, j0 + g.nc), ws.Slot(s));
      }
    }
  };
  if (slots <= 1) run(0, 1);
  else ParallelFor(slots, 1, run);
}

// GCC keeps the selects below as branches (no vectorisation) unless told that float compares
// cannot trap; the builtins avoid calls that the optimize pragma would stop from inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif
namespace {
inline float TanhImpl(float x) {
  // |x| < 0.4: odd Taylor series (no cancellation); else 1 - 2 / (e^{2|x|} + 1) with e^t by
  // range reduction t = n ln2 + r, |r| <= ln2 / 2, and a degree-7 polynomial for e^r. NaN
  // propagates; |x| > 9 gives +-1 (as in float32 tanh).
  const float fa = __builtin_fabsf(x);
  const float ax = fa > 9.f ? 9.f : fa;
  const float x2 = ax * ax;
  const float small =
      ax + ax * x2 *
               (-1.f / 3 + x2 * (2.f / 15 + x2 * (-17.f / 315 + x2 * (62.f / 2835 + x2 * (-1382.f / 155925 +
                                                                                        x2 * (21844.f / 6081075))))));
  const float t = 2.f * ax;
  const float n = (t * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = (t - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  const float er =
      1.f + r * (1.f + r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120 + r * (1.f / 720 + r * (1.f / 5040)))))));
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  const float big = 1.f - 2.f / (er * scale + 1.f);
  const float y = ax < 0.4f ? small : big;
  return x < 0.f ? -y : y;
}

void TanhLoopPortable(float* x, size_t n) {
  for (size_t j = 0; j < n; ++j) x[j] = TanhImpl(x[j]);
}

#ifdef RLCORE_NN_X86
__attribute__((target("avx2,fma"))) void TanhLoopAvx2(float* x, size_t n) {
  for (size_t j = 0; j < n; ++j) x[j] = TanhImpl(x[j]);
}
#endif
}  // namespace
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

namespace {
using TanhLoop = void (*)(float*, size_t);
TanhLoop PickTanh() {
#ifdef RLCORE_NN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return TanhLoopAvx2;
#endif
  return TanhLoopPortable;
}
const TanhLoop kTanhLoop = PickTanh();
}  // namespace

float FastTanh(float x) { return TanhImpl(x); }

void ApplyAct(Act act, float* x, size_t n) {
  switch (act) {
    case Act::kTanh:
      kTanhLoop(x, n);
      break;
    case Act::kRelu:
      for (size_t j = 0; j < n; ++j) x[j] = x[j] < 0.f ? 0.f : x[j];  // NaN propagates
      break;
    case Act::kNone:
      break;
  }
}

}  // namespace rlcore::nn
