// Advantage normalisation, as PPO implementations apply it to a minibatch of advantages and as
// TRL's masked_whiten applies it to token-level advantages:
//
//   μ = mean(x_S),  σ = std(x_S) (Bessel-corrected unless unbiased = false)
//   out = (x - μ) / (σ + eps)            (shiftMean)
//   out = (x - μ) / (σ + eps) + μ        (shiftMean = false: keeps the mean)
//
// where S is every element, the elements with mask != 0 (masked-out outputs are 0), or the
// elements x[indices[j]] (out[j] then belongs to indices[j]: a gather and normalise).
#include "normalize.h"

#include <string>

#include "../core/binding.h"
#include "../core/select.h"
#include "../core/simd_scan.h"
#include "../../cuda/backend.h"
#include "moments.h"

namespace rlcore {
namespace {

constexpr size_t kGrain = 1 << 15;

// out[i] = m_i ? (x_i - mean) * scale + add : 0 over [0, n), in parallel.
// out = (x - mean) * scale + add in float32, with the mean split into two floats (mean_hi +
// mean_lo): x - mean_hi is exact when x is near the mean (Sterbenz), so the result keeps float32
// relative accuracy where cancellation would otherwise lose it, at one conversion-free fma per
// element (the float64 form costs four conversions per vector).
template <bool kMasked>
void Affine(const float* x, const uint8_t* mask, size_t n, double mean, double scale, double add, float* out) {
  const float mean_hi = static_cast<float>(mean), mean_lo = static_cast<float>(mean - mean_hi);
  const float scale_f = static_cast<float>(scale), add_f = static_cast<float>(add);
  ParallelFor(n, kGrain, [=](size_t i0, size_t i1) {
    size_t i = i0;
#if RLCORE_SCAN_SIMD
    // Out of cache the output is written with streaming stores (no read of its lines first).
    const bool stream = n >= simd::kStreamElements;
    const __m512 hi16 = _mm512_set1_ps(mean_hi), lo16 = _mm512_set1_ps(mean_lo);
    const __m512 scale16 = _mm512_set1_ps(scale_f), add16 = _mm512_set1_ps(add_f);
    for (; i + simd::kLanes <= i1; i += simd::kLanes) {
      __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), hi16), lo16), scale16, add16);
      if (kMasked) v = _mm512_maskz_mov_ps(simd::Set16(mask + i), v);
      simd::Store16(out + i, v, stream);
    }
    simd::Fence(stream);
#endif
    for (; i < i1; ++i) {
      const float v = ((x[i] - mean_hi) - mean_lo) * scale_f + add_f;
      out[i] = kMasked ? Select(mask[i], v, 0.f) : v;
    }
  });
}

Napi::Value WhitenBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "whiten";
  Napi::Env env = info.Env();
  WhitenProblem p;
  ArrayArg<float> x = F32Arg(info, 0, kKernel, "x", false, SIZE_MAX, "");
  p.n = x.length;
  p.x = x.data;
  const std::string nshape = ShapeText("[n]", {p.n});
  p.mask = U8Arg(info, 1, kKernel, "mask", true, p.n, nshape).data;
  ArrayArg<int32_t> idx = I32Arg(info, 2, kKernel, "indices", true, SIZE_MAX, "");
  p.indices = idx.data;
  p.k = idx.length;
  if (p.mask && p.indices) ThrowError(env, "ERR_ARG", "whiten: give mask or indices, not both");
  p.eps = NumberArg(info, 3, kKernel, "eps", 0.0, 1.7976931348623157e308);
  if (!(p.eps > 0.0)) ThrowError(env, "ERR_RANGE", "whiten: eps must be a finite number > 0; received 0");
  p.unbiased = BoolArg(info, 4);
  p.shift_mean = BoolArg(info, 5);
  const size_t out_len = p.indices ? p.k : p.n;
  p.out = F32Arg(info, 6, kKernel, "out", false, out_len, p.indices ? ShapeText("[k]", {p.k}) : nshape).data;
  p.stats = F64Arg(info, 7, kKernel, "stats", false, 3, "[3]").data;
  const bool use_cuda = BoolArg(info, 8), async = BoolArg(info, 9);
  CheckDevice(env, kKernel, use_cuda);
  for (size_t j = 0; j < p.k; ++j) {
    if (p.indices[j] < 0 || static_cast<size_t>(p.indices[j]) >= p.n) {
      ThrowError(env, "ERR_RANGE", "whiten: indices[" + std::to_string(j) + "] must be in [0, " +
                                       std::to_string(p.n) + "); received " + std::to_string(p.indices[j]));
    }
  }
  const size_t out_bytes = out_len * sizeof(float);
  CheckNoOverlap(env, kKernel, "out", p.out, out_bytes, "x", p.x, p.n * sizeof(float));
  CheckNoOverlap(env, kKernel, "out", p.out, out_bytes, "mask", p.mask, p.mask ? p.n : 0);
  CheckNoOverlap(env, kKernel, "out", p.out, out_bytes, "indices", p.indices, p.k * sizeof(int32_t));
  CheckNoOverlap(env, kKernel, "out", p.out, out_bytes, "stats", p.stats, 3 * sizeof(double));
  const auto indices_copy = AsyncIndexCopy(async, p.indices, p.k);
  if (indices_copy) p.indices = indices_copy->data();
  return RunKernel(info, async, [p, use_cuda, indices_copy] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::Whiten(p);
#endif
    (void)use_cuda;
    WhitenCpu(p);
  }, KeepArgs{0, 8});
}

}  // namespace

void WhitenCpu(const WhitenProblem& p) {
  // A minibatch is gathered into `out` first; it is then normalised in place like a whole array.
  const float* src = p.x;
  size_t n = p.n;
  if (p.indices) {
    const int32_t* idx = p.indices;
    const float* x = p.x;
    float* out = p.out;
    ParallelFor(p.k, kGrain, [=](size_t j0, size_t j1) {
      for (size_t j = j0; j < j1; ++j) out[j] = x[idx[j]];
    });
    src = p.out;
    n = p.k;
  }
  const Moments m = ComputeMoments(src, p.mask, n);
  const double std = MomentsStd(m, p.unbiased);
  const double scale = 1.0 / (std + p.eps);
  const double add = p.shift_mean ? 0.0 : m.mean;
  if (p.mask) Affine<true>(src, p.mask, n, m.mean, scale, add, p.out);
  else Affine<false>(src, nullptr, n, m.mean, scale, add, p.out);
  p.stats[0] = m.mean;
  p.stats[1] = std;
  p.stats[2] = m.count;
}

RLCORE_EXPORT(whiten, WhitenBinding);

}  // namespace rlcore
