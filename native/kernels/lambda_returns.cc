// TD(λ) returns (Sutton & Barto 2018, "Reinforcement Learning: An Introduction", ch. 12; rlax
// `lambda_returns`), with Gymnasium's split of episode ends into termination and truncation:
//
//   v'_t = V(s_{t+1})                 (at a truncated step: V of the final observation)
//   λ'_t = λ_t (1 - done_t),          done_t = term_t | trunc_t,   λ'_{T-1} = 0
//   G_t  = r_t + γ_t (1 - term_t) [ (1 - λ'_t) v'_t + λ'_t G_{t+1} ]
//
// As a reverse affine scan: a_t = r_t + γ_t (1 - term_t)(1 - λ'_t) v'_t, c_t = γ_t λ'_t
// ((1 - term_t) is already inside λ'_t). λ'_{T-1} = 0 bootstraps the last step fully from
// v'_{T-1}, i.e. G_T = v'_{T-1} as in rlax; then G_t = GAE A_t + V(s_t) (up to rounding).
// (1 - term_t) and (1 - done_t) are selects, not products: a terminated step does not read v'_t,
// an episode end does not read G_{t+1} (scan.h), so NaN or Inf in a later episode stays there.
#include "lambda_returns.h"

#include "bootstrap_args.h"
#include "../core/scan.h"
#include "../core/select.h"
#include "../core/simd_scan.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

struct LambdaReturnsScan {
  LambdaReturnsProblem p;
  // With scalar γ and λ (the usual call): γ (1 - λ) and γ λ, the coefficients of a live step,
  // formed once with the same float32 operations Coefs16 would do per element.
  bool scalar = false;
  float g_boot = 0.f, g_lambda = 0.f;
  explicit LambdaReturnsScan(const LambdaReturnsProblem& q) : p(q) {
    scalar = !q.gamma.values && !q.lambda.values;
    g_boot = q.gamma.scalar * (1.f - q.lambda.scalar);
    g_lambda = q.gamma.scalar * q.lambda.scalar;
  }
  double Boundary(size_t) const { return 0.0; }

  template <bool kWrite>
  void Rows(size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, double* s1) const {
    const size_t N = p.N, w = n1 - n0;
    float gbuf[kScanColumns], lbuf[kScanColumns];
    for (size_t t = t_hi; t-- > t_lo;) {
      const size_t row = t * N + n0;
      const float* __restrict r = p.rewards + row;
      const uint8_t* __restrict term = bootstrap::Flags(p.terminated, N, t, n0);
      const uint8_t* __restrict trunc = bootstrap::Flags(p.truncated, N, t, n0);
      const bootstrap::Rows v = bootstrap::At(p.T, N, t, n0, p.values, p.next_values, p.last_values, p.final_values);
      const float* __restrict v_next = v.next;
      const float* __restrict v_final = v.final_obs;
      const float* __restrict g = p.gamma.Row(t, n0, w, gbuf);
      const float* __restrict l = p.lambda.Row(t, n0, w, lbuf);
      const float not_last = t + 1 < p.T ? 1.f : 0.f;
      float* __restrict ret = p.returns + row;
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        const float boot = Select(term[j], 0.f, Select(trunc[j], v_final[j], v_next[j]));  // not read at terminations
        const double lam = Select(term[j] | trunc[j], 0.f, l[j] * not_last);  // λ'_t
        const double a = static_cast<double>(r[j]) + static_cast<double>(g[j]) * (1.0 - lam) * boot;
        const double y = ScanApply<kWrite>(a, static_cast<double>(g[j]) * lam, s0, s1, j);
        if constexpr (kWrite) ret[j] = static_cast<float>(y);
      }
    }
  }

#if RLCORE_SCAN_SIMD
  // Rows<true> for 16 columns [n, n + 16) of step t (simd_scan.h); a in float32.
  simd::Coefs16 Coefs16(size_t t, size_t n) const {
    const size_t i = t * p.N + n;
    const __mmask16 term = p.terminated ? simd::Set16(p.terminated + i) : 0;
    const __mmask16 trunc = p.truncated ? simd::Set16(p.truncated + i) : 0;
    const __m512 g = simd::Param16(p.gamma, t, n);
    __m512 boot = p.next_values ? _mm512_loadu_ps(p.next_values + i)
                  : t + 1 < p.T ? _mm512_loadu_ps(p.values + i + p.N)
                  : p.last_values ? _mm512_loadu_ps(p.last_values + n)
                                  : _mm512_setzero_ps();
    if (trunc && p.final_values && !p.next_values) boot = _mm512_mask_loadu_ps(boot, trunc, p.final_values + i);
    const __mmask16 keep = static_cast<__mmask16>(~term);  // a = r at terminations: v' not read
    // λ'_t: zero at episode ends and at the last step.
    const __mmask16 live = t + 1 < p.T ? static_cast<__mmask16>(~(term | trunc)) : 0;
    if (scalar) {
      // γ (1 - λ') at live steps, γ (λ' = 0) elsewhere; γ λ' at live steps, else 0 (γ · 0): bit
      // for bit the general path below.
      const __m512 coef = _mm512_mask_mov_ps(g, live, _mm512_set1_ps(g_boot));
      const __m512 a = _mm512_mask3_fmadd_ps(coef, boot, _mm512_loadu_ps(p.rewards + i), keep);
      return simd::Coefs16::Masked(a, live, _mm512_set1_pd(g_lambda));
    }
    const __m512 lam = _mm512_maskz_mov_ps(live, simd::Param16(p.lambda, t, n));
    const __m512 a = _mm512_mask3_fmadd_ps(_mm512_mul_ps(g, _mm512_sub_ps(_mm512_set1_ps(1.f), lam)), boot,
                                           _mm512_loadu_ps(p.rewards + i), keep);
    return simd::Coefs16::Of(a, _mm512_mul_ps(g, lam));
  }
  // The inputs Coefs16 reads at columns [n, n + 16) of step t (simd_scan.h, streaming row order).
  void Prefetch16(size_t t, size_t n) const { simd::PrefetchBootstrap16(p, t, n); }
  void Write16(size_t t, size_t n, const simd::Coefs16&, __m512 y, __m512, bool stream) const { simd::Store16(p.returns + t * p.N + n, y, stream); }

  // Steps [t, t + 8) of a one-column batch (simd_scan.h), same arithmetic as Coefs16.
  simd::Coefs8 Coefs8(size_t t) const {
    const __mmask8 term = p.terminated ? simd::Set8(p.terminated + t) : 0;
    const __mmask8 trunc = p.truncated ? simd::Set8(p.truncated + t) : 0;
    const __m256 g = simd::Param8(p.gamma, t);
    // Lanes before the last step of the batch.
    const __mmask8 inside = t + 8 < p.T ? 0xff : static_cast<__mmask8>((1u << (p.T - t - 1)) - 1);
    __m256 boot;
    if (p.next_values) {
      boot = _mm256_loadu_ps(p.next_values + t);
    } else {
      boot = _mm256_mask_loadu_ps(_mm256_set1_ps(p.last_values ? p.last_values[0] : 0.f), inside, p.values + t + 1);
      if (trunc && p.final_values) boot = _mm256_mask_loadu_ps(boot, trunc, p.final_values + t);
    }
    const __m256 lam = _mm256_maskz_mov_ps(static_cast<__mmask8>(inside & ~(term | trunc)), simd::Param8(p.lambda, t));
    // a = r at terminations: v' not read.
    const __m256 a = _mm256_mask3_fmadd_ps(_mm256_mul_ps(g, _mm256_sub_ps(_mm256_set1_ps(1.f), lam)), boot,
                                           _mm256_loadu_ps(p.rewards + t), static_cast<__mmask8>(~term));
    return {_mm512_cvtps_pd(a), _mm512_cvtps_pd(_mm256_mul_ps(g, lam))};
  }
  void Write8(size_t t, const simd::Coefs8&, __m512d y, __m256, bool stream) const { simd::Store8(p.returns + t, _mm512_cvtpd_ps(y), stream); }
#endif

  // Single column n, steps [t_lo, t_hi): the narrow-batch path (one long sequence), same
  // arithmetic as Rows.
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
      const double lam = (term || trunc || t + 1 == p.T) ? 0.f : p.lambda.At(t, n);
      const double a = static_cast<double>(p.rewards[i]) + static_cast<double>(g) * (1.0 - lam) * v_next;
      ScanApply<kWrite>(a, static_cast<double>(g) * lam, &y, &C, 0);
      if constexpr (kWrite) p.returns[i] = static_cast<float>(y);
    }
    *s0 = y;
    if constexpr (!kWrite) *s1 = C;
  }
};

#if RLCORE_SCAN_SIMD
// The usual one-column call (scalar γ and λ, no truncations, no nextValues; terminations if
// kTerm) away from the batch end (steps t + 8 < T, so V(s_{t+1}) is values[t + 1] in every lane):
// the Coefs8/Write8 of LambdaReturnsScan with the per-block branches and masks of the general
// case removed, bit for bit the same arithmetic (its scalar Coefs16 path).
template <bool kTerm>
struct LambdaReturnsColumn {
  const float* rewards;
  const float* values;
  const uint8_t* terminated;
  float* returns;
  float g_boot, g_lambda;
  simd::Coefs8 Coefs8(size_t t) const {
    const __mmask8 live = kTerm ? static_cast<__mmask8>(~simd::Set8(terminated + t)) : 0xff;
    // a = r + γ (1 - λ) V(s_{t+1}), a = r at terminations (V not read); c = γ λ at live steps, else 0.
    const __m256 a = _mm256_mask3_fmadd_ps(_mm256_set1_ps(g_boot), _mm256_loadu_ps(values + t + 1), _mm256_loadu_ps(rewards + t), live);
    return {_mm512_cvtps_pd(a), _mm512_cvtps_pd(_mm256_maskz_mov_ps(live, _mm256_set1_ps(g_lambda)))};
  }
  void Write8(size_t t, const simd::Coefs8&, __m512d y, __m256, bool stream) const { simd::Store8(returns + t, _mm512_cvtpd_ps(y), stream); }
};

// The same usual call on batches of 16 columns or more, in cache (the serial regime of
// ReverseScan), for steps t + 1 < T (V(s_{t+1}) is the next row of values): Coefs16 without the
// per-step branches of the general kernel, the same arithmetic (its scalar path).
template <bool kTerm>
struct LambdaReturnsInterior : LambdaReturnsScan {
  explicit LambdaReturnsInterior(const LambdaReturnsScan& k) : LambdaReturnsScan(k) {}
  simd::Coefs16 Coefs16(size_t t, size_t n) const {
    const size_t i = t * p.N + n;
    const __mmask16 live = kTerm ? static_cast<__mmask16>(~simd::Set16(p.terminated + i)) : 0xffff;
    // a = r at terminations (V(s_{t+1}) not read).
    const __m512 a = _mm512_mask3_fmadd_ps(_mm512_set1_ps(g_boot), _mm512_loadu_ps(p.values + i + p.N),
                                           _mm512_loadu_ps(p.rewards + i), live);
    return simd::Coefs16::Masked(a, live, _mm512_set1_pd(g_lambda));
  }
};

// Small batches (T N < 2^16, N >= 16) of the usual call: the last row by the general kernel, the
// others by LambdaReturnsInterior, in the blocks of ReverseScanSerial (so the same results).
bool LambdaReturnsSmall(const LambdaReturnsProblem& p) {
  if (p.N < 16 || p.T < 2 || p.T * p.N >= (size_t{1} << 16) || p.truncated || p.next_values || p.gamma.values ||
      p.lambda.values) {
    return false;
  }
  const LambdaReturnsScan k(p);
  const LambdaReturnsInterior<true> with_term(k);
  const LambdaReturnsInterior<false> without_term(k);
  alignas(64) double carry[kScanColumns];
  for (size_t b0 = 0; b0 < p.N; b0 += kScanColumns) {
    const size_t b1 = std::min(p.N, b0 + kScanColumns);
    std::fill(carry, carry + (b1 - b0), 0.0);
    RunRows<true>(k, p.T - 1, p.T, b0, b1, carry, nullptr);
    if (p.terminated) RunRows<true>(with_term, 0, p.T - 1, b0, b1, carry, nullptr);
    else RunRows<true>(without_term, 0, p.T - 1, b0, b1, carry, nullptr);
  }
  return true;
}

// One-column batches through LambdaReturnsColumn where it applies; false where it does not.
bool LambdaReturnsOneColumn(const LambdaReturnsProblem& p) {
  if (p.N != 1 || p.T < 16 || p.truncated || p.next_values || p.gamma.values || p.lambda.values) return false;
  const LambdaReturnsScan k(p);
  simd::ScanOneColumn(k, p.T, p.T * p.N >= simd::kStreamElements, [&](auto run) {
    if (p.terminated) run(LambdaReturnsColumn<true>{p.rewards, p.values, p.terminated, p.returns, k.g_boot, k.g_lambda});
    else run(LambdaReturnsColumn<false>{p.rewards, p.values, p.terminated, p.returns, k.g_boot, k.g_lambda});
  });
  return true;
}
#endif

// lambdaReturns(T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?,
//               finalValues?, gamma, lambda, outReturns, useCuda, async)
Napi::Value LambdaReturnsBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "lambdaReturns";
  Napi::Env env = info.Env();
  LambdaReturnsProblem p;
  const Shape tn = ReadBootstrapInputs(info, kKernel, p);
  const size_t TN = p.T * p.N;
  p.gamma = StepParamArg(info, 9, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  p.lambda = StepParamArg(info, 10, kKernel, "lambda", p.T, p.N, 0.0, 1.0);
  p.returns = F32Arg(info, 11, kKernel, "out.returns", false, TN, tn).data;
  const bool use_cuda = BoolArg(info, 12), async = BoolArg(info, 13);
  CheckDevice(env, kKernel, use_cuda);
  CheckOutputAlias(env, kKernel, "out.returns", p.returns, p);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::LambdaReturns(p);
#endif
    (void)use_cuda;
    LambdaReturnsCpu(p);
  }, KeepArgs{2, 12});
}

}  // namespace

void LambdaReturnsCpu(const LambdaReturnsProblem& p) {
#if RLCORE_SCAN_SIMD
  if (LambdaReturnsOneColumn(p) || LambdaReturnsSmall(p)) return;
#endif
  ReverseScan(LambdaReturnsScan(p), p.T, p.N);
}

RLCORE_EXPORT(lambdaReturns, LambdaReturnsBinding);

}  // namespace rlcore
