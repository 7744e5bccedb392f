// Discounted returns, "reward-to-go" (Sutton & Barto 2018, ch. 3; the Monte-Carlo target of
// REINFORCE, Williams 1992), with Gymnasium's split of episode ends:
//
//   G_t = r_t + γ_t (1 - done_t) G_{t+1} + trunc_t γ_t V(final obs_t),   G_T = lastValues (or 0)
//
// done_t = term_t | trunc_t cuts the sum at every episode end. A truncated step adds the
// discounted value of its final observation when finalValues is given; without it, a truncated
// step ends the sum with no bootstrap (as a terminated one does). Reverse affine scan with
// a_t = r_t + trunc_t γ_t V(final obs_t), c_t = γ_t (1 - done_t); trunc_t and (1 - done_t) are
// selects, not products, so NaN or Inf in a later episode stays there (scan.h).
#include "discounted_returns.h"

#include "../core/binding.h"
#include "../core/scan.h"
#include "../core/select.h"
#include "../core/simd_scan.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

struct DiscountedReturnsScan {
  DiscountedReturnsProblem p;
  double Boundary(size_t n) const { return p.last_values ? p.last_values[n] : 0.0; }

  template <bool kWrite>
  void Rows(size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, double* s1) const {
    const size_t N = p.N, w = n1 - n0;
    float gbuf[kScanColumns];
    for (size_t t = t_hi; t-- > t_lo;) {
      const size_t row = t * N + n0;
      const float* __restrict r = p.rewards + row;
      const uint8_t* __restrict term = bootstrap::Flags(p.terminated, N, t, n0);
      const uint8_t* __restrict trunc = bootstrap::Flags(p.truncated, N, t, n0);
      const float* __restrict fin = p.final_values ? p.final_values + row : bootstrap::kZeros;
      const float* __restrict g = p.gamma.Row(t, n0, w, gbuf);
      float* __restrict ret = p.returns + row;
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        const float boot = Select(trunc[j], fin[j], 0.f);
        const float g_cont = Select(term[j] | trunc[j], 0.f, g[j]);
        const double a = static_cast<double>(r[j]) + static_cast<double>(g[j]) * boot;
        const double y = ScanApply<kWrite>(a, g_cont, s0, s1, j);
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
    const __m512 g = simd::Param16(p.gamma, t, n), r = _mm512_loadu_ps(p.rewards + i);
    const __m512 a = (trunc && p.final_values)
                         ? _mm512_mask3_fmadd_ps(g, _mm512_maskz_loadu_ps(trunc, p.final_values + i), r, trunc)
                         : r;
    return simd::Coefs16::Of(a, _mm512_maskz_mov_ps(static_cast<__mmask16>(~(term | trunc)), g));
  }
  void Write16(size_t t, size_t n, const simd::Coefs16&, __m512 y, __m512, bool stream) const { simd::Store16(p.returns + t * p.N + n, y, stream); }

  // Steps [t, t + 8) of a one-column batch (simd_scan.h), same arithmetic as Coefs16.
  simd::Coefs8 Coefs8(size_t t) const {
    const __mmask8 term = p.terminated ? simd::Set8(p.terminated + t) : 0;
    const __mmask8 trunc = p.truncated ? simd::Set8(p.truncated + t) : 0;
    const __m256 g = simd::Param8(p.gamma, t), r = _mm256_loadu_ps(p.rewards + t);
    const __m256 a = (trunc && p.final_values)
                         ? _mm256_mask3_fmadd_ps(g, _mm256_maskz_loadu_ps(trunc, p.final_values + t), r, trunc)
                         : r;
    return {_mm512_cvtps_pd(a), _mm512_cvtps_pd(_mm256_maskz_mov_ps(static_cast<__mmask8>(~(term | trunc)), g))};
  }
  void Write8(size_t t, const simd::Coefs8&, __m512d y, __m256, bool stream) const { simd::Store8(p.returns + t, _mm512_cvtpd_ps(y), stream); }
#endif

  // Single column n, steps [t_lo, t_hi): the narrow-batch path (one long sequence), same
  // arithmetic as Rows.
  template <bool kWrite>
  void Column(size_t n, size_t t_lo, size_t t_hi, double* s0, double* s1) const {
    const size_t N = p.N;
    double y = *s0, C = s1 ? *s1 : 1.0;
    for (size_t t = t_hi; t-- > t_lo;) {
      const size_t i = t * N + n;
      const bool term = p.terminated && p.terminated[i];
      const bool trunc = p.truncated && p.truncated[i];
      const float g = p.gamma.At(t, n);
      const float boot = (trunc && p.final_values) ? p.final_values[i] : 0.f;
      const double a = static_cast<double>(p.rewards[i]) + static_cast<double>(g) * boot;
      ScanApply<kWrite>(a, (term || trunc) ? 0.f : g, &y, &C, 0);
      if constexpr (kWrite) p.returns[i] = static_cast<float>(y);
    }
    *s0 = y;
    if constexpr (!kWrite) *s1 = C;
  }
};

// discountedReturns(T, N, rewards, terminated?, truncated?, lastValues?, finalValues?, gamma,
//                   outReturns, useCuda, async)
Napi::Value DiscountedReturnsBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "discountedReturns";
  Napi::Env env = info.Env();
  DiscountedReturnsProblem p;
  p.T = SizeArg(info, 0, kKernel, "T");
  p.N = SizeArg(info, 1, kKernel, "N");
  const Shape tn = ShapeText("[T, N]", {p.T, p.N});
  const size_t TN = CheckedProduct(env, kKernel, tn);
  p.rewards = F32Arg(info, 2, kKernel, "rewards", false, TN, tn).data;
  p.terminated = U8Arg(info, 3, kKernel, "terminated", true, TN, tn).data;
  p.truncated = U8Arg(info, 4, kKernel, "truncated", true, TN, tn).data;
  p.last_values = F32Arg(info, 5, kKernel, "lastValues", true, p.N, ShapeText("[N]", {p.N})).data;
  p.final_values = F32Arg(info, 6, kKernel, "finalValues", true, TN, tn).data;
  p.gamma = StepParamArg(info, 7, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  p.returns = F32Arg(info, 8, kKernel, "out.returns", false, TN, tn).data;
  const bool use_cuda = BoolArg(info, 9), async = BoolArg(info, 10);
  CheckDevice(env, kKernel, use_cuda);
  const size_t bytes = TN * sizeof(float);
  const void* inputs[] = {p.rewards, p.final_values, p.terminated, p.truncated, p.last_values};
  const size_t input_bytes[] = {bytes, bytes, TN, TN, p.N * sizeof(float)};
  const char* input_names[] = {"rewards", "finalValues", "terminated", "truncated", "lastValues"};
  for (size_t k = 0; k < 5; ++k) {
    CheckNoOverlap(env, kKernel, "out.returns", p.returns, bytes, input_names[k], inputs[k], input_bytes[k]);
  }
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::DiscountedReturns(p);
#endif
    (void)use_cuda;
    DiscountedReturnsCpu(p);
  }, KeepArgs{2, 9});
}

#if RLCORE_SCAN_SIMD
// One column with a scalar γ (one long sequence, the usual Monte-Carlo call), 16 steps per
// vector step from the end: the block scan of simd_scan.h with c = γ, except that an episode end
// (cut_t = term_t | trunc_t) stops the sums, so each doubling step is gated by the lanes with a
// cut within its shift (itself doubled by mask shifts), and the carry reaches only the lanes
// with no cut after them:
//   G_{b+i} = x_i + [no cut in [b+i, b+16)] c^{16-i} G_{b+16},
//   x_i = Σ_k [no cut in [b+i, b+i+k)] c^k a_{b+i+k},   a_t = r_t + trunc_t γ V(final obs_t).
// ReverseScan's one-column path (float64 throughout) ran at ~1.5G steps/s in cache and out of
// it alike: arithmetic, not memory, bounded it.
void DiscountedOneColumn(const DiscountedReturnsProblem& p) {
  const size_t T = p.T, head = T % 16;
  const float g = p.gamma.scalar;
  const DiscountedReturnsScan scan{p};
  double y = scan.Boundary(0);
  scan.Column<true>(0, T - head, T, &y, nullptr);  // the last T mod 16 steps, one by one
  const simd::BlockPowers16 k(g);
  const __m512 gv = _mm512_set1_ps(g);
  __m128d carry = _mm_set_sd(y);
  for (size_t b = T - head; b > 0;) {
    b -= 16;
    const __mmask16 term = p.terminated ? simd::Set16(p.terminated + b) : 0;
    const __mmask16 trunc = p.truncated ? simd::Set16(p.truncated + b) : 0;
    __m512 x = _mm512_loadu_ps(p.rewards + b);
    if (trunc && p.final_values) x = _mm512_mask3_fmadd_ps(gv, _mm512_maskz_loadu_ps(trunc, p.final_values + b), x, trunc);
    // Lanes with a cut within the span summed so far; with γ = 0, every lane (y_t = a_t).
    __mmask16 cut = term | trunc | (g == 0.f ? 0xffff : 0);
    // simd::BlockSums16, each step gated by the lanes with a cut within its shift.
    x = _mm512_mask3_fmadd_ps(k.c1, simd::ShiftDown<1>(x), x, static_cast<__mmask16>(~cut));
    cut |= cut >> 1;
    x = _mm512_mask3_fmadd_ps(k.c2, simd::ShiftDown<2>(x), x, static_cast<__mmask16>(~cut));
    cut |= cut >> 2;
    x = _mm512_mask3_fmadd_ps(k.c4, simd::ShiftDown<4>(x), x, static_cast<__mmask16>(~cut));
    cut |= cut >> 4;
    x = _mm512_mask3_fmadd_ps(k.c8, simd::ShiftDown<8>(x), x, static_cast<__mmask16>(~cut));
    cut |= cut >> 8;  // lane i: a cut in [b + i, b + 16)
    _mm512_storeu_ps(p.returns + b, _mm512_mask3_fmadd_ps(k.tail, simd::CarryLanes16(carry), x, static_cast<__mmask16>(~cut)));
    carry = (cut & 1) ? _mm_cvtss_sd(_mm_setzero_pd(), _mm512_castps512_ps128(x)) : simd::NextCarry16(k, carry, x);
  }
}
#endif

}  // namespace

void DiscountedReturnsCpu(const DiscountedReturnsProblem& p) {
#if RLCORE_SCAN_SIMD
  if (p.N == 1 && !p.gamma.values) return DiscountedOneColumn(p);
#endif
  ReverseScan(DiscountedReturnsScan{p}, p.T, p.N);
}

RLCORE_EXPORT(discountedReturns, DiscountedReturnsBinding);

}  // namespace rlcore
