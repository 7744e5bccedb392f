// V-trace (Espeholt et al. 2018, "IMPALA: Scalable Distributed Deep-RL with Importance Weighted
// Actor-Learner Architectures", arXiv:1802.01561; rlax `vtrace_td_error_and_advantage`), with
// Gymnasium's split of episode ends into termination and truncation:
//
//   ρ_t  = min(ρ̄, e^{logρ_t}),   c_t = λ_t min(c̄, e^{logρ_t})
//   δ_t  = ρ_t (r_t + γ_t (1 - term_t) v'_t - V(s_t))           (v' as in gae)
//   v_t - V(s_t) = δ_t + γ_t (1 - done_t) c_t (v_{t+1} - V(s_{t+1})),   zero after step T-1
//   pg_t = min(ρ̄_pg, e^{logρ_t}) (r_t + γ_t (1 - term_t) ṽ_{t+1} - V(s_t))
//
// with ṽ_{t+1} = v_{t+1} inside an episode and v'_t at an episode end or the last step.
// vs comes from the reverse scan (scan.h); pgAdvantages are written in the same pass, since pg_t
// needs only v_{t+1}, which the reverse scan has produced just before step t.
//
// Episode isolation: the (1 - term) and (1 - done) factors are selects, not products, so NaN or
// Inf in a later episode never reaches an earlier one: at a terminated step v'_t is not read
// (δ_t = ρ_t (r_t - V(s_t))), and at every episode end c_t = 0 exactly (even for a NaN ratio),
// where the scan sets v_t - V(s_t) = δ_t by a select (scan.h). Within an episode, NaN and Inf
// propagate as IEEE arithmetic does.
//
// Precision: the ratios e^{logρ} are computed in float32 (ExpF or RatioExp16, relative error
// < 2e-7; before 2026-11 in float64; 0 below -87.34), as are the AVX-512 paths' δ and γ λ c (ρ δ
// is formed in float64 on the 16-column path). The recurrence accumulates in float64, except on
// the one-column path (VtraceOneColumn), which sums blocks of 16 steps in float32 (ρ δ too) and
// carries the value from block to block in float64.
#include "vtrace.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>

#include "bootstrap_args.h"
#include "../core/scan.h"
#include "../core/select.h"
#include "../core/thread_pool.h"
#include "../dist/fastmath.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

constexpr float kRatioExpMin = -87.33654f;  // ExpF's lower clamp: e^x = 2^-126 there

// min(clip, x) that lets a NaN x through (an unclipped NaN ratio must not look like ρ̄).
inline float ClipRatio(float x, float clip) { return clip < x ? clip : x; }

// e^{logρ} in float32: ExpF (fastmath.h, relative error ~1e-7), branch-free so the loops
// vectorise, with exact edges: NaN passes through, +Inf above 88 (so a huge ratio is clipped to
// any threshold <= FLT_MAX), and 0 below -87.34 (a ratio under FLT_MIN, e^{-Inf} included, is
// 0, so that c = 0 there, where the scan cuts, as it does at an exact 0).
inline float RatioExp(float x) {
  const bool nan = !(x == x);
  const float e = ExpF(nan ? 0.f : x);
  return nan ? x : x > 88.f ? std::numeric_limits<float>::infinity() : x < kRatioExpMin ? 0.f : e;
}

constexpr size_t kRatioBlock = 256;  // steps whose ratios the one-column paths compute at once

// e^{logρ} for one row.
inline void Ratios(const float* __restrict log_rho, size_t w, float* __restrict out) {
  for (size_t j = 0; j < w; ++j) out[j] = RatioExp(log_rho[j]);
}

#if RLCORE_SCAN_SIMD
/// RatioExp on 16 floats: x = (16 m + k) ln2/16 + r with |r| <= ln2/32, so that
/// e^x = 2^m 2^{k/16} e^r, 2^{k/16} from a table of 16 (one permute) and e^r by its Taylor
/// polynomial of degree 3 (error r^4/24 < 1e-8): relative error < 2e-7 (ExpF: ~1.2e-7), in fewer
/// operations than ExpF's polynomial on 16 lanes (the one-column scan is bounded by arithmetic). The same edges.
[[gnu::always_inline]] inline __m512 RatioExp16(const __m512 x) {
  // Lanes outside [kRatioExpMin, 88] are replaced at the end (whatever the steps below give there).
  const __mmask16 big = _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.f), _CMP_GT_OQ);
  const __mmask16 in = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kRatioExpMin), _CMP_NLT_UQ);  // NaN too
  // v = n + 1.5 2^23 with n = round(x 16/ln2) = 16 m + k: its low bits hold n (two's complement).
  const __m512 magic = _mm512_set1_ps(12582912.f);
  const __m512 v = _mm512_fmadd_ps(x, _mm512_set1_ps(23.0831203f), magic);
  const __m512 n = _mm512_sub_ps(v, magic);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.0433216989f), x);  // ln2/16 in two parts
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-1.19040888e-10f), r);
  const __m512 one = _mm512_set1_ps(1.f);
  __m512 e = _mm512_fmadd_ps(_mm512_set1_ps(1.f / 6), r, _mm512_set1_ps(0.5f));
  e = _mm512_fmadd_ps(_mm512_fmadd_ps(e, r, one), r, one);
  // 2^m 2^{k/16}: entry k (the float bits of 2^{k/16} less k << 19, the permute reads k from the
  // low 4 bits of v) plus v << 19 = (16 m + k) << 19, which adds m to the exponent.
  const __m512i table = _mm512_set_epi32(0x3f7d257d, 0x3f7ac0c7, 0x3f78ccdf, 0x3f7744fd, 0x3f76248c, 0x3f75672a, 0x3f7508a4,
                                         0x3f7504f3, 0x3f75583f, 0x3f75fed7, 0x3f76f532, 0x3f7837f0, 0x3f79c3d3, 0x3f7b95c2,
                                         0x3f7daac3, 0x3f800000);
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i scale = _mm512_add_epi32(_mm512_permutexvar_epi32(bits, table), _mm512_slli_epi32(bits, 19));
  return _mm512_mask_mov_ps(_mm512_maskz_mul_ps(in, e, _mm512_castsi512_ps(scale)), big, _mm512_set1_ps(__builtin_inff()));
}
#endif

// The scan of vs (scan.h) with pgAdvantages fused into its writing passes: pg_t reads vs_{t+1},
// which the reverse scan has produced just before step t (the time-chunked scan starts each
// chunk from the target at its end, so a chunk's last row has it too).
struct VtraceScan {
  VtraceProblem p;  // by value: see ScanRows16 in simd_scan.h
  double Boundary(size_t) const { return 0.0; }

  template <bool kWrite>
  void Rows(size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, double* s1) const {
    const size_t N = p.N, w = n1 - n0;
    float gbuf[kScanColumns], lbuf[kScanColumns];
    alignas(64) float ratio[kScanColumns];
    const float clip_rho = p.clip_rho, clip_c = p.clip_c, clip_pg = p.clip_pg_rho;
    for (size_t t = t_hi; t-- > t_lo;) {
      const size_t row = t * N + n0;
      const float* __restrict r = p.rewards + row;
      const float* __restrict v = p.values + row;
      const uint8_t* __restrict term = bootstrap::Flags(p.terminated, N, t, n0);
      const uint8_t* __restrict trunc = bootstrap::Flags(p.truncated, N, t, n0);
      const bootstrap::Rows next = bootstrap::At(p.T, N, t, n0, p.values, p.next_values, p.last_values, p.final_values);
      const float* __restrict v_next = next.next;
      const float* __restrict v_final = next.final_obs;
      const float* __restrict g = p.gamma.Row(t, n0, w, gbuf);
      const float* __restrict l = p.lambda.Row(t, n0, w, lbuf);
      // ṽ_{t+1} of pg: vs_{t+1} = y_{t+1} + V(s_{t+1}) inside the batch (s0 holds y_{t+1}), else v'.
      const bool inside = t + 1 < p.T;
      const float* __restrict v_after = inside ? p.values + row + N : v_next;
      float* __restrict vs = p.vs + row;
      float* __restrict pg = p.pg_advantages + row;
      Ratios(p.log_rhos + row, w, ratio);
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        // Selects, not products with 0 (see the top): v' is not read at a termination, c = 0 at an end.
        const float boot = Select(term[j], 0.f, Select(trunc[j], v_final[j], v_next[j]));
        const uint8_t done = term[j] | trunc[j];
        const double td = static_cast<double>(r[j]) + static_cast<double>(g[j]) * boot - static_cast<double>(v[j]);
        const double a = static_cast<double>(ClipRatio(ratio[j], clip_rho)) * td;
        const double c = static_cast<double>(Select(done, 0.f, g[j] * l[j])) * Select(done, 0.f, ClipRatio(ratio[j], clip_c));
        if constexpr (kWrite) {
          const float vs_next = inside ? static_cast<float>(s0[j] + v_after[j]) : v_after[j];
          const float boot_pg = Select(term[j], 0.f, Select(trunc[j], v_final[j], vs_next));
          const double target = static_cast<double>(r[j]) + static_cast<double>(g[j]) * boot_pg;
          pg[j] = static_cast<float>(ClipRatio(ratio[j], clip_pg) * (target - v[j]));
        }
        const double y = ScanApply<kWrite>(a, c, s0, s1, j);
        if constexpr (kWrite) vs[j] = static_cast<float>(y + v[j]);
      }
    }
  }

#if RLCORE_SCAN_SIMD
  // What the 16-column and 8-step writes need besides a and c (float32, like the inputs).
  // a = ρ δ is formed in float64: ρ <= ρ̄ may be near FLT_MAX.
  struct Coefs16Pg : simd::Coefs16 {
    __m512 r, v, g, rho_pg;  // r_t, V(s_t), γ_t, min(ρ̄_pg, e^{logρ_t})
    __m512 boot, v_after;   // v'_t (gae's next value) and V(s_{t+1}) (zero after the last step)
    __mmask16 live, use_vs;  // not terminated; ṽ_{t+1} = vs_{t+1} (inside an episode and the batch)
  };

  // Rows<true> for 16 columns [n, n + 16) of step t (simd_scan.h): coefficients in float32 (the
  // scan itself in float64), the ratios by RatioExp16.
  Coefs16Pg Coefs16(size_t t, size_t n) const {
    const size_t i = t * p.N + n;
    const bool inside = t + 1 < p.T;
    const __mmask16 term = p.terminated ? simd::Set16(p.terminated + i) : 0;
    const __mmask16 trunc = p.truncated ? simd::Set16(p.truncated + i) : 0;
    const __m512 g = simd::Param16(p.gamma, t, n), v = _mm512_loadu_ps(p.values + i);
    const __m512 r = _mm512_loadu_ps(p.rewards + i);
    const __m512 v_after = inside ? _mm512_loadu_ps(p.values + i + p.N) : _mm512_setzero_ps();
    __m512 boot = p.next_values ? _mm512_loadu_ps(p.next_values + i)
                  : inside      ? v_after
                  : p.last_values ? _mm512_loadu_ps(p.last_values + n)
                                  : _mm512_setzero_ps();
    if (trunc && p.final_values && !p.next_values) boot = _mm512_mask_loadu_ps(boot, trunc, p.final_values + i);
    const __m512 ratio = RatioExp16(_mm512_loadu_ps(p.log_rhos + i));
    // _mm512_min_ps(clip, x) returns x when x is NaN, as ClipRatio.
    const __m512 rho = _mm512_min_ps(_mm512_set1_ps(p.clip_rho), ratio);
    const __m512 cc = _mm512_min_ps(_mm512_set1_ps(p.clip_c), ratio);
    const __m512 rho_pg = _mm512_min_ps(_mm512_set1_ps(p.clip_pg_rho), ratio);
    // Selects (see the top): r + γ v' only where not terminated, c = 0 at every episode end.
    const __mmask16 live = static_cast<__mmask16>(~term), cont = static_cast<__mmask16>(~(term | trunc));
    const __m512 td = _mm512_sub_ps(_mm512_mask3_fmadd_ps(g, boot, r, live), v);
    const __mmask16 use_vs = inside ? cont : 0;
    const __m512 c = _mm512_maskz_mul_ps(cont, _mm512_mul_ps(g, simd::Param16(p.lambda, t, n)), cc);
    return {{_mm512_mul_pd(simd::LowHalf(rho), simd::LowHalf(td)), _mm512_mul_pd(simd::HighHalf(rho), simd::HighHalf(td)),
             simd::LowHalf(c), simd::HighHalf(c)},
            r, v, g, rho_pg, boot, v_after, live, use_vs};
  }
  // The inputs Coefs16 reads at columns [n, n + 16) of step t (simd_scan.h, streaming row order).
  void Prefetch16(size_t t, size_t n) const {
    simd::PrefetchBootstrap16(p, t, n);
    simd::Prefetch16F(p.log_rhos + t * p.N + n);
  }
  void Write16(size_t t, size_t n, const Coefs16Pg& q, __m512 y, __m512 y_next, bool stream) const {
    const size_t i = t * p.N + n;
    simd::Store16(p.vs + i, _mm512_add_ps(y, q.v), stream);
    const __m512 vs_next = _mm512_add_ps(y_next, q.v_after);
    const __m512 boot = _mm512_maskz_mov_ps(q.live, _mm512_mask_mov_ps(q.boot, q.use_vs, vs_next));
    const __m512 adv = _mm512_sub_ps(_mm512_fmadd_ps(q.g, boot, q.r), q.v);
    simd::Store16(p.pg_advantages + i, _mm512_mul_ps(q.rho_pg, adv), stream);
  }
#endif

  // Single column n, steps [t_lo, t_hi): the narrow-batch path (few long sequences), same
  // arithmetic as Rows. The ratios of a block of steps are computed first, in a loop that
  // vectorises; the scalar recurrence then reads them.
  template <bool kWrite>
  void Column(size_t n, size_t t_lo, size_t t_hi, double* s0, double* s1) const {
    const size_t N = p.N;
    const float clip_rho = p.clip_rho, clip_c = p.clip_c, clip_pg = p.clip_pg_rho;
    double y = *s0, C = s1 ? *s1 : 1.0;
    const float last = p.last_values ? p.last_values[n] : 0.f;
    alignas(64) float ratio[kRatioBlock];
    for (size_t hi = t_hi; hi > t_lo;) {
      const size_t lo = hi - std::min(kRatioBlock, hi - t_lo);
      for (size_t t = lo; t < hi; ++t) ratio[t - lo] = RatioExp(p.log_rhos[t * N + n]);
      for (size_t t = hi; t-- > lo;) {
        const size_t i = t * N + n;
        const bool term = p.terminated && p.terminated[i];
        const bool trunc = p.truncated && p.truncated[i];
        float v_next = p.next_values ? p.next_values[i] : t + 1 < p.T ? p.values[i + N] : last;
        if (trunc && !p.next_values) v_next = p.final_values[i];
        if (term) v_next = 0.f;  // not read at a termination (see the top)
        const float g = p.gamma.At(t, n);
        const double td = static_cast<double>(p.rewards[i]) + static_cast<double>(g) * v_next - static_cast<double>(p.values[i]);
        const double a = static_cast<double>(ClipRatio(ratio[t - lo], clip_rho)) * td;
        const double c = (term || trunc) ? 0.0 : static_cast<double>(g * p.lambda.At(t, n)) * ClipRatio(ratio[t - lo], clip_c);
        if constexpr (kWrite) {
          // ṽ_{t+1}: vs_{t+1} inside an episode, else v'_t (0 after a termination).
          const float boot = !term && !trunc && t + 1 < p.T ? static_cast<float>(y + p.values[i + N]) : v_next;
          const double target = static_cast<double>(p.rewards[i]) + static_cast<double>(g) * boot;
          p.pg_advantages[i] = static_cast<float>(ClipRatio(ratio[t - lo], clip_pg) * (target - p.values[i]));
        }
        const double y_t = ScanApply<kWrite>(a, c, &y, &C, 0);
        if constexpr (kWrite) p.vs[i] = static_cast<float>(y_t + p.values[i]);
      }
      hi = lo;
    }
    *s0 = y;
    if constexpr (!kWrite) *s1 = C;
  }
};

#if RLCORE_SCAN_SIMD
// ---- One column (N = 1): 16 steps per vector ----
//
// A block of steps [b, b + 16) (lane i = step b + i) is composed in registers by doubling
// (Hillis & Steele 1986; Blelloch 1990 for first-order recurrences): starting from (x, C) = (a, c),
//   (x_i, C_i) <- (x_i + C_i x_{i+k}, C_i C_{i+k})   for k = 1, 2, 4, 8   (lanes past 15: (0, 1)),
// so that x_i = y_i with y_{b+16} = 0 and C_i = c_i ... c_15; then y_i = x_i + C_i y_{b+16}. x and C
// are float32 (sums of at most 16 terms); y_{b+16} is carried from block to block in float64.
// The ratios' exp (RatioExp16) is fused into the same pass; blocks are independent but for the
// carry (one float64 fma per block) and are taken two at a time, so that their long dependency
// chains overlap (measured ~15% faster than one at a time; a separate exp pass was slower).
//
// Episode ends (c == 0): the scan must select there, y_t = a_t, so that NaN or Inf after a cut
// never reaches the steps before it (see the top), while the composition above multiplies: a term
// across a cut is a product holding c = 0 times a later x or y. Where all 16 lanes of y come out
// finite, every such term is an exact 0 and the results are the selecting scan's (up to the sign
// of a zero): a lane of x or C that meets NaN or Inf stays non-finite up to y (x only accumulates,
// C only multiplies, y = x + C y_{b+16}). So only a block whose y is not all finite (NaN or Inf
// data) is redone, by VtraceScan::Column (step by step, selects, float64).
// ScanColumn8 (8 float64 steps per vector, ratios in a pass of their own; until 2026-11) ran at
// ~0.5-0.8G steps/s here (T = 10^6, in cache), this scan at ~1.0-1.3G: arithmetic, not memory,
// bounds both.

// Lane i <- lane i + s, the top s lanes 1 (the fill of the products C).
template <int s>
[[gnu::always_inline]] inline __m512 ShiftDownOnes(__m512 x) {
  return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(1.f)), _mm512_castps_si512(x), s));
}

// Doubling step k.
template <int k>
[[gnu::always_inline]] inline void Compose16(__m512& x, __m512& C) {
  x = _mm512_fmadd_ps(C, simd::ShiftDown<k>(x), x);
  C = _mm512_mul_ps(C, ShiftDownOnes<k>(C));
}

// Steps [0, t_hi) of a one-column batch in blocks of 16 (t_hi a multiple of 16, t_hi < T: every
// step reads values[t + 1]). kTerm: terminations given. kGeneral: truncations, nextValues and
// per-step γ, λ as given (else scalar γ, λ, none of them); the same arithmetic where they are
// absent, so both variants give the same bits on such inputs. kOneClip: ρ̄ = c̄ = ρ̄_pg (one min).
template <bool kTerm, bool kGeneral, bool kOneClip>
struct VtraceBlocks16 {
  VtraceProblem p;  // by value: see ScanRows16 in simd_scan.h
  __m512 clip_rho, clip_c, clip_pg, gamma, g_lambda;

  explicit VtraceBlocks16(const VtraceProblem& q)
      : p(q), clip_rho(_mm512_set1_ps(q.clip_rho)), clip_c(_mm512_set1_ps(q.clip_c)), clip_pg(_mm512_set1_ps(q.clip_pg_rho)),
        gamma(_mm512_set1_ps(q.gamma.scalar)), g_lambda(_mm512_set1_ps(q.gamma.scalar * q.lambda.scalar)) {}

  struct Block {
    __m512 x, C;                    // the composition (see above)
    __m512 rv, v, g, boot, rho_pg;  // r - V(s), V(s), γ, v', min(ρ̄_pg, e^{logρ})
    __mmask16 live, cont;           // not terminated; no episode end
  };

  // The block [b, b + 16): inputs, ratios, a and c, composed.
  // Load and Finish are inlined into Run (GCC 12 would not inline them into all 8 variants, and
  // reports its intrinsics' undefined operands out of line, see simd_scan.h).
  [[gnu::always_inline]] Block Load(size_t b) const {
    Block q;
    const __mmask16 term = kTerm ? simd::Set16(p.terminated + b) : 0;
    const __mmask16 trunc = kGeneral && p.truncated ? simd::Set16(p.truncated + b) : 0;
    q.live = static_cast<__mmask16>(~term);
    q.cont = static_cast<__mmask16>(~(term | trunc));
    q.v = _mm512_loadu_ps(p.values + b);
    q.rv = _mm512_sub_ps(_mm512_loadu_ps(p.rewards + b), q.v);
    q.g = gamma;
    q.boot = _mm512_loadu_ps(p.values + b + 1);
    __m512 gl = g_lambda;
    if constexpr (kGeneral) {
      if (p.gamma.values) q.g = _mm512_loadu_ps(p.gamma.values + b);
      gl = _mm512_mul_ps(q.g, p.lambda.values ? _mm512_loadu_ps(p.lambda.values + b) : _mm512_set1_ps(p.lambda.scalar));
      if (p.next_values) q.boot = _mm512_loadu_ps(p.next_values + b);
      else if (trunc) q.boot = _mm512_mask_loadu_ps(q.boot, trunc, p.final_values + b);
    }
    const __m512 ratio = RatioExp16(_mm512_loadu_ps(p.log_rhos + b));
    // min(clip, NaN) is NaN, as ClipRatio.
    const __m512 rho = _mm512_min_ps(clip_rho, ratio);
    q.rho_pg = kOneClip ? rho : _mm512_min_ps(clip_pg, ratio);
    // Selects (see the top): γ v' only where not terminated, c = 0 at every episode end.
    q.x = _mm512_mul_ps(rho, _mm512_mask3_fmadd_ps(q.g, q.boot, q.rv, q.live));
    q.C = _mm512_maskz_mul_ps(q.cont, gl, kOneClip ? rho : _mm512_min_ps(clip_c, ratio));
    Compose16<1>(q.x, q.C);
    Compose16<2>(q.x, q.C);
    Compose16<4>(q.x, q.C);
    Compose16<8>(q.x, q.C);
    return q;
  }

  // The steps [b, b + 16) by VtraceScan::Column from y = y[b + 16]; returns y[b]. Out of line:
  // only NaN or Inf data comes here (see above).
  [[gnu::noinline]] double Exact(size_t b, double y) const {
    VtraceScan{p}.Column<true>(0, b, b + 16, &y, nullptr);
    return y;
  }

  // y of the block [b, b + 16) from carry = y[b + 16] (float64), which receives y[b]; writes vs
  // and pg. vs_above: vs of the block above (lane 0: vs[b + 16]), receives this block's.
  [[gnu::always_inline]] void Finish(size_t b, const Block& q, __m128d& carry, __m512& vs_above, bool stream) const {
    const __m512 y = _mm512_fmadd_ps(q.C, simd::CarryLanes16(carry), q.x);
    if (__builtin_expect(_mm512_fpclass_ps_mask(y, 0x99) != 0, 0)) {  // NaN or ±Inf
      carry = _mm_set_sd(Exact(b, _mm_cvtsd_f64(carry)));
      vs_above = _mm512_set1_ps(p.vs[b]);
      return;
    }
    carry = _mm_fmadd_sd(_mm_cvtss_sd(_mm_setzero_pd(), _mm512_castps512_ps128(q.C)), carry,
                         _mm_cvtss_sd(_mm_setzero_pd(), _mm512_castps512_ps128(q.x)));
    const __m512 vs = _mm512_add_ps(y, q.v);
    simd::Store16(p.vs + b, vs, stream);
    // pg: ṽ_{t+1} = vs_{t+1} where the episode goes on (lane 15: vs[b + 16]).
    const __m512 vs_next = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(vs_above), _mm512_castps_si512(vs), 1));
    vs_above = vs;
    const __m512 boot = kGeneral ? _mm512_mask_mov_ps(q.boot, q.cont, vs_next) : vs_next;
    const __m512 adv = _mm512_mask3_fmadd_ps(q.g, boot, q.rv, q.live);
    simd::Store16(p.pg_advantages + b, _mm512_mul_ps(q.rho_pg, adv), stream);
  }

  // From y[t_hi] = y (vs[t_hi] written), two blocks at a time (see above).
  void Run(size_t t_hi, double y, bool stream) const {
    __m128d carry = _mm_set_sd(y);
    __m512 vs_above = _mm512_set1_ps(p.vs[t_hi]);
    size_t b = t_hi;
    for (; b >= 32; b -= 32) {
      const Block hi = Load(b - 16), lo = Load(b - 32);
      Finish(b - 16, hi, carry, vs_above, stream);
      Finish(b - 32, lo, carry, vs_above, stream);
    }
    if (b > 0) Finish(0, Load(0), carry, vs_above, stream);
    simd::Fence(stream);
  }
};

// f(std::bool_constant<b>{}).
template <class F>
void WithBool(bool b, F&& f) {
  if (b) f(std::true_type{});
  else f(std::false_type{});
}

// A one-column batch: the last (T - 1) mod 16 + 1 steps by VtraceScan::Column (they read the
// batch end), the others by VtraceBlocks16.
void VtraceOneColumn(const VtraceProblem& p) {
  const size_t head = (p.T - 1) % 16 + 1, t_hi = p.T - head;
  const VtraceScan k{p};
  double y = k.Boundary(0);
  k.Column<true>(0, t_hi, p.T, &y, nullptr);
  if (t_hi == 0) return;
  const bool stream = p.T >= simd::kStreamElements;
  const bool general = p.truncated || p.next_values || p.gamma.values || p.lambda.values;
  const bool one_clip = p.clip_rho == p.clip_c && p.clip_rho == p.clip_pg_rho;
  WithBool(p.terminated != nullptr, [&](auto term) {
    WithBool(general, [&](auto gen) {
      WithBool(one_clip, [&](auto one) {
        VtraceBlocks16<decltype(term)::value, decltype(gen)::value, decltype(one)::value>(p).Run(t_hi, y, stream);
      });
    });
  });
}
#endif

// A clip threshold: a finite number > 0.
float ThresholdArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value v = i < info.Length() ? info[i] : env.Undefined();
  if (!v.IsNumber()) {
    ThrowError(env, "ERR_ARG", std::string(kernel) + ": " + name + " must be a number; received " +
                                   (v.IsUndefined() ? "undefined" : v.IsString() ? "a string" : "a non-number"));
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d > 0 && d <= std::numeric_limits<float>::max())) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must be finite and > 0 (at most 3.4e38, float32); received " << d;
    ThrowError(env, "ERR_RANGE", msg.str());
  }
  return static_cast<float>(d);
}

// vtrace(T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?, finalValues?,
//        logRhos, gamma, lambda, clipRhoThreshold, clipCThreshold, clipPgRhoThreshold,
//        outVs, outPgAdvantages, useCuda, async)
Napi::Value VtraceBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "vtrace";
  Napi::Env env = info.Env();
  VtraceProblem p;
  const Shape tn = ReadBootstrapInputs(info, kKernel, p);
  const size_t TN = p.T * p.N;
  p.log_rhos = F32Arg(info, 9, kKernel, "logRhos", false, TN, tn).data;
  p.gamma = StepParamArg(info, 10, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  p.lambda = StepParamArg(info, 11, kKernel, "lambda", p.T, p.N, 0.0, 1.0);
  p.clip_rho = ThresholdArg(info, 12, kKernel, "clipRhoThreshold");
  p.clip_c = ThresholdArg(info, 13, kKernel, "clipCThreshold");
  p.clip_pg_rho = ThresholdArg(info, 14, kKernel, "clipPgRhoThreshold");
  ArrayArg<float> vs = F32Arg(info, 15, kKernel, "out.vs", false, TN, tn);
  ArrayArg<float> pg = F32Arg(info, 16, kKernel, "out.pgAdvantages", false, TN, tn);
  p.vs = vs.data;
  p.pg_advantages = pg.data;
  const bool use_cuda = BoolArg(info, 17), async = BoolArg(info, 18);
  CheckDevice(env, kKernel, use_cuda);
  const size_t bytes = TN * sizeof(float);
  for (const auto& [name, out] : {std::pair<const char*, float*>{"out.vs", p.vs}, {"out.pgAdvantages", p.pg_advantages}}) {
    CheckOutputAlias(env, kKernel, name, out, p);
    CheckNoOverlap(env, kKernel, name, out, bytes, "logRhos", p.log_rhos, bytes);
  }
  CheckNoOverlap(env, kKernel, "out.vs", p.vs, bytes, "out.pgAdvantages", p.pg_advantages, bytes);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::Vtrace(p);
#endif
    (void)use_cuda;
    VtraceCpu(p);
  }, KeepArgs{2, 17});
}

}  // namespace

void VtraceCpu(const VtraceProblem& p) {
#if RLCORE_SCAN_SIMD
  if (p.N == 1) return VtraceOneColumn(p);
#endif
  ReverseScan(VtraceScan{p}, p.T, p.N);
}

RLCORE_EXPORT(vtrace, VtraceBinding);

}  // namespace rlcore
