// n-step bootstrapped returns (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement
// Learning", arXiv:1602.01783; rlax `n_step_bootstrapped_returns`), with Gymnasium's split of
// episode ends into termination and truncation:
//
//   G_t = Σ_{k<m} Γ_{t,k} r_{t+k} + Γ_{t,m} (1 - term_{t+m-1}) v'_{t+m-1},   Γ_{t,k} = Π_{j<k} γ_{t+j}
//
// where m = min(n, steps up to and including the first episode end at or after t, T - t) and
// v' is gae's next value (values[t+1], lastValues after the last step, V(final observation) at a
// truncated step, or nextValues). Each G_t is its own window of at most n steps; the windows are
// composed from per-block prefix and suffix maps (see NstepBlocks; NstepRows16 with AVX-512):
// O(T·N) whatever n; with AVX-512 and n <= 8, each window is summed directly from maps built
// once per step (NstepDirect16, O(T·N·n) but fewer operations at such n). Batches of fewer than
// 8 columns sum each window directly (NstepNarrow, O(T·N·n)); one column with n <= 64 does so 8
// windows per vector (NstepColumn8).
#include "nstep_returns.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "bootstrap_args.h"
#include "../core/select.h"
#include "../core/simd_scan.h"
#include "../core/thread_pool.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

// x where `mask` is all ones, +0 where it is zero (bitwise, so an unselected NaN is dropped too).
// `mask` (all ones or zero) ? if_set : if_clear, bitwise (branch-free; an unselected NaN is dropped).
inline double BitSelect(uint64_t mask, double if_set, double if_clear) {
  uint64_t a, b;
  std::memcpy(&a, &if_set, sizeof a);
  std::memcpy(&b, &if_clear, sizeof b);
  a = (a & mask) | (b & ~mask);
  double out;
  std::memcpy(&out, &a, sizeof out);
  return out;
}

// One step s of a window as a map on the value after it (columns [n0, n0 + w)):
//   h_s(y) = a_s + c_s y,  a_s = r_s, c_s = γ_s               inside an episode,
//   h_s(y) = a_s,          a_s = r_s + γ_s (1 - term_s) v'_s  at an episode end (the window is cut),
// and boot_s = v'_s, the value a window that ends at s (n steps or the batch end) applies its map to:
//   G_t = (h_t ∘ … ∘ h_u)(v'_u),  u = min(t + n - 1, T - 1).
// Cuts are masks and selects, not multiplications by 0, so data beyond an episode end stays out of
// the sum even when it is Inf or NaN.
struct StepMaps {
  const float* __restrict r;
  const float* __restrict g;
  const float* __restrict v_next;
  const float* __restrict v_final;
  const uint8_t* __restrict term;
  const uint8_t* __restrict trunc;
};

inline StepMaps MapsAt(const NstepReturnsProblem& p, size_t s, size_t n0, size_t w, float* gbuf) {
  const bootstrap::Rows v = bootstrap::At(p.T, p.N, s, n0, p.values, p.next_values, p.last_values, p.final_values);
  return {p.rewards + s * p.N + n0, p.gamma.Row(s, n0, w, gbuf), v.next, v.final_obs,
          bootstrap::Flags(p.terminated, p.N, s, n0), bootstrap::Flags(p.truncated, p.N, s, n0)};
}

// a_s, c_s, cut mask and boot_s of column j.
struct StepMap {
  double a, c, boot;
  uint64_t cut;
};
inline StepMap MapOf(const StepMaps& m, size_t j) {
  const uint8_t end = m.term[j] | m.trunc[j];
  const float boot = Select(m.trunc[j], m.v_final[j], m.v_next[j]);
  const float boot_end = Select(m.term[j], 0.f, boot);
  const double g = m.g[j];
  const double r = m.r[j];
  const double a_end = r + g * static_cast<double>(boot_end);
  const uint64_t cut = 0 - static_cast<uint64_t>(end != 0);
  return {BitSelect(cut, a_end, r), g, static_cast<double>(boot), cut};
}

// Windows of n steps are cut into blocks of n steps aligned at t = 0 (van Herk 1992; Gil &
// Werman 1993, for sliding-window reductions with an associative operator): a window that starts
// at step B + k of block [B, B + n) is the suffix map of [B + k, B + n) composed with the prefix
// map of [B + n, B + n + k) of the next block. Suffixes come from a reverse pass over the block,
// prefixes (applied to their v') from a forward pass over the next one: O(1) per element
// whatever n, with no subtraction (every term keeps its own discount; exact up to float64
// rounding, like the direct sum). The blocks are fixed by t = 0 and n, so the result does not
// depend on how the steps are split across threads.
class NstepBlocks {
 public:
  NstepBlocks(const NstepReturnsProblem& p, size_t n0, size_t w, double* q_cur, double* q_next)
      : p_(p), n0_(n0), w_(w), len_(std::min(p.n, p.T)), q_cur_(q_cur), q_next_(q_next) {}

  // Writes the returns of blocks [b0, b1) of columns [n0, n0 + w).
  void Run(size_t b0, size_t b1) {
    const size_t blocks = (p_.T + len_ - 1) / len_;
    size_t next_len = 0;
    if (b1 < blocks) next_len = Prefix(b1);
    for (size_t b = b1; b-- > b0;) {
      std::swap(q_cur_, q_next_);  // q_next_: the prefixes of block b + 1
      const size_t own = Prefix(b);
      Suffix(b, next_len);
      next_len = own;
    }
  }

 private:
  // Forward pass over block b: q_cur_[k][j] = (h_B ∘ … ∘ h_{B+k})(v'_{B+k}); returns its length.
  size_t Prefix(size_t b) {
    const size_t B = b * len_, E = std::min(p_.T, B + len_), w = w_;
    double* __restrict A = pa_;
    double* __restrict C = pc_;
    uint64_t* __restrict cut = pcut_;
    for (size_t j = 0; j < w; ++j) A[j] = 0.0, C[j] = 1.0, cut[j] = 0;
    for (size_t u = B; u < E; ++u) {
      const StepMaps m = MapsAt(p_, u, n0_, w, gbuf_);
      double* __restrict q = q_cur_ + (u - B) * w;
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        const StepMap h = MapOf(m, j);
        A[j] = BitSelect(cut[j], A[j], A[j] + C[j] * h.a);
        C[j] *= h.c;
        cut[j] |= h.cut;
        q[j] = BitSelect(cut[j], A[j], A[j] + C[j] * h.boot);
      }
    }
    return E - B;
  }

  // Reverse pass over block b: G_t = (h_t ∘ … ∘ h_E)(x_t) with x = v'_E for the block's first
  // step or when the batch ends in this block, else the next block's prefix k - 1 (clamped to its length).
  void Suffix(size_t b, size_t next_len) {
    const size_t N = p_.N, B = b * len_, E = std::min(p_.T, B + len_), w = w_;
    double* __restrict A = pa_;
    double* __restrict C = pc_;
    uint64_t* __restrict cut = pcut_;
    double* __restrict boot_end = pb_;
    const StepMaps last = MapsAt(p_, E - 1, n0_, w, gbuf_);
    for (size_t j = 0; j < w; ++j) A[j] = 0.0, C[j] = 1.0, cut[j] = 0, boot_end[j] = MapOf(last, j).boot;
    for (size_t t = E; t-- > B;) {
      const StepMaps m = MapsAt(p_, t, n0_, w, gbuf_);
      const size_t k = t - B;
      const bool own_end = k == 0 || next_len == 0;
      const double* __restrict x = own_end ? boot_end : q_next_ + std::min(k - 1, next_len - 1) * w;
      float* __restrict out = p_.returns + t * N + n0_;
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        const StepMap h = MapOf(m, j);
        A[j] = BitSelect(h.cut, h.a, h.a + h.c * A[j]);
        C[j] *= h.c;
        cut[j] |= h.cut;
        out[j] = static_cast<float>(BitSelect(cut[j], A[j], A[j] + C[j] * x[j]));
      }
    }
  }

  const NstepReturnsProblem& p_;
  size_t n0_, w_, len_;
  double* q_cur_;
  double* q_next_;
  alignas(64) double pa_[kScanColumns], pc_[kScanColumns], pb_[kScanColumns];
  alignas(64) uint64_t pcut_[kScanColumns];
  float gbuf_[kScanColumns];
};

#if RLCORE_SCAN_SIMD
// NstepBlocks over 16 columns at a time by hand (see simd_scan.h for why not the vectoriser), in
// row order: each pass sweeps whole rows of a panel of at most kPanelColumns columns and keeps
// each column's running A, C and cut in a scratch row (L1/L2). Rows, not 16-column strips of a
// block's n rows (the previous form): those rows are N floats apart (16 KiB at N = 4096), so a
// strip's inputs, prefix rows and outputs map to the same few L1 sets and evict one another, and
// the hardware prefetchers lose n short interleaved runs where they follow one long ascending
// run per row. The reverse pass of block b reads its rows a second time (from L2) and meanwhile
// prefetches the rows of block b - 1, the next ones read from memory (as simd_scan.h's row loops
// prefetch their next row). Row pointers are set up once per row, not per 16 columns. Measured
// with one thread at n = 5 (loaded machine, same-run ratios): T = 2048, N = 4096 1.3-1.7x and
// T = 256, N = 4096 (from L3) 1.3-1.6x faster than the strips; panels of 1024 or 2048 columns
// (runs of 4-8 KiB) were slower than whole rows of 4096.
constexpr size_t kPanelColumns = 4096;

// The input rows of step s from column n0 (set up once per row, so the 16-column loops only add
// offsets): null for an absent flag array or v' = 0 after the batch end (bootstrap.h's zero rows
// are only kScanColumns wide); a scalar or per-step γ reads a row of w values filled in gbuf.
struct StepRows {
  const float* r;
  const float* next;
  const float* fin;
  const uint8_t* term;
  const uint8_t* trunc;
  const float* g;
};
inline StepRows StepRowsAt(const NstepReturnsProblem& p, size_t s, size_t n0, size_t w, float* gbuf) {
  const size_t i = s * p.N + n0;
  const float* next = p.next_values ? p.next_values + i
                      : s + 1 < p.T ? p.values + i + p.N
                      : p.last_values ? p.last_values + n0
                                      : nullptr;
  const float* fin = p.final_values && !p.next_values ? p.final_values + i : next;
  const StepParam& q = p.gamma;
  const float* g = gbuf;
  if (q.values && q.stride_n == 1) g = q.values + s * q.stride_t + n0;
  else if (q.values) std::fill(gbuf, gbuf + w, q.values[s * q.stride_t]);
  return {p.rewards + i, next, fin, p.terminated ? p.terminated + i : nullptr, p.truncated ? p.truncated + i : nullptr, g};
}

// Columns [j, j + 16) of a row (absent: zeros / no flags); the two 8-lane halves of a mask.
inline __m512 Load16(const float* p, size_t j) { return p ? _mm512_loadu_ps(p + j) : _mm512_setzero_ps(); }
inline __mmask16 Flags16(const uint8_t* p, size_t j) { return p ? simd::Set16(p + j) : 0; }
inline __mmask8 Half(__mmask16 m, int h) { return static_cast<__mmask8>(h ? m >> 8 : m); }
// Hint: the inputs of `row` at columns [j, j + 16) are needed soon.
inline void Prefetch(const StepRows& row, size_t j) {
  simd::Prefetch16F(row.r + j);
  if (row.next) simd::Prefetch16F(row.next + j);
  if (row.fin != row.next) simd::Prefetch16F(row.fin + j);
  if (row.term) simd::Prefetch16B(row.term + j);
  if (row.trunc) simd::Prefetch16B(row.trunc + j);
  simd::Prefetch16F(row.g + j);
}


class NstepRows16 {
 public:
  /// Doubles of scratch `state` holds for w16 columns (beside the q buffers).
  static size_t StateDoubles(size_t w16) { return 4 * w16 + w16 / 64 + 1; }

  // Columns [n0, n0 + w16), w16 a multiple of 16 and at most kPanelColumns; q_cur, q_next: len * w16
  // doubles each; state: StateDoubles(w16) (heap, not stack: a panel's state is up to 130 KiB).
  NstepRows16(const NstepReturnsProblem& p, size_t n0, size_t w16, double* q_cur, double* q_next, double* state, bool stream)
      : p_(p), n0_(n0), w_(w16), len_(std::min(p.n, p.T)), q_cur_(q_cur), q_next_(q_next), a_(state),
        c_(state + w16), boot_end_(state + 2 * w16), gbuf_(reinterpret_cast<float*>(state + 3 * w16)),
        pbuf_(gbuf_ + w16), cut_(reinterpret_cast<__mmask16*>(state + 4 * w16)), stream_(stream) {
    if (!p.gamma.values) std::fill(gbuf_, gbuf_ + w16, p.gamma.scalar), std::fill(pbuf_, pbuf_ + w16, p.gamma.scalar);
  }

  // Writes the returns of blocks [b0, b1).
  void Run(size_t b0, size_t b1) {
    const size_t blocks = (p_.T + len_ - 1) / len_;
    size_t next_len = 0;
    if (b1 < blocks) {
      Prefix(b1, true);
      next_len = Len(b1);
      std::swap(q_cur_, q_next_);
    }
    for (size_t b = b1; b-- > b0;) {  // q_next_: the prefixes of block b + 1
      Prefix(b, b + 1 == b1);  // later blocks were prefetched by the previous Suffix
      Suffix(b, next_len, b > b0);
      next_len = Len(b);
      std::swap(q_cur_, q_next_);
    }
    simd::Fence(stream_);
  }

 private:
  struct Map16 {
    __m512d a[2], c[2], boot[2];
    __mmask16 cut;
  };

  size_t Len(size_t b) const { return std::min(p_.T, (b + 1) * len_) - b * len_; }

  using Row = StepRows;
  Row RowAt(size_t s, float* gbuf) const { return StepRowsAt(p_, s, n0_, w_, gbuf); }

  // h_s of columns [n0_ + j, n0_ + j + 16), as MapOf.
  static Map16 MapAt(const Row& row, size_t j) {
    const __mmask16 term = Flags16(row.term, j), trunc = Flags16(row.trunc, j);
    const __m512 r = _mm512_loadu_ps(row.r + j), g = _mm512_loadu_ps(row.g + j);
    const __m512 boot = _mm512_mask_blend_ps(trunc, Load16(row.next, j), Load16(row.fin, j));
    Map16 m;
    m.cut = term | trunc;
    m.c[0] = simd::LowHalf(g), m.c[1] = simd::HighHalf(g);
    m.boot[0] = simd::LowHalf(boot), m.boot[1] = simd::HighHalf(boot);
    const __m512d r0 = simd::LowHalf(r), r1 = simd::HighHalf(r);
    // a = r + γ v' at a termination-free cut, r + γ·0 at a termination (masked, not multiplied).
    const __mmask16 keep = static_cast<__mmask16>(m.cut & ~term);
    m.a[0] = _mm512_mask3_fmadd_pd(m.c[0], m.boot[0], r0, Half(keep, 0));
    m.a[1] = _mm512_mask3_fmadd_pd(m.c[1], m.boot[1], r1, Half(keep, 1));
    return m;
  }


  // Forward pass over block b: q_cur_[k][j] = (h_B ∘ … ∘ h_{B+k})(v'_{B+k}); with `prefetch`, each
  // row prefetches the next.
  void Prefix(size_t b, bool prefetch) {
    const size_t B = b * len_, E = std::min(p_.T, B + len_);
    for (size_t u = B; u < E; ++u) {
      double* q = q_cur_ + (u - B) * w_;
      const bool first = u == B, ahead = prefetch && u + 1 < E, keep = u + 1 < E;
      const Row row = RowAt(u, gbuf_), next_row = ahead ? RowAt(u + 1, pbuf_) : row;
      for (size_t j = 0; j < w_; j += 16) {
        if (ahead) Prefetch(next_row, j);
        const Map16 m = MapAt(row, j);
        __m512d A[2], C[2];
        __mmask16 cut;
        if (first) {
          A[0] = m.a[0], A[1] = m.a[1], C[0] = m.c[0], C[1] = m.c[1], cut = m.cut;
        } else {
          cut = cut_[j / 16];
          for (int h = 0; h < 2; ++h) {
            A[h] = _mm512_loadu_pd(a_ + j + 8 * h), C[h] = _mm512_loadu_pd(c_ + j + 8 * h);
            A[h] = _mm512_mask_mov_pd(_mm512_fmadd_pd(C[h], m.a[h], A[h]), Half(cut, h), A[h]);
            C[h] = _mm512_mul_pd(C[h], m.c[h]);
          }
          cut |= m.cut;
        }
        for (int h = 0; h < 2; ++h)
          _mm512_storeu_pd(q + j + 8 * h, _mm512_mask_mov_pd(_mm512_fmadd_pd(C[h], m.boot[h], A[h]), Half(cut, h), A[h]));
        if (keep) Keep(j, A, C, cut);
      }
    }
  }

  // Saves the running state of columns [j, j + 16) for the next row of the pass.
  void Keep(size_t j, const __m512d* A, const __m512d* C, __mmask16 cut) {
    for (int h = 0; h < 2; ++h) _mm512_storeu_pd(a_ + j + 8 * h, A[h]), _mm512_storeu_pd(c_ + j + 8 * h, C[h]);
    cut_[j / 16] = cut;
  }

  // Reverse pass over block b, as NstepBlocks::Suffix; with `prefetch`, row E - 1 - i prefetches
  // row i of block b - 1.
  void Suffix(size_t b, size_t next_len, bool prefetch) {
    const size_t N = p_.N, B = b * len_, E = std::min(p_.T, B + len_);
    for (size_t t = E; t-- > B;) {
      const size_t k = t - B;
      const bool own_end = k == 0 || next_len == 0, last = t == E - 1;
      const double* x = own_end ? boot_end_ : q_next_ + std::min(k - 1, next_len - 1) * w_;
      const Row row = RowAt(t, gbuf_), ahead = prefetch ? RowAt(B - len_ + (E - 1 - t), pbuf_) : row;
      float* out = p_.returns + t * N + n0_;
      for (size_t j = 0; j < w_; j += 16) {
        if (prefetch) Prefetch(ahead, j);
        const Map16 m = MapAt(row, j);
        __m512d A[2], C[2];
        __mmask16 cut;
        if (last) {
          A[0] = m.a[0], A[1] = m.a[1], C[0] = m.c[0], C[1] = m.c[1], cut = m.cut;
          _mm512_storeu_pd(boot_end_ + j, m.boot[0]), _mm512_storeu_pd(boot_end_ + j + 8, m.boot[1]);
        } else {
          for (int h = 0; h < 2; ++h) {
            A[h] = _mm512_loadu_pd(a_ + j + 8 * h), C[h] = _mm512_loadu_pd(c_ + j + 8 * h);
            A[h] = _mm512_mask_mov_pd(_mm512_fmadd_pd(m.c[h], A[h], m.a[h]), Half(m.cut, h), m.a[h]);
            C[h] = _mm512_mul_pd(C[h], m.c[h]);
          }
          cut = cut_[j / 16] | m.cut;
        }
        __m512d y[2];
        for (int h = 0; h < 2; ++h)
          y[h] = _mm512_mask_mov_pd(_mm512_fmadd_pd(C[h], _mm512_loadu_pd(x + j + 8 * h), A[h]), Half(cut, h), A[h]);
        if (k > 0) Keep(j, A, C, cut);
        simd::Store16(out + j, simd::Narrow(y[0], y[1]), stream_);
      }
    }
  }

  const NstepReturnsProblem& p_;
  size_t n0_, w_, len_;
  double* q_cur_;
  double* q_next_;
  // Running A, C and cut of each column, v'_{E-1} of the block (for the windows that end with
  // it), and rows of γ when γ is not per column (for the current row and the prefetched one).
  double* a_;
  double* c_;
  double* boot_end_;
  float* gbuf_;
  float* pbuf_;
  __mmask16* cut_;
  bool stream_;
};
#endif

#if RLCORE_SCAN_SIMD
// Small n (<= kDirectSteps) over 16 columns at a time: each window summed directly, by Horner's
// rule from its last step (as NstepColumn8, O(n) per element), from maps built once per step
// into a ring of the last n rows of a panel of columns. With e_s = v'_s, or 0 at a termination:
//   y ← r_u + γ_u e_u at the window's last step u;  then for s = u - 1, …, t:  y ← e_s where s
//   ends an episode (selected, not multiplied: data past the end stays out even when Inf or
//   NaN);  y ← r_s + γ_s y
// which is h_s of NstepBlocks (a_s = r_s + γ_s e_s at a cut). NstepRows16's two passes over
// n-row blocks build every map twice and move their running state through memory in both; this
// reads each input row once (descending, prefetching the next row) and builds its map once,
// then per step and 8 columns one masked load and one FMA (and a load of γ only when γ is per
// column). Panels span up to whole rows (long ascending runs for the prefetchers; panels of a
// few hundred columns, whose ring stays in L1, read memory in short runs and were ~2x slower);
// the ring (up to 512 KiB) then lives in L2, read as sequential streams. Each G_t depends only on
// steps [t, t + n), so rows and columns split freely across threads. Measured at n = 5,
// T = 2048, N = 4096 (shared, loaded machine; best of 5 interleaved rounds): 1.2x faster than
// NstepRows16 with one thread, 1.2-1.8x with two; in cache (T = 32, N = 2048, one thread) 1.07x
// with whole-row panels, 1.5x with 192-column panels (ring in L1).
constexpr size_t kDirectSteps = 8;  // largest n for the direct path
constexpr size_t kDirectRingBytes = size_t{512} << 10;  // ring budget (half of L2)

class NstepDirect16 {
 public:
  // Panel width (a multiple of 16) whose ring of n rows of r, γ and e (float64) fits the budget.
  static size_t Panel(size_t n) { return std::max<size_t>(16, kDirectRingBytes / (24 * n) / 16 * 16); }
  // Doubles of scratch for a panel of w16 columns.
  static size_t RingDoubles(size_t n, size_t w16) { return n * (3 * Stride(w16) + w16 / 64 + 1); }
  // Doubles between ring rows: padded by a cache line so that the 3n rows, read at the same
  // column, do not all map to the same L1 sets when a row is a multiple of 4 KiB.
  static size_t Stride(size_t w16) { return w16 + 8; }

  // Columns [n0, n0 + w16), w16 a multiple of 16 and at most Panel(n); ring: RingDoubles doubles.
  NstepDirect16(const NstepReturnsProblem& p, size_t n0, size_t w16, double* ring, float* gbuf, bool stream)
      : p_(p), n0_(n0), w_(w16), n_(p.n), ring_(ring),
        s_(Stride(w16)), cut_(reinterpret_cast<__mmask16*>(ring + 3 * p.n * Stride(w16))), gbuf_(gbuf), pbuf_(gbuf + w16), stream_(stream) {
    if (!p.gamma.values) std::fill(gbuf_, gbuf_ + 2 * w16, p.gamma.scalar);
  }

  // Returns of steps [t0, t1).
  void Run(size_t t0, size_t t1) {
    const size_t T = p_.T, n = n_;
    const bool col_gamma = p_.gamma.values && p_.gamma.stride_n == 1;
    const size_t top = std::min(T, t1 + n - 1);  // maps of steps [t0, top) are needed
    for (size_t t = top; t-- > t0;) {
      const size_t u = std::min(t + n - 1, T - 1);
      const size_t m = t < t1 ? u - t + 1 : 0;  // steps of G_t (0: map only)
      // Ring slots of steps t, t + 1, …, u.
      Slots sl;
      for (size_t k = 0; k < std::max<size_t>(m, 1); ++k) {
        const size_t i = (t + k) % n;
        sl.v[k] = ring_ + i * 3 * s_;
        sl.cut[k] = cut_ + i * (w_ / 16);
        sl.g[k] = gsc_[i];
      }
      const Row row = RowAt(t, gbuf_);
      if (!col_gamma) gsc_[t % n] = sl.g[0] = row.g[0];
      const bool ahead = t > t0;
      const Row next = ahead ? RowAt(t - 1, pbuf_) : row;
      const bool keep = t > t0 && n > 1;  // G_{t-1} reads the map of step t
      const Ctx cx{row, next, ahead, keep, p_.returns + t * p_.N + n0_};
      const size_t fixed = m == n ? n : 0;  // all rows but the last n - 1 (and n = 1: no ring)
#define RLCORE_NSTEP_ROW(K)                                      \
  case K:                                                        \
    col_gamma ? RowLoop<true, K>(cx, sl, m) : RowLoop<false, K>(cx, sl, m); \
    break;
      switch (fixed) {
        RLCORE_NSTEP_ROW(2) RLCORE_NSTEP_ROW(3) RLCORE_NSTEP_ROW(4) RLCORE_NSTEP_ROW(5)
        RLCORE_NSTEP_ROW(6) RLCORE_NSTEP_ROW(7) RLCORE_NSTEP_ROW(8)
        default:
          col_gamma ? RowLoop<true, 0>(cx, sl, m) : RowLoop<false, 0>(cx, sl, m);
      }
#undef RLCORE_NSTEP_ROW
    }
  }

 private:
  struct Slots {
    double* v[kDirectSteps];
    __mmask16* cut[kDirectSteps];
    double g[kDirectSteps];
  };
  using Row = StepRows;
  struct Ctx;

  // One row t: builds the map of step t (keeping it in slot 0 when cx.keep) and writes G_t
  // (m: steps of its window; 0: none). kColGamma: γ per column (ring rows), else one γ per step
  // (sl.g); kM: m when fixed at compile time, else 0.
  template <bool kColGamma, size_t kM>
  void RowLoop(const Ctx& cx, const Slots& sl, size_t m_rt) {
    const size_t m = kM ? kM : m_rt;
    double* g0 = sl.v[0];
    double* r0 = g0 + s_;
    double* e0 = r0 + s_;
    __m512d gb[kDirectSteps];
    if (!kColGamma)
      for (size_t k = 0; k < std::max<size_t>(m, 1); ++k) gb[k] = _mm512_set1_pd(sl.g[k]);
    const Row& row = cx.row;
    for (size_t j = 0; j < w_; j += 16) {
      if (cx.ahead) Prefetch(cx.next, j);
      // Map of step t.
      const __mmask16 term = Flags16(row.term, j), trunc = Flags16(row.trunc, j);
      const __m512 r = _mm512_loadu_ps(row.r + j);
      const __m512 boot = row.fin == row.next ? Load16(row.next, j)
                                              : _mm512_mask_blend_ps(trunc, Load16(row.next, j), Load16(row.fin, j));
      const __m512 e = _mm512_maskz_mov_ps(static_cast<__mmask16>(~term), boot);
      const __mmask16 cut = term | trunc;
      __m512d G[2], R[2] = {simd::LowHalf(r), simd::HighHalf(r)}, E[2] = {simd::LowHalf(e), simd::HighHalf(e)};
      if (kColGamma) {
        const __m512 g = _mm512_loadu_ps(row.g + j);
        G[0] = simd::LowHalf(g), G[1] = simd::HighHalf(g);
      } else {
        G[0] = G[1] = gb[0];
      }
      if (cx.keep) {
        for (int h = 0; h < 2; ++h) {
          if (kColGamma) _mm512_store_pd(g0 + j + 8 * h, G[h]);
          _mm512_store_pd(r0 + j + 8 * h, R[h]), _mm512_store_pd(e0 + j + 8 * h, E[h]);
        }
        sl.cut[0][j / 16] = cut;
      }
      if (m == 0) continue;
      __m512d y[2];
      if (m == 1) {
        y[0] = E[0], y[1] = E[1];
      } else {
        const double* vu = sl.v[m - 1] + j;
        for (int h = 0; h < 2; ++h) {
          const __m512d gu = kColGamma ? _mm512_load_pd(vu + 8 * h) : gb[m - 1];
          y[h] = _mm512_fmadd_pd(gu, _mm512_load_pd(vu + 2 * s_ + 8 * h), _mm512_load_pd(vu + s_ + 8 * h));
        }
        for (size_t k = m - 1; --k > 0;) {
          const double* vs = sl.v[k] + j;
          const __mmask16 c = sl.cut[k][j / 16];
          for (int h = 0; h < 2; ++h) {
            const __m512d gs = kColGamma ? _mm512_load_pd(vs + 8 * h) : gb[k];
            y[h] = _mm512_mask_load_pd(y[h], Half(c, h), vs + 2 * s_ + 8 * h);
            y[h] = _mm512_fmadd_pd(gs, y[h], _mm512_load_pd(vs + s_ + 8 * h));
          }
        }
        for (int h = 0; h < 2; ++h) y[h] = _mm512_mask_mov_pd(y[h], Half(cut, h), E[h]);
      }
      for (int h = 0; h < 2; ++h) y[h] = _mm512_fmadd_pd(G[h], y[h], R[h]);
      simd::Store16(cx.out + j, simd::Narrow(y[0], y[1]), stream_);
    }
  }

 private:
  Row RowAt(size_t s, float* gbuf) const { return StepRowsAt(p_, s, n0_, w_, gbuf); }
  struct Ctx {
    const Row& row;
    const Row& next;
    bool ahead, keep;
    float* out;
  };

  const NstepReturnsProblem& p_;
  size_t n0_, w_, n_;
  double* ring_;  // slot i (steps s with s % n = i): rows of γ (when per column), r and e, s_ doubles apart
  size_t s_;  // Stride(w_)
  double gsc_[kDirectSteps] = {};  // γ of the steps in the ring (when not per column)
  __mmask16* cut_;  // slot i: w_ / 16 cut masks
  float* gbuf_;  // γ rows when γ is not per column (current row, prefetched row)
  float* pbuf_;
  bool stream_;
};
#endif

// v'_s of column c (gae's next-value convention), read only where a window ends.
inline double NextValue(const NstepReturnsProblem& p, size_t s, size_t c, bool truncated) {
  const size_t i = s * p.N + c;
  if (p.next_values) return p.next_values[i];
  if (truncated) return p.final_values[i];  // present whenever truncated is (checked in the binding)
  if (s + 1 < p.T) return p.values[i + p.N];
  return p.last_values ? p.last_values[c] : 0.0;
}

// Few columns: the row-tile loop above would pay its per-row setup for one or two lanes, so
// walk each column's windows directly and stop each one at its end (scalar, well predicted).
void NstepNarrow(const NstepReturnsProblem& p, size_t t0, size_t t1) {
  const size_t T = p.T, N = p.N;
  for (size_t c = 0; c < N; ++c) {
    for (size_t t = t0; t < t1; ++t) {
      const size_t m = std::min(p.n, T - t);
      double acc = 0.0, disc = 1.0;
      for (size_t k = 0;; ++k) {
        const size_t s = t + k, i = s * N + c;
        const double g = p.gamma.At(s, c);
        acc += disc * static_cast<double>(p.rewards[i]);
        if (p.terminated && p.terminated[i]) break;
        const bool trunc = p.truncated && p.truncated[i];
        if (trunc || k + 1 == m) {
          acc += disc * g * NextValue(p, s, c, trunc);
          break;
        }
        disc *= g;
      }
      p.returns[t * N + c] = static_cast<float>(acc);
    }
  }
}

#if RLCORE_SCAN_SIMD
// One column (N = 1): its steps are contiguous, so 8 consecutive windows share one float64
// vector (lane i: G_{t+i}). The maps h_s are built once per step into an L1 buffer (one step
// per double, as MapOf), and each window sums its n maps directly from unaligned loads at
// t + k: O(n) per element like NstepNarrow, which it replaces for n <= kColumnSteps, but
// branch-free and 8 windows at a time (measured ~8x faster at T = 1M, n = 5, one thread).
// Windows are independent, so time splits freely across threads (unlike a scan); the windows
// that end within 8 steps of the batch end, and those of a task's steps that do not fill a
// vector, go to NstepNarrow, and which ones those are depends on t alone (tasks start at
// multiples of 8), so results do not depend on the thread count.
constexpr size_t kColumnSteps = 64;  // largest n for the vector path
constexpr size_t kColumnBlock = 512;  // windows per map buffer

class NstepColumn8 {
 public:
  explicit NstepColumn8(const NstepReturnsProblem& p) : p_(p) {}

  // Returns of steps [t0, t1): vector windows from t0 (a multiple of 8) while they stay at
  // least one step clear of the batch end; returns where the scalar rest starts.
  size_t Run(size_t t0, size_t t1) {
    const size_t n = p_.n;
    size_t t = t0;
    while (t + 8 + n <= p_.T && t + 8 <= t1) {
      // Windows [t, t + K): maps of steps [t, t + K + n - 1), all before T - 1.
      size_t K = std::min(kColumnBlock, t1 - t);
      K = std::min(K, p_.T - n - t) / 8 * 8;
      Maps(t, K + n - 1);
      Windows(t, K);
      t += K;
    }
    return t;
  }

 private:
  // a, c, boot and cut of steps [s0, s0 + m) into the buffers (s0 + m <= T - 1).
  void Maps(size_t s0, size_t m) {
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
      const size_t s = s0 + i;
      const __mmask8 term = p_.terminated ? simd::Set8(p_.terminated + s) : 0;
      const __mmask8 trunc = p_.truncated ? simd::Set8(p_.truncated + s) : 0;
      const __m256 next = _mm256_loadu_ps(p_.next_values ? p_.next_values + s : p_.values + s + 1);
      const __m256 fin = p_.final_values && !p_.next_values ? _mm256_loadu_ps(p_.final_values + s) : next;
      const __m512d boot = _mm512_cvtps_pd(_mm256_mask_blend_ps(trunc, next, fin));
      const __m512d g = _mm512_cvtps_pd(simd::Param8(p_.gamma, s));
      const __m512d r = _mm512_cvtps_pd(_mm256_loadu_ps(p_.rewards + s));
      const __m512d boot_end = _mm512_maskz_mov_pd(static_cast<__mmask8>(~term), boot);
      const __mmask8 cut = term | trunc;
      _mm512_storeu_pd(a_ + i, _mm512_mask_mov_pd(r, cut, _mm512_fmadd_pd(g, boot_end, r)));
      _mm512_storeu_pd(c_ + i, g);
      _mm512_store_pd(boot_ + i, boot);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(cut_ + i), _mm_movm_epi8(cut));
    }
    for (; i < m; ++i) {
      const size_t s = s0 + i;
      const bootstrap::Rows v = bootstrap::At(p_.T, 1, s, 0, p_.values, p_.next_values, p_.last_values, p_.final_values);
      const StepMap h = MapOf({p_.rewards + s, p_.gamma.Row(s, 0, 1, gbuf_), v.next, v.final_obs,
                               bootstrap::Flags(p_.terminated, 1, s, 0), bootstrap::Flags(p_.truncated, 1, s, 0)}, 0);
      a_[i] = h.a, c_[i] = h.c, boot_[i] = h.boot, cut_[i] = static_cast<uint8_t>(h.cut);
    }
  }

  // G of windows [t, t + K), K a multiple of 8, from the maps at buffer offset 0 = step t:
  // G = Σ_k Γ_k a_{t+k} over the steps up to the first cut, plus Γ_n boot_{t+n-1} if none.
  void Windows(size_t t, size_t K) {
    const size_t n = p_.n;
    for (size_t i = 0; i < K; i += 8) {
      __m512d acc = _mm512_setzero_pd(), disc = _mm512_set1_pd(1.0);
      __mmask8 alive = 0xff;
      for (size_t k = 0; k < n; ++k) {
        acc = _mm512_mask3_fmadd_pd(disc, _mm512_loadu_pd(a_ + i + k), acc, alive);
        disc = _mm512_mul_pd(disc, _mm512_loadu_pd(c_ + i + k));
        alive = static_cast<__mmask8>(alive & ~simd::Set8(cut_ + i + k));
      }
      acc = _mm512_mask3_fmadd_pd(disc, _mm512_loadu_pd(boot_ + i + n - 1), acc, alive);
      _mm256_storeu_ps(p_.returns + t + i, _mm512_cvtpd_ps(acc));
    }
  }

  const NstepReturnsProblem& p_;
  alignas(64) double a_[kColumnBlock + kColumnSteps + 8];
  alignas(64) double c_[kColumnBlock + kColumnSteps + 8];
  alignas(64) double boot_[kColumnBlock + kColumnSteps + 8];
  alignas(64) uint8_t cut_[kColumnBlock + kColumnSteps + 8];
  float gbuf_[1];
};
#endif

// Columns per block group: the two prefix buffers (2 n w doubles) stay within about 512 KiB.
// With AVX-512 a group may span whole rows (long contiguous runs for the prefetchers), run in
// panels of kPanelColumns whose per-column state lives in the task's scratch too; the scalar loop
// keeps its state on the stack for at most kScanColumns columns (plus the fewer than 16 left
// over by the panels).
size_t GroupWidth(size_t len, size_t N) {
  size_t w = (size_t{1} << 15) / len;
  if (!RLCORE_SCAN_SIMD) w = std::min(kScanColumns, w);
  w = w >= 16 ? w / 16 * 16 : std::max<size_t>(w, 1);
  return std::min(w, N);
}

double* AlignUp64(double* p) {
  return reinterpret_cast<double*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

// Scratch doubles of a task whose groups are at most w columns wide (a multiple of 8, so every
// task's buffer starts on a cache line).
size_t TaskDoubles(size_t len, size_t w) {
  size_t d = 2 * len * w;
#if RLCORE_SCAN_SIMD
  d += NstepRows16::StateDoubles(std::min(w, kPanelColumns));
#endif
  return (d + 7) / 8 * 8;
}

// Returns of columns [n0, n0 + w), blocks [b0, b1); buf: TaskDoubles(len, w) doubles.
void RunGroup(const NstepReturnsProblem& p, size_t n0, size_t w, size_t b0, size_t b1, double* buf, bool stream) {
  const size_t len = std::min(p.n, p.T);
  size_t w16 = 0;
#if RLCORE_SCAN_SIMD
  w16 = w / 16 * 16;
  for (size_t j = 0; j < w16; j += kPanelColumns) {
    const size_t pw = std::min(kPanelColumns, w16 - j);
    NstepRows16(p, n0 + j, pw, buf, buf + len * pw, buf + 2 * len * w, stream).Run(b0, b1);
  }
  buf += 2 * len * w16;
#endif
  (void)stream;
  if (w > w16) NstepBlocks(p, n0 + w16, w - w16, buf, buf + len * (w - w16)).Run(b0, b1);
}

// nstepReturns(T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?,
//              finalValues?, gamma, n, outReturns, useCuda, async)
Napi::Value NstepReturnsBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nstepReturns";
  Napi::Env env = info.Env();
  NstepReturnsProblem p;
  const Shape tn = ReadBootstrapInputs(info, kKernel, p);
  const size_t TN = p.T * p.N;
  p.gamma = StepParamArg(info, 9, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  const double n = NumberArg(info, 10, kKernel, "n", 1.0, 1099511627776.0);
  if (static_cast<double>(static_cast<size_t>(n)) != n) {
    ThrowError(env, "ERR_RANGE", "nstepReturns: n must be an integer >= 1; received " + std::to_string(n));
  }
  p.n = static_cast<size_t>(n);
  p.returns = F32Arg(info, 11, kKernel, "out.returns", false, TN, tn).data;
  const bool use_cuda = BoolArg(info, 12), async = BoolArg(info, 13);
  CheckDevice(env, kKernel, use_cuda);
  CheckOutputAlias(env, kKernel, "out.returns", p.returns, p);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::NstepReturns(p);
#endif
    (void)use_cuda;
    NstepReturnsCpu(p);
  }, KeepArgs{2, 12});
}

#if RLCORE_SCAN_SIMD
// NstepDirect16 over panels of columns; the fewer than 16 columns left over go to NstepBlocks.
// Tasks take panels when there are enough of them, else runs of steps (and the leftover columns
// runs of blocks); no result depends on the split.
void NstepDirect(const NstepReturnsProblem& p) {
  const size_t n = p.n, len = std::min(p.n, p.T), w16 = p.N / 16 * 16, rest = p.N - w16;
  const size_t P = std::min(NstepDirect16::Panel(n), w16), panels = (w16 + P - 1) / P;
  const size_t blocks = (p.T + len - 1) / len;
  const size_t threads = p.T * p.N < (size_t{1} << 15) ? 1 : static_cast<size_t>(NumThreads());
  const bool by_panels = panels >= 4 * threads || p.T < 16 * threads;
  const size_t tasks = std::max<size_t>(1, std::min(threads, by_panels ? panels : p.T));
  // Per task: the ring, two γ rows, and the leftover columns' prefix buffers (allocated here:
  // nothing throws inside ParallelFor).
  size_t per_task = NstepDirect16::RingDoubles(n, P) + P + 2 * len * rest;
  per_task = (per_task + 7) / 8 * 8;
  thread_local std::vector<double> scratch_buf;
  scratch_buf.resize(tasks * per_task + 8);
  double* const scratch = AlignUp64(scratch_buf.data());
  const bool stream = p.T * p.N >= simd::kStreamElements;
  ParallelFor(tasks, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      double* ring = scratch + q * per_task;
      float* gbuf = reinterpret_cast<float*>(ring + NstepDirect16::RingDoubles(n, P));
      double* qbuf = ring + NstepDirect16::RingDoubles(n, P) + P;
      if (by_panels) {
        for (size_t c = panels * q / tasks; c < panels * (q + 1) / tasks; ++c)
          NstepDirect16(p, c * P, std::min(P, w16 - c * P), ring, gbuf, stream).Run(0, p.T);
      } else {
        const size_t t0 = p.T * q / tasks, t1 = p.T * (q + 1) / tasks;
        for (size_t n0 = 0; n0 < w16; n0 += P)
          NstepDirect16(p, n0, std::min(P, w16 - n0), ring, gbuf, stream).Run(t0, t1);
      }
      if (rest > 0)
        NstepBlocks(p, w16, rest, qbuf, qbuf + len * rest).Run(blocks * q / tasks, blocks * (q + 1) / tasks);
      simd::Fence(stream);
    }
  });
}
#endif

}  // namespace

void NstepReturnsCpu(const NstepReturnsProblem& p) {
  if (p.T == 0 || p.N == 0) return;
#if RLCORE_SCAN_SIMD
  if (p.N == 1 && p.n <= kColumnSteps) {
    // Tasks start at multiples of 8 steps, so each step's path does not depend on the split.
    const size_t octets = (p.T + 7) / 8;
    ParallelFor(octets, 1024, [&p](size_t u0, size_t u1) {
      const size_t t1 = std::min(p.T, 8 * u1);
      NstepNarrow(p, NstepColumn8(p).Run(8 * u0, t1), t1);
    });
    return;
  }
#endif
#if RLCORE_SCAN_SIMD
  if (p.n <= kDirectSteps && p.N >= 16) {
    NstepDirect(p);
    return;
  }
#endif
  if (p.N < kNarrowColumns) {  // scan.h's threshold for one-column paths
    const size_t grain = std::max<size_t>(1, (size_t{1} << 15) / (p.N * std::min(p.n, p.T)));
    ParallelFor(p.T, grain, [&p](size_t t0, size_t t1) { NstepNarrow(p, t0, t1); });
    return;
  }
  const size_t len = std::min(p.n, p.T), w = GroupWidth(len, p.N);
  const size_t groups = (p.N + w - 1) / w, blocks = (p.T + len - 1) / len;
  // Tasks: column groups when there are enough of them, else runs of blocks (time).
  const size_t threads = p.T * p.N < (size_t{1} << 15) ? 1 : static_cast<size_t>(NumThreads());
  const bool by_columns = groups >= 4 * threads || blocks < 2 * threads;
  const size_t tasks = std::max<size_t>(1, std::min(threads, by_columns ? groups : blocks));
  // Allocated here (nothing throws inside ParallelFor) and kept per thread between calls: at most
  // about 650 KiB per task.
  const size_t per_task = TaskDoubles(len, w);
  thread_local std::vector<double> scratch_buf;  // the pool threads use it through `scratch`
  scratch_buf.resize(tasks * per_task + 8);
  double* const scratch = AlignUp64(scratch_buf.data());  // full-line vector loads and stores
  const bool stream = p.T * p.N >= simd::kStreamElements;
  ParallelFor(tasks, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      double* buf = scratch + q * per_task;
      if (by_columns) {
        for (size_t c = groups * q / tasks; c < groups * (q + 1) / tasks; ++c) {
          const size_t n0 = c * w;
          RunGroup(p, n0, std::min(w, p.N - n0), 0, blocks, buf, stream);
        }
      } else {
        for (size_t n0 = 0; n0 < p.N; n0 += w)
          RunGroup(p, n0, std::min(w, p.N - n0), blocks * q / tasks, blocks * (q + 1) / tasks, buf, stream);
      }
    }
  });
}

RLCORE_EXPORT(nstepReturns, NstepReturnsBinding);

}  // namespace rlcore
