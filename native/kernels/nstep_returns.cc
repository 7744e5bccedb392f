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
// O(T·N) whatever n. With AVX-512 and n <= 8, each window is summed directly by Horner's rule
// with the n open windows of 16 columns in registers (NstepWindows16, O(T·N·n) but fewer
// operations at such n), and one column 8 windows per vector (NstepColumnShift). Batches of fewer
// than 8 columns with n <= 16 sum each window directly (NstepNarrow, O(T·N·n)); one column with
// 8 < n <= 64 does so 8 windows per vector (NstepColumn8).
//
// Episodes are isolated: a window stops at the first episode end, and every path cuts it with a
// select (mask, blend or branch), never a product with 1 - done, so no output of an episode reads
// (or turns NaN from) a reward or value of a later one; v' is not read at a termination. Inside an
// episode NaN and Inf propagate as in IEEE arithmetic.
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
// depend on how the steps are split across threads. The prefixes are kept in pieces of
// Piece(len, w) steps (all of a block unless n > kPrefixDoubles / w): a block of more first gets
// a forward pass that only marks the running state at each piece start, and the reverse pass
// recomputes each piece from its mark when it reaches it (one more pass, bounded scratch).
constexpr size_t kPrefixDoubles = size_t{1} << 15;  // prefix doubles a block group keeps (256 KiB)

class NstepBlocks {
 public:
  static size_t Piece(size_t len, size_t w) { return std::min(len, std::max<size_t>(1, kPrefixDoubles / w)); }
  /// Scratch doubles for w columns: a piece of prefixes, the last prefix and the marks.
  static size_t ScratchDoubles(size_t len, size_t w) {
    const size_t piece = Piece(len, w);
    return (piece + 1 + 3 * ((len - 1) / piece)) * w;
  }

  NstepBlocks(const NstepReturnsProblem& p, size_t n0, size_t w, double* scratch)
      : p_(p), n0_(n0), w_(w), len_(std::min(p.n, p.T)), piece_(Piece(len_, w)), q_(scratch),
        last_(scratch + piece_ * w), marks_(last_ + w) {}

  // Writes the returns of blocks [b0, b1) of columns [n0, n0 + w).
  void Run(size_t b0, size_t b1) {
    const size_t blocks = (p_.T + len_ - 1) / len_;
    for (size_t b = b1; b-- > b0;) Suffix(b, b + 1 < blocks ? std::min(p_.T, (b + 2) * len_) - (b + 1) * len_ : 0);
  }

 private:
  // Forward pass over prefixes [lo, hi) of block b, from the identity (lo = 0) or mark
  // lo / piece_: q_[k - lo][j] = (h_B ∘ … ∘ h_{B+k})(v'_{B+k}); with `mark`, instead saves the
  // state at each multiple of piece_ and leaves the last prefix in last_.
  void Prefix(size_t b, size_t lo, size_t hi, bool mark) {
    const size_t B = b * len_, w = w_;
    double* __restrict A = pa_;
    double* __restrict C = pc_;
    uint64_t* __restrict cut = pcut_;
    if (lo == 0) {
      for (size_t j = 0; j < w; ++j) A[j] = 0.0, C[j] = 1.0, cut[j] = 0;
    } else {
      const double* mk = marks_ + (lo / piece_ - 1) * 3 * w;
      std::memcpy(A, mk, w * sizeof(double)), std::memcpy(C, mk + w, w * sizeof(double)), std::memcpy(cut, mk + 2 * w, w * sizeof(uint64_t));
    }
    for (size_t k = lo; k < hi; ++k) {
      if (mark && k > 0 && k % piece_ == 0) {
        double* mk = marks_ + (k / piece_ - 1) * 3 * w;
        std::memcpy(mk, A, w * sizeof(double)), std::memcpy(mk + w, C, w * sizeof(double)), std::memcpy(mk + 2 * w, cut, w * sizeof(uint64_t));
      }
      const StepMaps m = MapsAt(p_, B + k, n0_, w, gbuf_);
      double* __restrict q = mark ? last_ : q_ + (k - lo) * w;
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        const StepMap h = MapOf(m, j);
        A[j] = BitSelect(cut[j], A[j], A[j] + C[j] * h.a);
        C[j] *= h.c;
        cut[j] |= h.cut;
        q[j] = BitSelect(cut[j], A[j], A[j] + C[j] * h.boot);
      }
    }
  }

  // Reverse pass over block b: G_t = (h_t ∘ … ∘ h_E)(x_t) with x = v'_E for the block's first
  // step or when the batch ends in this block, else the next block's prefix k - 1 (clamped to its
  // length next_len), computed here a piece at a time.
  void Suffix(size_t b, size_t next_len) {
    const size_t N = p_.N, B = b * len_, E = std::min(p_.T, B + len_), w = w_;
    // The next block's prefixes: all in q_ (lo = 0), or its last one in last_ and the others
    // recomputed when reached (lo: the first one held).
    size_t lo = 0;
    const double* last = last_;
    if (next_len > piece_) Prefix(b + 1, 0, next_len, true), lo = next_len;
    else if (next_len > 0) Prefix(b + 1, 0, next_len, false), last = q_ + (next_len - 1) * w;
    double* __restrict A = sa_;
    double* __restrict C = sc_;
    uint64_t* __restrict cut = scut_;
    double* __restrict boot_end = pb_;
    const StepMaps end = MapsAt(p_, E - 1, n0_, w, gbuf_);
    for (size_t j = 0; j < w; ++j) A[j] = 0.0, C[j] = 1.0, cut[j] = 0, boot_end[j] = MapOf(end, j).boot;
    for (size_t t = E; t-- > B;) {
      const size_t k = t - B;
      const double* __restrict x = boot_end;
      if (k > 0 && next_len > 0) {
        if (k >= next_len) {
          x = last;
        } else {
          if (k - 1 < lo) lo = (k - 1) / piece_ * piece_, Prefix(b + 1, lo, std::min(lo + piece_, next_len - 1), false);
          x = q_ + (k - 1 - lo) * w;
        }
      }
      const StepMaps m = MapsAt(p_, t, n0_, w, gbuf_);
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
  size_t n0_, w_, len_, piece_;
  double* q_;
  double* last_;
  double* marks_;
  // Running state of the forward (p) and reverse (s) passes, and v'_{E-1} of the block.
  alignas(64) double pa_[kScanColumns], pc_[kScanColumns], sa_[kScanColumns], sc_[kScanColumns], pb_[kScanColumns];
  alignas(64) uint64_t pcut_[kScanColumns], scut_[kScanColumns];
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
struct RowInputs {
  const float* r;
  const float* next;
  const float* fin;
  const uint8_t* term;
  const uint8_t* trunc;
  const float* g;
};
inline RowInputs RowInputsAt(const NstepReturnsProblem& p, size_t s, size_t n0, size_t w, float* gbuf) {
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
inline void Prefetch(const RowInputs& row, size_t j) {
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
      // For block b - 1 (later blocks were prefetched by the previous Suffix). Block b0's went
      // unread; without it a task of one block (n >= T) at N = 4096, T = 256 / 1024 / 2048 took
      // 0.6 / 0.9 / 1.2x the time (that pass had also pre-read the block's 16-column strips).
      if (b > b0) Prefix(b, b + 1 == b1);
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

  using Row = RowInputs;
  Row RowAt(size_t s, float* gbuf) const { return RowInputsAt(p_, s, n0_, w_, gbuf); }

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
// Small n (<= kDirectSteps) over 16 columns at a time: each window summed directly by Horner's
// rule from its last step u = min(t + n - 1, T - 1), with e_s = v'_s, or 0 at a termination:
//   y ← e_u;  then for s = u, u - 1, …, t:  y ← r_s + γ_s (cut_s ? e_s : y)
// (h_s of NstepBlocks; the select, not a product, keeps data past an episode end out even when it
// is Inf or NaN). Going down the steps, every window that holds step s takes the same update, so
// the n open windows of 16 columns stay in registers: at step s window s - n + 1 opens (y = e_s)
// and window s closes (is written). Per element n FMAs and n - 1 blends in float64, and every
// input read once. Rows are visited in groups of GroupRows(n) (a multiple of n: each window's
// register is fixed at compile time) from the top; within a group, 16-column chunks left to
// right, each chunk down the group's rows, its open windows moving through a scratch row (L2)
// between groups. Memory is thus read as a few long ascending runs (one per row of the group,
// prefetched a few chunks ahead), and with streaming stores the chunk grid is shifted so that
// every full chunk writes one whole cache line. (It replaces a form that stored each step's map
// in a ring of n rows and re-read n of them per window: 1.6-2.5x slower in cache, one thread.)
// A task over steps [a, b) first runs steps [b, b + n - 1) without writing (the windows still
// open at b), so every window sees the same operations whatever the split over threads.
constexpr size_t kDirectSteps = 8;  // largest n for the direct paths

// Rows per group: the multiple of n from 8 to 14.
constexpr size_t GroupRows(size_t n) { return n * ((n + 7) / n); }
constexpr size_t kMaxGroupRows = 14;
constexpr size_t kAheadColumns = 128;  // software prefetch distance along a row

// Hint: the line at byte `offset` from p (which may lie outside any array: a prefetch never faults)
// is read soon.
inline void PrefetchAt(const void* p, ptrdiff_t offset) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(offset)), _MM_HINT_T0);
}

// The same for flags [f, f + 16) of the row at p, when they start a new line (so that
// consecutive chunks touch each line once).
inline void PrefetchFlags16(const uint8_t* p, ptrdiff_t f) {
  const uintptr_t last = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(f + 15);
  if ((last & 63) < 16) _mm_prefetch(reinterpret_cast<const char*>(last), _MM_HINT_T0);
}

// Calls f(integral_constant<size_t, I>) for I = 0, 1, … (a loop unrolled at compile time).
template <class F, size_t... I>
inline void Unrolled(F&& f, std::index_sequence<I...>) {
  (f(std::integral_constant<size_t, I>{}), ...);
}

class NstepWindows16 {
 public:
  // Doubles of scratch a task over w columns needs (the open windows of each chunk).
  static size_t StateDoubles(size_t w, size_t n) { return (w / 16 + 2) * (n - 1) * 16; }

  // Columns [c0, c1); `zeros` (N floats) and `no_flags` (N bytes) stand for absent inputs.
  NstepWindows16(const NstepReturnsProblem& p, size_t c0, size_t c1, double* state, const float* zeros,
                 const uint8_t* no_flags, bool stream)
      : p_(p), c0_(c0), c1_(c1), state_(state), zeros_(zeros), no_flags_(no_flags), stream_(stream),
        col_gamma_(p.gamma.values && p.gamma.stride_n == 1) {
    // With streaming stores, a first chunk of fewer columns makes the later ones line-aligned
    // (every row alike when a row is a whole number of lines).
    const uintptr_t mis = reinterpret_cast<uintptr_t>(p.returns + c0) & 63;
    if (stream && p.N % 16 == 0 && mis % 4 == 0) head_ = std::min(c1 - c0, ((64 - mis) & 63) / 4);
  }

  // Returns of steps [a, b).
  void Run(size_t a, size_t b) {
    const bool trunc = p_.truncated != nullptr;
    switch (p_.n) {
#define RLCORE_NSTEP_N(K) \
  case K:                 \
    return trunc ? RunN<K, true>(a, b) : RunN<K, false>(a, b);
      RLCORE_NSTEP_N(1) RLCORE_NSTEP_N(2) RLCORE_NSTEP_N(3) RLCORE_NSTEP_N(4)
      RLCORE_NSTEP_N(5) RLCORE_NSTEP_N(6) RLCORE_NSTEP_N(7) RLCORE_NSTEP_N(8)
#undef RLCORE_NSTEP_N
      default:
        return;
    }
  }

 private:
  // The inputs of one step (pointers at column 0 of its rows; never null).
  struct Row {
    const float* r;
    const float* next;
    const float* fin;
    const float* g;  // γ per column, else unused
    const uint8_t* term;
    const uint8_t* trunc;
    float* out;
    double gs;  // γ when not per column
  };
  enum Store { kStream, kStreamUnaligned, kPlain, kMasked };
  struct Chunk {
    size_t j;  // first column
    __mmask16 lanes;
    Store store;
    ptrdiff_t ahead;  // column to prefetch, from a row of this group (may be in the next group's rows)
  };

  Row RowAt(size_t s) const {
    const NstepReturnsProblem& p = p_;
    const size_t i = s * p.N;
    const float* next = p.next_values ? p.next_values + i
                        : s + 1 < p.T ? p.values + i + p.N
                        : p.last_values ? p.last_values
                                        : zeros_;
    const float* fin = p.final_values && !p.next_values ? p.final_values + i : next;
    const StepParam& q = p.gamma;
    const float* g = col_gamma_ ? q.values + s * q.stride_t : nullptr;
    const double gs = q.values ? (col_gamma_ ? 0.0 : q.values[s * q.stride_t]) : q.scalar;
    return {p.rewards + i, next, fin, g, p.terminated ? p.terminated + i : no_flags_,
            p.truncated ? p.truncated + i : no_flags_, p.returns + i, gs};
  }

  template <size_t kN, bool kTrunc>
  void RunN(size_t a, size_t b) {
    constexpr size_t K = GroupRows(kN);
    const size_t top = std::min(p_.T, b + kN - 1);  // steps [b, top) only feed the open windows
    for (size_t hi = top; hi > a;) {
      const size_t rows = std::min(K, hi - a);
      for (size_t i = 0; i < rows; ++i) rows_[i] = RowAt(hi - 1 - i);
      const bool first = hi == top, last = hi - rows == a;
      if (first || rows < K) Group<kN, kTrunc, true>(rows, first, first ? top - b : 0, !last);
      else Group<kN, kTrunc, false>(K, false, 0, !last);
      hi -= rows;
    }
    simd::Fence(stream_);
  }

  // One group of `rows` steps (rows_[i]: step hi - 1 - i), every chunk. first: the task's first
  // group (all windows open at its first step, and its first `quiet` steps are not written);
  // save: keep the open windows for the next group. kEdge: a first or short group.
  template <size_t kN, bool kTrunc, bool kEdge>
  void Group(size_t rows, bool first, size_t quiet, bool save) {
    constexpr size_t K = GroupRows(kN);
    const size_t full_end = c0_ + head_ + (c1_ - c0_ - head_) / 16 * 16;
    const bool aligned = p_.N % 16 == 0 && (reinterpret_cast<uintptr_t>(p_.returns + c0_ + head_) & 63) == 0;
    const Store full = !stream_ ? kPlain : aligned ? kStream : kStreamUnaligned;
    const bool col_gamma = col_gamma_;
    double* st = state_;
    auto chunk = [&](const Chunk& c) {
      // y[2k + h]: the window in register k, columns [c.j + 8h, c.j + 8h + 8); all but register
      // n - 1 are open between groups.
      __m512d y[2 * kN];
      Unrolled([&](auto kc) {
        constexpr size_t k = decltype(kc)::value;
        y[k] = !first && k < 2 * (kN - 1) ? _mm512_load_pd(st + 8 * k) : _mm512_setzero_pd();
      }, std::make_index_sequence<2 * kN>{});
      Unrolled([&](auto ic) {
        constexpr size_t i = decltype(ic)::value;
        if (kEdge && i >= rows) return;
        Step<kN, kTrunc, kEdge, i>(y, rows_[i], c, col_gamma, kEdge && first && i == 0, stage_ + 16 * i);
      }, std::make_index_sequence<K>{});
      // The outputs go out after the chunk's last load: a store to row s followed by loads at the
      // same columns of rows below would alias them in the low 12 address bits whenever a row is a
      // multiple of 4 KiB (N = 1024, 4096, ...), and those loads would wait on it (~25% slower).
      for (size_t i = kEdge ? quiet : 0; i < (kEdge ? rows : K); ++i) {
        const __m512 out = _mm512_load_ps(stage_ + 16 * i);
        float* o = rows_[i].out + c.j;
        switch (c.store) {
          case kStream: _mm512_stream_ps(o, out); break;
          case kStreamUnaligned: simd::Store16(o, out, true); break;
          case kPlain: _mm512_storeu_ps(o, out); break;
          case kMasked: _mm512_mask_storeu_ps(o, c.lanes, out); break;
        }
      }
      if (save) {
        Unrolled([&](auto kc) {
          constexpr size_t k = decltype(kc)::value;
          _mm512_store_pd(st + 8 * k, y[k]);
        }, std::make_index_sequence<2 * (kN - 1)>{});
      }
      st += 16 * (kN - 1);
    };
    // Past the task's last column, prefetch from the start of the rows K below (the next group).
    const ptrdiff_t wrap = static_cast<ptrdiff_t>(c0_) - static_cast<ptrdiff_t>(c1_) - static_cast<ptrdiff_t>(K * p_.N);
    auto ahead = [&](size_t j) {
      const size_t f = j + kAheadColumns;
      return static_cast<ptrdiff_t>(f) + (f < c1_ ? 0 : wrap);
    };
    if (head_ > 0) chunk({c0_, static_cast<__mmask16>((1u << head_) - 1), kMasked, ahead(c0_)});
    for (size_t j = c0_ + head_; j < full_end; j += 16) chunk({j, 0xffff, full, ahead(j)});
    if (full_end < c1_) chunk({full_end, static_cast<__mmask16>((1u << (c1_ - full_end)) - 1), kMasked, ahead(full_end)});
  }

  // Step i of a group for chunk c: opens the window in register (i - 1) mod n, updates the
  // others, and puts the one in register i mod n (which closes) in `stage`. init: every window
  // opens here (the task's first step).
  template <size_t kN, bool kTrunc, bool kEdge, size_t i>
  static void Step(__m512d (&y)[2 * kN], const Row& row, const Chunk& c, bool col_gamma, bool init, float* stage) {
    constexpr size_t kClose = i % kN, kOpen = (i + kN - 1) % kN;
    const size_t j = c.j;
    const __mmask16 lanes = c.lanes;
    const __m128i tf = _mm_maskz_loadu_epi8(lanes, row.term + j);
    const __mmask16 term = _mm_test_epi8_mask(tf, tf);
    __mmask16 cut = term;
    __mmask16 trunc = 0;
    if (kTrunc) {
      const __m128i uf = _mm_maskz_loadu_epi8(lanes, row.trunc + j);
      trunc = _mm_test_epi8_mask(uf, uf);
      cut |= trunc;
    }
    // Halves of 8 columns, widened straight from memory.
    __m512d R[2], E[2], G[2];
    Unrolled([&](auto hc) {
      constexpr int h = decltype(hc)::value;
      const __mmask8 live = Half(lanes, h);
      R[h] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(live, row.r + j + 8 * h));
      __m256 boot = _mm256_maskz_loadu_ps(live, row.next + j + 8 * h);
      if (kTrunc) boot = _mm256_mask_blend_ps(Half(trunc, h), boot, _mm256_maskz_loadu_ps(live, row.fin + j + 8 * h));
      E[h] = _mm512_cvtps_pd(_mm256_maskz_mov_ps(static_cast<__mmask8>(~Half(term, h)), boot));
      G[h] = col_gamma ? _mm512_cvtps_pd(_mm256_maskz_loadu_ps(live, row.g + j + 8 * h)) : _mm512_set1_pd(row.gs);
    }, std::make_index_sequence<2>{});
    {  // the inputs kAheadColumns on (in the next group's rows past the task's last column)
      const ptrdiff_t f = c.ahead;
      PrefetchAt(row.r, 4 * f + 60);
      PrefetchAt(row.next, 4 * f + 60);
      PrefetchFlags16(row.term, f);
      if (kTrunc) PrefetchAt(row.fin, 4 * f + 60), PrefetchFlags16(row.trunc, f);
      if (col_gamma) PrefetchAt(row.g, 4 * f + 60);
    }
    Unrolled([&](auto kc) {
      constexpr size_t k = decltype(kc)::value / 2, h = decltype(kc)::value % 2;
      __m512d x = E[h];
      if (k != kOpen && !(kEdge && init)) x = _mm512_mask_mov_pd(y[2 * k + h], Half(cut, h), E[h]);
      y[2 * k + h] = _mm512_fmadd_pd(G[h], x, R[h]);
    }, std::make_index_sequence<2 * kN>{});
    _mm256_store_ps(stage, _mm512_cvtpd_ps(y[2 * kClose])), _mm256_store_ps(stage + 8, _mm512_cvtpd_ps(y[2 * kClose + 1]));
  }

  const NstepReturnsProblem& p_;
  size_t c0_, c1_;
  double* state_;
  const float* zeros_;
  const uint8_t* no_flags_;
  bool stream_, col_gamma_;
  size_t head_ = 0;  // columns of the first chunk when it aligns the others' output
  Row rows_[kMaxGroupRows];
  alignas(64) float stage_[16 * kMaxGroupRows];  // a chunk's outputs, one row of 16 per step
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
// O(n) per element, so for n <= kNarrowSteps only: in batches without episode ends, 1M elements
// and N = 1, 2, 4, 7 (no AVX-512, one run, 2 threads) the blocks were 2.9, 1.8, 1.6, 1.2x slower
// at n = 8, 1.7, 1.2, 0.8, 0.8x at n = 16 and 0.8, 0.6, 0.5, 0.45x at n = 32.
constexpr size_t kNarrowSteps = 16;

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
// One column (N = 1) with n <= kDirectSteps: 8 consecutive windows per float64 vector (lane i:
// G_{t+i}), each summed by the Horner update of NstepWindows16 from its last step. Window t + i
// needs steps [t + i, t + i + n), all within the vectors of steps [t, t + 8) and [t + 8, t + 16):
// step k of every lane is the pair shifted down by k lanes (valignq), so each step's inputs are
// loaded and widened once, and nothing goes through memory. The windows that reach the last 8 + n
// steps, and those of a task's steps that do not fill a vector, go to NstepNarrow, and which ones
// those are depends on t alone (tasks start at multiples of 8): results do not depend on the
// thread count. (Replaces NstepColumn8 for such n: 1.5-1.7x faster, one thread.)

// Lanes of `live` whose flag byte (of 8 at p) is nonzero.
inline __mmask8 Flags8(const uint8_t* p, __mmask8 live) {
  const __m128i x = _mm_maskz_loadu_epi8(live, p);
  return static_cast<__mmask8>(_mm_test_epi8_mask(x, x));
}

template <size_t kN, bool kTrunc, bool kStepGamma>
class NstepColumnShift {
 public:
  explicit NstepColumnShift(const NstepReturnsProblem& p) : p_(p) {}

  // Returns of steps [t0, t1), t0 a multiple of 8, in vectors while every window of the vector
  // ends at least one step clear of the batch end; returns where the scalar rest starts.
  size_t Run(size_t t0, size_t t1, bool stream) const {
    const size_t T = p_.T;
    size_t t = t0;
    if (t + 8 + kN > T || t + 8 > t1) return t;
    Steps8 cur = Load(t, 0xff);
    const __m512d gs = _mm512_set1_pd(p_.gamma.scalar);
    for (; t + 8 + kN <= T && t + 8 <= t1; t += 8) {
      // Lanes of steps [t + 8, t + 16) before T - 1 (the windows read no later step).
      const size_t s = t + 8;
      const __mmask8 live = s + 9 <= T ? 0xff : static_cast<__mmask8>((1u << (T - 1 - s)) - 1);
      const Steps8 nxt = Load(s, live);
      const uint32_t cut = cur.cut | static_cast<uint32_t>(nxt.cut) << 8;
      auto at = [&](const __m512d& lo, const __m512d& hi, auto kc) {
        constexpr int k = decltype(kc)::value;
        if constexpr (k == 0) return lo;
        else return _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), k));
      };
      __m512d y = _mm512_setzero_pd();
      Unrolled([&](auto ic) {
        constexpr int k = static_cast<int>(kN) - 1 - static_cast<int>(decltype(ic)::value);  // k = n - 1, …, 0
        const std::integral_constant<int, k> kc;
        const __m512d e = at(cur.e, nxt.e, kc), r = at(cur.r, nxt.r, kc);
        const __m512d g = kStepGamma ? at(cur.g, nxt.g, kc) : gs;
        const __m512d x = k + 1 == static_cast<int>(kN) ? e : _mm512_mask_mov_pd(y, static_cast<__mmask8>(cut >> k), e);
        y = _mm512_fmadd_pd(g, x, r);
      }, std::make_index_sequence<kN>{});
      simd::Store8(p_.returns + t, _mm512_cvtpd_ps(y), stream);
      cur = nxt;
    }
    return t;
  }

 private:
  struct Steps8 {
    __m512d r, e, g;
    __mmask8 cut;
  };

  // Inputs of steps [s, s + 8) (lanes outside `live` read as 0).
  Steps8 Load(size_t s, __mmask8 live) const {
    const NstepReturnsProblem& p = p_;
    const __mmask8 term = p.terminated ? Flags8(p.terminated + s, live) : 0;
    __m256 boot = _mm256_maskz_loadu_ps(live, p.next_values ? p.next_values + s : p.values + s + 1);
    __mmask8 cut = term;
    if (kTrunc) {
      const __mmask8 trunc = Flags8(p.truncated + s, live);
      if (p.final_values && !p.next_values) boot = _mm256_mask_blend_ps(trunc, boot, _mm256_maskz_loadu_ps(live, p.final_values + s));
      cut |= trunc;
    }
    const __m256 g = kStepGamma ? _mm256_maskz_loadu_ps(live, p.gamma.values + s * p.gamma.stride_t) : _mm256_setzero_ps();
    return {_mm512_cvtps_pd(_mm256_maskz_loadu_ps(live, p.rewards + s)),
            _mm512_cvtps_pd(_mm256_maskz_mov_ps(static_cast<__mmask8>(~term), boot)), _mm512_cvtps_pd(g), cut};
  }

  const NstepReturnsProblem& p_;
};

// Returns of steps [t0, t1) of a one-column batch (t0 a multiple of 8) with n <= kDirectSteps.
void NstepColumnShiftRun(const NstepReturnsProblem& p, size_t t0, size_t t1, bool stream) {
  const bool trunc = p.truncated != nullptr, step_gamma = p.gamma.values != nullptr;
  size_t t = t0;
  switch (p.n) {
#define RLCORE_NSTEP_N(K)                                                                                 \
  case K:                                                                                                 \
    t = trunc ? (step_gamma ? NstepColumnShift<K, true, true>(p).Run(t0, t1, stream)                      \
                            : NstepColumnShift<K, true, false>(p).Run(t0, t1, stream))                    \
              : (step_gamma ? NstepColumnShift<K, false, true>(p).Run(t0, t1, stream)                     \
                            : NstepColumnShift<K, false, false>(p).Run(t0, t1, stream));                  \
    break;
    RLCORE_NSTEP_N(1) RLCORE_NSTEP_N(2) RLCORE_NSTEP_N(3) RLCORE_NSTEP_N(4)
    RLCORE_NSTEP_N(5) RLCORE_NSTEP_N(6) RLCORE_NSTEP_N(7) RLCORE_NSTEP_N(8)
#undef RLCORE_NSTEP_N
    default:
      break;
  }
  simd::Fence(stream);
  NstepNarrow(p, t, t1);
}
#endif

#if RLCORE_SCAN_SIMD
// One column (N = 1): its steps are contiguous, so 8 consecutive windows share one float64
// vector (lane i: G_{t+i}). The maps h_s are built once per step into an L1 buffer (one step
// per double, as MapOf), and each window sums its n maps directly from unaligned loads at
// t + k: O(n) per element like NstepNarrow, which it replaces for n <= kColumnSteps (above, the
// blocks: 2.5x slower at n = 64, T = 1M), but branch-free and 8 windows at a time (measured ~8x
// faster at T = 1M, n = 5, one thread).
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

// Columns per block group: the prefixes of a block (len w doubles, kPrefixDoubles) stay within
// 256 KiB, so NstepRows16's two buffers within 512 KiB; past len = kPrefixDoubles (w = 1)
// NstepBlocks keeps them in pieces of that size. With AVX-512 a group may span whole rows (long
// contiguous runs for the prefetchers), run in panels of kPanelColumns whose per-column state
// lives in the task's scratch too; the scalar loop keeps its state on the stack for at most
// kScanColumns columns (plus the fewer than 16 left over by the panels).
size_t GroupWidth(size_t len, size_t N) {
  size_t w = kPrefixDoubles / len;
  if (!RLCORE_SCAN_SIMD) w = std::min(kScanColumns, w);
  w = w >= 16 ? w / 16 * 16 : std::max<size_t>(w, 1);
  return std::min(w, N);
}

double* AlignUp64(double* p) {
  return reinterpret_cast<double*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

// Columns of a group that run 16 at a time (NstepRows16); NstepBlocks takes the rest.
size_t Wide(size_t w) { return RLCORE_SCAN_SIMD ? w / 16 * 16 : 0; }

// Scratch doubles of a group of w columns: NstepRows16's two prefix buffers and state, then
// NstepBlocks' scratch.
size_t GroupDoubles(size_t len, size_t w) {
  const size_t w16 = Wide(w);
  size_t d = w > w16 ? NstepBlocks::ScratchDoubles(len, w - w16) : 0;
#if RLCORE_SCAN_SIMD
  if (w16 > 0) d += 2 * len * w16 + NstepRows16::StateDoubles(std::min(w16, kPanelColumns));
#endif
  return d;
}

// Returns of columns [n0, n0 + w), blocks [b0, b1); buf: GroupDoubles(len, w) doubles.
void RunGroup(const NstepReturnsProblem& p, size_t n0, size_t w, size_t b0, size_t b1, double* buf, bool stream) {
  const size_t w16 = Wide(w);
#if RLCORE_SCAN_SIMD
  const size_t len = std::min(p.n, p.T);
  for (size_t j = 0; j < w16; j += kPanelColumns) {
    const size_t pw = std::min(kPanelColumns, w16 - j);
    NstepRows16(p, n0 + j, pw, buf, buf + len * pw, buf + 2 * len * w16, stream).Run(b0, b1);
  }
  if (w16 > 0) buf += 2 * len * w16 + NstepRows16::StateDoubles(std::min(w16, kPanelColumns));
#endif
  (void)stream;
  if (w > w16) NstepBlocks(p, n0 + w16, w - w16, buf).Run(b0, b1);
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
// NstepWindows16 over blocks of about T / (8 threads) steps (whole rows: runs of columns shorter
// than a few KiB read memory markedly slower), or of columns when there are too few steps; no
// result depends on the split. Measured at T = 2048, N = 4096, n = 5 on 2 threads (quiet machine,
// interleaved): blocks of 128 rows 1.6-1.8 G elements/s, two fixed halves of the columns 1.76,
// column blocks of 512 (128) columns 1.3 (0.6); under load the shared ticket keeps both threads busy.
void NstepWindows(const NstepReturnsProblem& p) {
  const size_t threads = p.T * p.N < (size_t{1} << 15) ? 1 : static_cast<size_t>(NumThreads());
  const size_t chunks = (p.N + 15) / 16;
  const size_t min_rows = 64;
  const bool by_columns = p.T < 2 * min_rows * threads;
  const size_t per_block = by_columns ? std::max<size_t>(1, chunks / (4 * threads)) : std::max(p.T / (8 * threads), min_rows);
  const size_t blocks = threads == 1 ? 1 : ((by_columns ? chunks : p.T) + per_block - 1) / per_block;
  const size_t w = blocks > 1 && by_columns ? per_block * 16 : p.N;
  const size_t workers = std::min(blocks, threads);
  // Per worker the open windows; then a row of zeros standing for v' = 0 after the batch end and
  // one for absent flags (allocated here: nothing throws inside ParallelFor).
  const size_t per_thread = (NstepWindows16::StateDoubles(w, p.n) + 7) / 8 * 8;
  const size_t zero_doubles = (p.N + 1) / 2 + (p.N + 7) / 8 + 8;
  thread_local std::vector<double> scratch_buf;
  scratch_buf.resize(workers * per_thread + zero_doubles + 8);
  double* const scratch = AlignUp64(scratch_buf.data());
  double* const zero_area = scratch + workers * per_thread;
  std::fill(zero_area, zero_area + zero_doubles, 0.0);
  const float* zeros = reinterpret_cast<const float*>(zero_area);
  const uint8_t* no_flags = reinterpret_cast<const uint8_t*>(zero_area + (p.N + 1) / 2);
  const bool stream = p.T * p.N >= simd::kStreamElements;
  ParallelClaim(workers, blocks, [&](size_t q, size_t b) {  // blocks claimed in turn (thread_pool.h)
    double* state = scratch + q * per_thread;
    if (blocks == 1) {
      NstepWindows16(p, 0, p.N, state, zeros, no_flags, stream).Run(0, p.T);
    } else if (by_columns) {
      const size_t c0 = b * per_block * 16, c1 = std::min(p.N, c0 + per_block * 16);
      NstepWindows16(p, c0, c1, state, zeros, no_flags, stream).Run(0, p.T);
    } else {
      NstepWindows16(p, 0, p.N, state, zeros, no_flags, stream).Run(b * per_block, std::min(p.T, (b + 1) * per_block));
    }
  });
}
#endif

}  // namespace

void NstepReturnsCpu(const NstepReturnsProblem& p) {
  if (p.T == 0 || p.N == 0) return;
#if RLCORE_SCAN_SIMD
  if (p.N == 1 && p.n <= kColumnSteps) {
    // Blocks start at multiples of 8 steps, so each step's path does not depend on the split.
    const size_t threads = p.T < (size_t{1} << 15) ? 1 : static_cast<size_t>(NumThreads());
    const size_t per_block = std::max<size_t>(size_t{1} << 13, (p.T / (8 * threads) + 7) / 8 * 8);
    const size_t blocks = (p.T + per_block - 1) / per_block;
    const bool stream = p.T >= simd::kStreamElements;
    ParallelClaim(threads, blocks, [&p, per_block, stream](size_t, size_t b) {
      const size_t t0 = b * per_block, t1 = std::min(p.T, t0 + per_block);
      if (p.n <= kDirectSteps) NstepColumnShiftRun(p, t0, t1, stream);
      else NstepNarrow(p, NstepColumn8(p).Run(t0, t1), t1);
    });
    return;
  }
  if (p.n <= kDirectSteps && p.N >= 16) {
    NstepWindows(p);
    return;
  }
#endif
  // Few columns (scan.h's threshold for one-column paths) and short windows; longer ones (and one
  // column with n > kColumnSteps) go to the blocks, O(T·N) whatever n.
  if (p.N < kNarrowColumns && p.n <= kNarrowSteps) {
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
  // about 650 KiB per task, plus NstepBlocks' marks past len = kPrefixDoubles (24 bytes per
  // kPrefixDoubles steps). A multiple of 8 doubles, so every task's buffer starts on a cache line.
  const size_t last_w = p.N - (groups - 1) * w;
  const size_t per_task = (std::max(GroupDoubles(len, w), GroupDoubles(len, last_w)) + 7) / 8 * 8;
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
