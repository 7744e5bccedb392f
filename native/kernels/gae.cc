// Generalized Advantage Estimation (Schulman et al., 2016, "High-Dimensional Continuous Control
// Using Generalized Advantage Estimation", arXiv:1506.02438), with Gymnasium's split of episode
// ends into termination and truncation:
//
//   v'_t  = V(s_{t+1})          (at a truncated step: V of the final observation)
//   δ_t   = r_t + γ_t (1 - term_t) v'_t - V(s_t)
//   A_t   = δ_t + γ_t λ_t (1 - done_t) A_{t+1},   done_t = term_t | trunc_t,   A_T = 0
//   G_t   = A_t + V(s_t)                          (value targets)
//
// The factors (1 - term_t) and (1 - done_t) are selects, not products: a terminated step does not
// read v'_t, and an episode end does not read A_{t+1} (scan.h), so NaN or Inf in a later episode
// stays there.
#include "gae.h"

#include "bootstrap_args.h"
#include "../core/scan.h"
#include "../core/select.h"
#include "../../cuda/backend.h"

namespace rlcore {
namespace {

// Optional inputs are replaced by rows of zeros so the tile loop has no branches.
alignas(64) const uint8_t kNoFlags[kScanColumns] = {};
alignas(64) const float kZeros[kScanColumns] = {};

// One row segment of w columns. Restrict-qualified parameters (not locals) are what lets GCC
// vectorise without runtime alias checks.
template <bool kWrite>
void GaeRow(size_t w, const float* __restrict r, const float* __restrict v, const uint8_t* __restrict term,
            const uint8_t* __restrict trunc, const float* __restrict v_next, const float* __restrict v_final,
            const float* __restrict g, const float* __restrict l, float* __restrict adv, float* __restrict ret,
            double* __restrict s0, double* __restrict s1) {
  for (size_t j = 0; j < w; ++j) {
    const float boot = Select(trunc[j], v_final[j], v_next[j]);
    const float g_lambda = Select(term[j] | trunc[j], 0.f, g[j] * l[j]);
    // δ in float32 (the inputs are float32); the recurrence itself accumulates in float64.
    // V(s_{t+1}) is not read at terminations.
    const double a = static_cast<double>(Select(term[j], r[j], r[j] + g[j] * boot) - v[j]);
    const double y = ScanApply<kWrite>(a, g_lambda, s0, s1, j);
    if constexpr (kWrite) {
      adv[j] = static_cast<float>(y);
      ret[j] = static_cast<float>(y + v[j]);
    }
  }
}

struct GaeScan {
  GaeProblem p;
  // With scalar γ and λ (the usual call): γ λ, formed once with the float32 product Coefs16
  // would otherwise form per element.
  bool scalar = false;
  float g_lambda = 0.f;
  explicit GaeScan(const GaeProblem& q)
      : p(q), scalar(!q.gamma.values && !q.lambda.values), g_lambda(q.gamma.scalar * q.lambda.scalar) {}
  double Boundary(size_t) const { return 0.0; }

  template <bool kWrite>
  void Rows(size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, double* s1) const {
    const size_t N = p.N, w = n1 - n0;
    StepRows gamma(p.gamma, n0, w), lambda(p.lambda, n0, w);
    for (size_t t = t_hi; t-- > t_lo;) {
      const size_t row = t * N + n0;
      const float* v_next = p.next_values ? p.next_values + row
                            : t + 1 < p.T ? p.values + row + N
                            : p.last_values ? p.last_values + n0 : kZeros;
      // With nextValues given, truncated steps already carry V(final observation).
      const float* v_final = (p.final_values && !p.next_values) ? p.final_values + row : v_next;
      GaeRow<kWrite>(w, p.rewards + row, p.values + row, p.terminated ? p.terminated + row : kNoFlags,
                     p.truncated ? p.truncated + row : kNoFlags, v_next, v_final, gamma.Row(t), lambda.Row(t), p.advantages + row, p.returns + row, s0, s1);
    }
  }

#if RLCORE_SCAN_SIMD
  // Rows<true> for 16 columns [n, n + 16) of step t (simd_scan.h), same arithmetic.
  simd::Coefs16 Coefs16(size_t t, size_t n) const {
    const size_t i = t * p.N + n;
    const __mmask16 term = p.terminated ? simd::Set16(p.terminated + i) : 0;
    const __mmask16 trunc = p.truncated ? simd::Set16(p.truncated + i) : 0;
    const __m512 g = simd::Param16(p.gamma, t, n), v = _mm512_loadu_ps(p.values + i);
    __m512 boot = p.next_values ? _mm512_loadu_ps(p.next_values + i)
                  : t + 1 < p.T ? _mm512_loadu_ps(p.values + i + p.N)
                  : p.last_values ? _mm512_loadu_ps(p.last_values + n)
                                  : _mm512_setzero_ps();
    if (trunc && p.final_values && !p.next_values) boot = _mm512_mask_loadu_ps(boot, trunc, p.final_values + i);
    // r + γ v', or r at terminations (v' not read).
    const __m512 rb = _mm512_mask3_fmadd_ps(g, boot, _mm512_loadu_ps(p.rewards + i), static_cast<__mmask16>(~term));
    const __m512 delta = _mm512_sub_ps(rb, v);
    const __mmask16 live = static_cast<__mmask16>(~(term | trunc));
    if (scalar) return simd::Coefs16::Masked(delta, live, _mm512_set1_pd(g_lambda));
    return simd::Coefs16::Of(delta, _mm512_maskz_mul_ps(live, g, simd::Param16(p.lambda, t, n)));
  }
  // The inputs Coefs16 reads at columns [n, n + 16) of step t (simd_scan.h, streaming row order).
  void Prefetch16(size_t t, size_t n) const { simd::PrefetchBootstrap16(p, t, n); }
  void Write16(size_t t, size_t n, const simd::Coefs16&, __m512 adv, __m512, bool stream) const {
    const size_t i = t * p.N + n;
    simd::Store16(p.advantages + i, adv, stream);
    simd::Store16(p.returns + i, _mm512_add_ps(adv, _mm512_loadu_ps(p.values + i)), stream);
  }

  // Steps [t, t + 8) of a one-column batch (simd_scan.h), same arithmetic.
  simd::Coefs8 Coefs8(size_t t) const {
    const __mmask8 term = p.terminated ? simd::Set8(p.terminated + t) : 0;
    const __mmask8 trunc = p.truncated ? simd::Set8(p.truncated + t) : 0;
    const __m256 g = simd::Param8(p.gamma, t), v = _mm256_loadu_ps(p.values + t);
    __m256 boot;
    if (p.next_values) {
      boot = _mm256_loadu_ps(p.next_values + t);
    } else {
      const __mmask8 inside = t + 8 < p.T ? 0xff : static_cast<__mmask8>((1u << (p.T - t - 1)) - 1);
      boot = _mm256_mask_loadu_ps(_mm256_set1_ps(p.last_values ? p.last_values[0] : 0.f), inside, p.values + t + 1);
      if (trunc && p.final_values) boot = _mm256_mask_loadu_ps(boot, trunc, p.final_values + t);
    }
    // r + γ v', or r at terminations (v' not read).
    const __m256 rb = _mm256_mask3_fmadd_ps(g, boot, _mm256_loadu_ps(p.rewards + t), static_cast<__mmask8>(~term));
    const __m256 delta = _mm256_sub_ps(rb, v);
    const __m256 c = _mm256_maskz_mul_ps(static_cast<__mmask8>(~(term | trunc)), g, simd::Param8(p.lambda, t));
    return {_mm512_cvtps_pd(delta), _mm512_cvtps_pd(c)};
  }
  void Write8(size_t t, const simd::Coefs8&, __m512d y, __m256, bool stream) const {
    const __m256 adv = _mm512_cvtpd_ps(y);
    simd::Store8(p.advantages + t, adv, stream);
    simd::Store8(p.returns + t, _mm256_add_ps(adv, _mm256_loadu_ps(p.values + t)), stream);
  }
#endif

  // Single column n, steps [t_lo, t_hi): the narrow-batch path (one long sequence).
  template <bool kWrite>
  void Column(size_t n, size_t t_lo, size_t t_hi, double* s0, double* s1) const {
    const size_t N = p.N;
    double y = *s0, C = s1 ? *s1 : 1.0;
    const float last = p.last_values ? p.last_values[n] : 0.f;
    for (size_t t = t_hi; t-- > t_lo;) {
      const size_t i = t * N + n;
      const bool term = p.terminated && p.terminated[i];
      const bool trunc = p.truncated && p.truncated[i];
      float v_next = p.next_values ? p.next_values[i] : t + 1 < p.T ? p.values[i + N] : last;
      if (trunc && !p.next_values) v_next = p.final_values[i];
      if (term) v_next = 0.f;  // not read at terminations
      const float g = p.gamma.At(t, n);
      const double a = static_cast<double>(p.rewards[i]) + static_cast<double>(g) * v_next - static_cast<double>(p.values[i]);
      const double c = (term || trunc) ? 0.f : g * p.lambda.At(t, n);
      ScanApply<kWrite>(a, c, &y, &C, 0);
      if constexpr (kWrite) {
        p.advantages[i] = static_cast<float>(y);
        p.returns[i] = static_cast<float>(y + p.values[i]);
      }
    }
    *s0 = y;
    if constexpr (!kWrite) *s1 = C;
  }
};

// gae(T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?, finalValues?,
//     gamma, lambda, outAdvantages, outReturns?, useCuda, async)
Napi::Value GaeBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "gae";
  Napi::Env env = info.Env();
  GaeProblem p;
  const Shape tn = ReadBootstrapInputs(info, kKernel, p);
  const size_t TN = p.T * p.N;
  p.gamma = StepParamArg(info, 9, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  p.lambda = StepParamArg(info, 10, kKernel, "lambda", p.T, p.N, 0.0, 1.0);
  ArrayArg<float> adv = F32Arg(info, 11, kKernel, "out.advantages", false, TN, tn);
  ArrayArg<float> ret = F32Arg(info, 12, kKernel, "out.returns", false, TN, tn);
  p.advantages = adv.data;
  p.returns = ret.data;
  const bool use_cuda = BoolArg(info, 13), async = BoolArg(info, 14);
  CheckDevice(env, kKernel, use_cuda);
  CheckOutputAlias(env, kKernel, "out.advantages", p.advantages, p);
  CheckOutputAlias(env, kKernel, "out.returns", p.returns, p);
  CheckNoOverlap(env, kKernel, "out.advantages", p.advantages, TN * sizeof(float), "out.returns", p.returns,
                 TN * sizeof(float));
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::Gae(p);
#endif
    (void)use_cuda;
    GaeCpu(p);
  }, KeepArgs{2, 13});
}

}  // namespace

void GaeCpu(const GaeProblem& p) { ReverseScan(GaeScan(p), p.T, p.N); }

RLCORE_EXPORT(gae, GaeBinding);

}  // namespace rlcore
