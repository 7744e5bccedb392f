// n-step bootstrapped returns (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement
// Learning", arXiv:1602.01783; rlax `n_step_bootstrapped_returns`), with Gymnasium's split of
// episode ends into termination and truncation:
//
//   G_t = Σ_{k<m} Γ_{t,k} r_{t+k} + Γ_{t,m} (1 - term_{t+m-1}) v'_{t+m-1},   Γ_{t,k} = Π_{j<k} γ_{t+j}
//
// where m = min(n, steps up to and including the first episode end at or after t, T - t) and
// v' is gae's next value (values[t+1], lastValues after the last step, V(final observation) at a
// truncated step, or nextValues). Each G_t is its own window of at most n steps; the windows are
// composed from per-block prefix and suffix maps (see NstepBlocks): O(T·N) whatever n. Batches of
// fewer than 8 columns sum each window directly (NstepNarrow, O(T·N·n)).
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
// NstepBlocks over 16 columns at a time by hand (see simd_scan.h for why not the vectoriser):
// for each block, each 16-column strip runs the forward (prefix) pass and then the reverse
// (suffix) pass with its A, C and cut state in registers; the strip's rows are read from memory
// once and hit L1 the second time. Same maps as StepMap: a and the window cut by masks.
class NstepBlocks16 {
 public:
  // Columns [n0, n0 + w16), w16 a multiple of 16; q_cur, q_next: len * w16 doubles each.
  NstepBlocks16(const NstepReturnsProblem& p, size_t n0, size_t w16, double* q_cur, double* q_next, bool stream)
      : p_(p), n0_(n0), w_(w16), len_(std::min(p.n, p.T)), q_cur_(q_cur), q_next_(q_next), stream_(stream) {}

  void Run(size_t b0, size_t b1) {
    const size_t blocks = (p_.T + len_ - 1) / len_;
    size_t next_len = 0;
    if (b1 < blocks) {
      for (size_t j = 0; j < w_; j += 16) Prefix(b1, j);
      next_len = std::min(p_.T, (b1 + 1) * len_) - b1 * len_;
      std::swap(q_cur_, q_next_);
    }
    for (size_t b = b1; b-- > b0;) {  // q_next_: the prefixes of block b + 1
      for (size_t j = 0; j < w_; j += 16) {
        Prefix(b, j);
        Suffix(b, j, next_len);
      }
      next_len = std::min(p_.T, (b + 1) * len_) - b * len_;
      std::swap(q_cur_, q_next_);
    }
    simd::Fence(stream_);
  }

 private:
  struct Map16 {
    __m512d a[2], c[2], boot[2];
    __mmask16 cut;
  };

  // h_s of columns [n, n + 16) (n relative to the batch), as MapOf.
  Map16 MapAt(size_t s, size_t n) const {
    const bootstrap::Rows v = bootstrap::At(p_.T, p_.N, s, n, p_.values, p_.next_values, p_.last_values, p_.final_values);
    const __mmask16 term = simd::Set16(bootstrap::Flags(p_.terminated, p_.N, s, n));
    const __mmask16 trunc = simd::Set16(bootstrap::Flags(p_.truncated, p_.N, s, n));
    const __m512 r = _mm512_loadu_ps(p_.rewards + s * p_.N + n), g = simd::Param16(p_.gamma, s, n);
    const __m512 boot = _mm512_mask_blend_ps(trunc, _mm512_loadu_ps(v.next), _mm512_loadu_ps(v.final_obs));
    const __m512 boot_end = _mm512_maskz_mov_ps(static_cast<__mmask16>(~term), boot);
    Map16 m;
    m.cut = term | trunc;
    m.c[0] = simd::LowHalf(g), m.c[1] = simd::HighHalf(g);
    m.boot[0] = simd::LowHalf(boot), m.boot[1] = simd::HighHalf(boot);
    const __m512d r0 = simd::LowHalf(r), r1 = simd::HighHalf(r);
    m.a[0] = _mm512_mask_mov_pd(r0, Half(m.cut, 0), _mm512_fmadd_pd(m.c[0], simd::LowHalf(boot_end), r0));
    m.a[1] = _mm512_mask_mov_pd(r1, Half(m.cut, 1), _mm512_fmadd_pd(m.c[1], simd::HighHalf(boot_end), r1));
    return m;
  }
  static __mmask8 Half(__mmask16 m, int h) { return static_cast<__mmask8>(h ? m >> 8 : m); }

  // Forward pass over block b, strip j: q_cur_[k][j] = (h_B ∘ … ∘ h_{B+k})(v'_{B+k}).
  void Prefix(size_t b, size_t j) {
    const size_t B = b * len_, E = std::min(p_.T, B + len_);
    __m512d A[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()}, C[2] = {_mm512_set1_pd(1.0), _mm512_set1_pd(1.0)};
    __mmask16 cut = 0;
    for (size_t u = B; u < E; ++u) {
      const Map16 m = MapAt(u, n0_ + j);
      double* q = q_cur_ + (u - B) * w_ + j;
      for (int h = 0; h < 2; ++h) {
        A[h] = _mm512_mask_mov_pd(_mm512_fmadd_pd(C[h], m.a[h], A[h]), Half(cut, h), A[h]);
        C[h] = _mm512_mul_pd(C[h], m.c[h]);
      }
      cut |= m.cut;
      for (int h = 0; h < 2; ++h)
        _mm512_storeu_pd(q + 8 * h, _mm512_mask_mov_pd(_mm512_fmadd_pd(C[h], m.boot[h], A[h]), Half(cut, h), A[h]));
    }
  }

  // Reverse pass over block b, strip j, as NstepBlocks::Suffix.
  void Suffix(size_t b, size_t j, size_t next_len) {
    const size_t N = p_.N, B = b * len_, E = std::min(p_.T, B + len_);
    __m512d A[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()}, C[2] = {_mm512_set1_pd(1.0), _mm512_set1_pd(1.0)};
    __m512d boot_end[2] = {A[0], A[0]};
    __mmask16 cut = 0;
    for (size_t t = E; t-- > B;) {
      const Map16 m = MapAt(t, n0_ + j);
      if (t == E - 1) boot_end[0] = m.boot[0], boot_end[1] = m.boot[1];
      const size_t k = t - B;
      const bool own_end = k == 0 || next_len == 0;
      const double* x = q_next_ + (own_end ? 0 : std::min(k - 1, next_len - 1) * w_) + j;
      for (int h = 0; h < 2; ++h) {
        A[h] = _mm512_mask_mov_pd(_mm512_fmadd_pd(m.c[h], A[h], m.a[h]), Half(m.cut, h), m.a[h]);
        C[h] = _mm512_mul_pd(C[h], m.c[h]);
      }
      cut |= m.cut;
      __m512d out[2];
      for (int h = 0; h < 2; ++h) {
        const __m512d xh = own_end ? boot_end[h] : _mm512_loadu_pd(x + 8 * h);
        out[h] = _mm512_mask_mov_pd(_mm512_fmadd_pd(C[h], xh, A[h]), Half(cut, h), A[h]);
      }
      simd::Store16(p_.returns + t * N + n0_ + j, simd::Narrow(out[0], out[1]), stream_);
    }
  }

  const NstepReturnsProblem& p_;
  size_t n0_, w_, len_;
  double* q_cur_;
  double* q_next_;
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

// Columns per block group: the two prefix buffers (2 n w doubles) stay within about 512 KiB.
// The 16-column strips keep no per-column state outside those buffers, so with AVX-512 a group
// may span whole rows (long contiguous runs for the prefetchers); the scalar loop keeps its
// state for at most kScanColumns columns (plus the fewer than 16 left over by the strips).
size_t GroupWidth(size_t len, size_t N) {
  size_t w = (size_t{1} << 15) / len;
  if (!RLCORE_SCAN_SIMD) w = std::min(kScanColumns, w);
  w = w >= 16 ? w / 16 * 16 : std::max<size_t>(w, 1);
  return std::min(w, N);
}

// Returns of columns [n0, n0 + w), blocks [b0, b1); buf: 2 len w doubles.
void RunGroup(const NstepReturnsProblem& p, size_t n0, size_t w, size_t b0, size_t b1, double* buf, bool stream) {
  const size_t len = std::min(p.n, p.T);
  size_t w16 = 0;
#if RLCORE_SCAN_SIMD
  w16 = w / 16 * 16;
  if (w16 > 0) NstepBlocks16(p, n0, w16, buf, buf + len * w16, stream).Run(b0, b1);
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

}  // namespace

void NstepReturnsCpu(const NstepReturnsProblem& p) {
  if (p.T == 0 || p.N == 0) return;
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
  // about 512 KiB per task.
  thread_local std::vector<double> scratch_buf;  // the pool threads use it through `scratch`
  scratch_buf.resize(tasks * 2 * len * w);
  double* const scratch = scratch_buf.data();
  const bool stream = p.T * p.N >= simd::kStreamElements;
  ParallelFor(tasks, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      double* buf = scratch + q * 2 * len * w;
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
