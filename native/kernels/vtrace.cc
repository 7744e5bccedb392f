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
// Precision: the ratios e^{logρ} are computed in float32 (ExpF, relative error ~1e-7; before
// 2026-11 in float64), as are the AVX-512 paths' δ and γ λ c (ρ δ is formed in float64); the
// recurrence accumulates in float64 everywhere.
#include "vtrace.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>

#include "bootstrap_args.h"
#include "../core/scan.h"
#include "../core/select.h"
#include "../core/thread_pool.h"
#include "../dist/fastmath.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

// min(clip, x) that lets a NaN x through (an unclipped NaN ratio must not look like ρ̄).
inline float ClipRatio(float x, float clip) { return clip < x ? clip : x; }

// e^{logρ} in float32: ExpF (fastmath.h, relative error ~1e-7), branch-free so the loops
// vectorise, with the edges of the vector ExpF16 (simd_scan.h): +Inf above 88 (so a huge ratio
// is clipped to any threshold <= FLT_MAX), NaN passes through, 2^-126 below -87.3.
inline float RatioExp(float x) {
  const bool nan = !(x == x);
  const float e = ExpF(nan ? 0.f : x);
  return nan ? x : x > 88.f ? std::numeric_limits<float>::infinity() : e;
}

constexpr size_t kRatioBlock = 256;  // steps whose ratios the one-column paths compute at once

// e^{logρ} for one row.
inline void Ratios(const float* __restrict log_rho, size_t w, float* __restrict out) {
  for (size_t j = 0; j < w; ++j) out[j] = RatioExp(log_rho[j]);
}

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
        const float boot = Select(trunc[j], v_final[j], v_next[j]);
        const float g_live = Select(term[j], 0.f, g[j]);
        const float g_lambda = Select(term[j] | trunc[j], 0.f, g[j] * l[j]);
        const double td = static_cast<double>(r[j]) + static_cast<double>(g_live) * boot - static_cast<double>(v[j]);
        const double a = static_cast<double>(ClipRatio(ratio[j], clip_rho)) * td;
        const double c = static_cast<double>(g_lambda) * ClipRatio(ratio[j], clip_c);
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
  // scan itself in float64), the ratios by ExpF16.
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
    const __m512 ratio = simd::ExpF16(_mm512_loadu_ps(p.log_rhos + i));
    // _mm512_min_ps(clip, x) returns x when x is NaN, as ClipRatio.
    const __m512 rho = _mm512_min_ps(_mm512_set1_ps(p.clip_rho), ratio);
    const __m512 cc = _mm512_min_ps(_mm512_set1_ps(p.clip_c), ratio);
    const __m512 rho_pg = _mm512_min_ps(_mm512_set1_ps(p.clip_pg_rho), ratio);
    const __mmask16 live = static_cast<__mmask16>(~term);
    const __m512 td = _mm512_sub_ps(_mm512_fmadd_ps(_mm512_maskz_mov_ps(live, g), boot, r), v);
    const __m512 gl = _mm512_maskz_mul_ps(static_cast<__mmask16>(~(term | trunc)), g, simd::Param16(p.lambda, t, n));
    const __mmask16 use_vs = inside ? static_cast<__mmask16>(~(term | trunc)) : 0;
    const __m512 c = _mm512_mul_ps(gl, cc);
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

  struct Coefs8Pg : simd::Coefs8 {
    __m256 r, v, g, rho_pg, boot, v_after;
    __mmask8 live, use_vs;
  };

  // Steps [t, t + 8) of a one-column batch (simd_scan.h), same arithmetic as Coefs16.
  Coefs8Pg Coefs8(size_t t) const {
    const __mmask8 term = p.terminated ? simd::Set8(p.terminated + t) : 0;
    const __mmask8 trunc = p.truncated ? simd::Set8(p.truncated + t) : 0;
    const __m256 g = simd::Param8(p.gamma, t), v = _mm256_loadu_ps(p.values + t);
    const __m256 r = _mm256_loadu_ps(p.rewards + t);
    const __mmask8 inside = t + 8 < p.T ? 0xff : static_cast<__mmask8>((1u << (p.T - t - 1)) - 1);
    const __m256 v_after = _mm256_maskz_loadu_ps(inside, p.values + t + 1);
    __m256 boot;
    if (p.next_values) {
      boot = _mm256_loadu_ps(p.next_values + t);
    } else {
      boot = _mm256_mask_mov_ps(_mm256_set1_ps(p.last_values ? p.last_values[0] : 0.f), inside, v_after);
      if (trunc && p.final_values) boot = _mm256_mask_loadu_ps(boot, trunc, p.final_values + t);
    }
    const __m256 ratio = simd::ExpF8(_mm256_loadu_ps(p.log_rhos + t));
    const __m256 rho = _mm256_min_ps(_mm256_set1_ps(p.clip_rho), ratio);
    const __m256 cc = _mm256_min_ps(_mm256_set1_ps(p.clip_c), ratio);
    const __m256 rho_pg = _mm256_min_ps(_mm256_set1_ps(p.clip_pg_rho), ratio);
    const __mmask8 live = static_cast<__mmask8>(~term);
    const __m256 td = _mm256_sub_ps(_mm256_fmadd_ps(_mm256_maskz_mov_ps(live, g), boot, r), v);
    const __m256 gl = _mm256_maskz_mul_ps(static_cast<__mmask8>(~(term | trunc)), g, simd::Param8(p.lambda, t));
    const __mmask8 use_vs = static_cast<__mmask8>(inside & ~(term | trunc));
    return {{_mm512_mul_pd(_mm512_cvtps_pd(rho), _mm512_cvtps_pd(td)), _mm512_cvtps_pd(_mm256_mul_ps(gl, cc))},
            r, v, g, rho_pg, boot, v_after, live, use_vs};
  }
  void Write8(size_t t, const Coefs8Pg& q, __m512d y, __m256 y_next, bool stream) const {
    simd::Store8(p.vs + t, _mm256_add_ps(_mm512_cvtpd_ps(y), q.v), stream);
    const __m256 vs_next = _mm256_add_ps(y_next, q.v_after);
    const __m256 boot = _mm256_maskz_mov_ps(q.live, _mm256_mask_mov_ps(q.boot, q.use_vs, vs_next));
    const __m256 adv = _mm256_sub_ps(_mm256_fmadd_ps(q.g, boot, q.r), q.v);
    simd::Store8(p.pg_advantages + t, _mm256_mul_ps(q.rho_pg, adv), stream);
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
        const float g = p.gamma.At(t, n);
        const double td = static_cast<double>(p.rewards[i]) + static_cast<double>(term ? 0.f : g) * v_next -
                          static_cast<double>(p.values[i]);
        const double a = static_cast<double>(ClipRatio(ratio[t - lo], clip_rho)) * td;
        const double c =
            static_cast<double>((term || trunc) ? 0.f : g * p.lambda.At(t, n)) * ClipRatio(ratio[t - lo], clip_c);
        if constexpr (kWrite) {
          // ṽ_{t+1}: vs_{t+1} inside an episode, else v'_t (0 after a termination).
          const float boot = term                    ? 0.f
                             : !trunc && t + 1 < p.T ? static_cast<float>(y + p.values[i + N])
                                                     : v_next;
          const double target = static_cast<double>(p.rewards[i]) + static_cast<double>(g) * boot;
          p.pg_advantages[i] = static_cast<float>(ClipRatio(ratio[t - lo], clip_pg) * (target - p.values[i]));
        }
        y = a + c * y;
        if constexpr (kWrite) p.vs[i] = static_cast<float>(y + p.values[i]);
        else C *= c;
      }
      hi = lo;
    }
    *s0 = y;
    if constexpr (!kWrite) *s1 = C;
  }
};

#if RLCORE_SCAN_SIMD
constexpr size_t kColumnBlock = 2048;  // steps per chunk of the one-column lean scan (a multiple of 16)

// The usual one-column call (scalar γ and λ, no truncations, no nextValues; terminations if
// kTerm) away from the batch end (steps t + 8 < T: v' and V(s_{t+1}) are values[t + 1] in every
// lane, and ṽ_{t+1} = vs_{t+1} wherever the episode goes on): VtraceScan's Coefs8/Write8 with
// the per-block branches and masks of the general case removed, bit for bit the same arithmetic.
template <bool kTerm>
struct VtraceColumn {
  const float* rewards;
  const float* values;
  const uint8_t* terminated;
  const float* log_rhos;
  float* vs;
  float* pg_advantages;
  float gamma, g_lambda, clip_rho, clip_c, clip_pg_rho;
  // e^{logρ} of steps [ratio_lo, ratio_lo + kColumnBlock), computed ahead by ExpF16 in a loop of
  // its own (it was ~40% of this scan's time inline: a long dependency chain per block).
  const float* ratios = nullptr;
  size_t ratio_lo = 0;
  struct Q : simd::Coefs8 {
    __m256 r, v, v_after, rho_pg;
    __mmask8 live;
  };
  Q Coefs8(size_t t) const {
    const __mmask8 live = kTerm ? static_cast<__mmask8>(~simd::Set8(terminated + t)) : 0xff;
    const __m256 g = _mm256_set1_ps(gamma), v = _mm256_loadu_ps(values + t), r = _mm256_loadu_ps(rewards + t);
    const __m256 v_after = _mm256_loadu_ps(values + t + 1);
    const __m256 ratio = _mm256_loadu_ps(ratios + (t - ratio_lo));
    const __m256 rho = _mm256_min_ps(_mm256_set1_ps(clip_rho), ratio);
    const __m256 cc = _mm256_min_ps(_mm256_set1_ps(clip_c), ratio);
    const __m256 rho_pg = _mm256_min_ps(_mm256_set1_ps(clip_pg_rho), ratio);
    const __m256 td = _mm256_sub_ps(_mm256_fmadd_ps(_mm256_maskz_mov_ps(live, g), v_after, r), v);
    const __m256 gl = _mm256_maskz_mov_ps(live, _mm256_set1_ps(g_lambda));
    return {{_mm512_mul_pd(_mm512_cvtps_pd(rho), _mm512_cvtps_pd(td)), _mm512_cvtps_pd(_mm256_mul_ps(gl, cc))},
            r, v, v_after, rho_pg, live};
  }
  void Write8(size_t t, const Q& q, __m512d y, __m256 y_next, bool stream) const {
    simd::Store8(vs + t, _mm256_add_ps(_mm512_cvtpd_ps(y), q.v), stream);
    const __m256 boot = _mm256_maskz_mov_ps(q.live, _mm256_add_ps(y_next, q.v_after));
    const __m256 adv = _mm256_sub_ps(_mm256_fmadd_ps(_mm256_set1_ps(gamma), boot, q.r), q.v);
    simd::Store8(pg_advantages + t, _mm256_mul_ps(q.rho_pg, adv), stream);
  }
};

// The interior steps [0, t_hi) (t_hi = T - 8) with VtraceColumn in chunks of kColumnBlock steps
// on the 8-step blocks of [0, T) (chunked ScanColumn8 calls give the same results as one), the
// ratios of each chunk first. Returns the steps left (T mod 8).
template <class Lean>
size_t VtraceColumnChunks(Lean lean, size_t t_hi, double* y, bool stream) {
  alignas(64) float ratio[kColumnBlock];
  size_t hi = t_hi;
  while (hi >= 8) {
    const size_t lo = hi - std::min(kColumnBlock, hi / 8 * 8);
    for (size_t t = lo; t < hi; t += 16) {
      const __mmask16 m = hi - t >= 16 ? 0xffff : static_cast<__mmask16>((1u << (hi - t)) - 1);
      _mm512_mask_storeu_ps(ratio + (t - lo), m, simd::ExpF16(_mm512_maskz_loadu_ps(m, lean.log_rhos + t)));
    }
    lean.ratios = ratio;
    lean.ratio_lo = lo;
    simd::ScanColumn8(lean, lo, hi, y, stream);  // all of [lo, hi): a multiple of 8 steps
    hi = lo;
  }
  return hi;
}

// One-column batches through VtraceColumn where it applies; false where it does not.
bool VtraceOneColumn(const VtraceProblem& p) {
  if (p.N != 1 || p.T < 16 || p.truncated || p.next_values || p.gamma.values || p.lambda.values) return false;
  const float g_lambda = p.gamma.scalar * p.lambda.scalar;
  const VtraceScan k{p};
  const bool stream = p.T * p.N >= simd::kStreamElements;
  auto make = [&](auto term) {
    return VtraceColumn<decltype(term)::value>{p.rewards, p.values, p.terminated, p.log_rhos, p.vs, p.pg_advantages,
                                               p.gamma.scalar, g_lambda, p.clip_rho, p.clip_c, p.clip_pg_rho};
  };
  // As simd::ScanOneColumn: the block holding the batch end and the first T mod 8 steps by the
  // general kernel.
  double y = k.Boundary(0);
  simd::ScanColumn8(k, p.T - 8, p.T, &y, stream);
  const size_t rest = p.terminated ? VtraceColumnChunks(make(std::true_type{}), p.T - 8, &y, stream)
                                   : VtraceColumnChunks(make(std::false_type{}), p.T - 8, &y, stream);
  if (rest > 0) k.Column<true>(0, 0, rest, &y, nullptr);
  return true;
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
  if (VtraceOneColumn(p)) return;
#endif
  ReverseScan(VtraceScan{p}, p.T, p.N);
}

RLCORE_EXPORT(vtrace, VtraceBinding);

}  // namespace rlcore
