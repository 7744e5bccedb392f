// Optimiser kernels (see optim.h for the formulas) and their bindings.
#include "optim.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../core/binding.h"
#include "../core/thread_pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RLCORE_NN_X86 1
#include <immintrin.h>
#endif

namespace rlcore::nn {
namespace {

constexpr size_t kBlock = 1 << 14;

// fn(i0, i1) over [0, n) in pieces that start at multiples of kBlock, so that which code path
// (vector body or scalar tail) handles an element never depends on the thread count.
template <class F>
void ForBlocks(size_t n, F&& fn) {
  if (n < 4 * kBlock) return fn(size_t{0}, n);
  ParallelFor((n + kBlock - 1) / kBlock, 1, [&](size_t b0, size_t b1) { fn(b0 * kBlock, std::min(n, b1 * kBlock)); });
}

}  // namespace

namespace {
struct AdamCoefs {
  float b1, b2, c1, c2, step_size, inv_bc2_sqrt, eps, wd, shrink;
};

inline void AdamOne(float* w, float* m, float* v, const float* g0, const AdamCoefs& k, size_t i) {
  const float g = g0[i] + k.wd * w[i];
  const float mi = k.b1 * m[i] + k.c1 * g;
  const float vi = k.b2 * v[i] + k.c2 * (g * g);
  m[i] = mi;
  v[i] = vi;
  w[i] = w[i] * k.shrink - k.step_size * mi / (std::sqrt(vi) * k.inv_bc2_sqrt + k.eps);
}

// GCC will not vectorise std::sqrt while it may have to set errno, so the x86 path spells out
// the IEEE operations in SSE2. The last n mod 4 elements go through the same vector code via a
// padded copy: with -march=native GCC contracts the scalar loop's a * b + c into FMAs, which
// round differently.
void AdamRange(float* w, float* m, float* v, const float* g0, const AdamCoefs& k, size_t i0, size_t i1) {
  size_t i = i0;
#ifdef RLCORE_NN_X86
  const __m128 b1 = _mm_set1_ps(k.b1), b2 = _mm_set1_ps(k.b2), c1 = _mm_set1_ps(k.c1), c2 = _mm_set1_ps(k.c2);
  const __m128 ss = _mm_set1_ps(k.step_size), ib = _mm_set1_ps(k.inv_bc2_sqrt), eps = _mm_set1_ps(k.eps);
  const __m128 wd = _mm_set1_ps(k.wd), shrink = _mm_set1_ps(k.shrink);
  auto step4 = [&](float* w4, float* m4, float* v4, const float* g4) {
    const __m128 wi = _mm_loadu_ps(w4);
    const __m128 g = _mm_add_ps(_mm_loadu_ps(g4), _mm_mul_ps(wd, wi));
    const __m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m4)), _mm_mul_ps(c1, g));
    const __m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v4)), _mm_mul_ps(c2, _mm_mul_ps(g, g)));
    _mm_storeu_ps(m4, mi);
    _mm_storeu_ps(v4, vi);
    const __m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), ib), eps);
    _mm_storeu_ps(w4, _mm_sub_ps(_mm_mul_ps(wi, shrink), _mm_div_ps(_mm_mul_ps(ss, mi), den)));
  };
  for (; i + 4 <= i1; i += 4) step4(w + i, m + i, v + i, g0 + i);
  if (i == i1) return;
  float tw[4] = {0, 0, 0, 0}, tm[4] = {0, 0, 0, 0}, tv[4] = {0, 0, 0, 0}, tg[4] = {0, 0, 0, 0};
  const size_t r = i1 - i;
  std::memcpy(tw, w + i, r * sizeof(float)), std::memcpy(tm, m + i, r * sizeof(float));
  std::memcpy(tv, v + i, r * sizeof(float)), std::memcpy(tg, g0 + i, r * sizeof(float));
  step4(tw, tm, tv, tg);
  std::memcpy(w + i, tw, r * sizeof(float)), std::memcpy(m + i, tm, r * sizeof(float));
  std::memcpy(v + i, tv, r * sizeof(float));
#else
  for (; i < i1; ++i) AdamOne(w, m, v, g0, k, i);
#endif
}
}  // namespace

void AdamCpu(const AdamProblem& p) {
  AdamCoefs k;
  k.b1 = static_cast<float>(p.beta1), k.b2 = static_cast<float>(p.beta2);
  k.c1 = static_cast<float>(1.0 - p.beta1), k.c2 = static_cast<float>(1.0 - p.beta2);
  k.step_size = static_cast<float>(p.lr / (1.0 - std::pow(p.beta1, p.step)));
  k.inv_bc2_sqrt = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(p.beta2, p.step)));
  k.eps = static_cast<float>(p.eps);
  k.wd = p.decoupled ? 0.f : static_cast<float>(p.weight_decay);
  k.shrink = p.decoupled ? static_cast<float>(1.0 - p.lr * p.weight_decay) : 1.f;
  ForBlocks(p.n, [&](size_t i0, size_t i1) { AdamRange(p.params, p.m, p.v, p.grads, k, i0, i1); });
}

void SgdCpu(const SgdProblem& p) {
  const float lr = static_cast<float>(p.lr), mu = static_cast<float>(p.momentum);
  const float damp = static_cast<float>(1.0 - p.dampening), wd = static_cast<float>(p.weight_decay);
  ForBlocks(p.n, [&](size_t i0, size_t i1) {
    float *w = p.params, *b = p.buf;
    const float* g0 = p.grads;
    if (!b) {
      for (size_t i = i0; i < i1; ++i) w[i] -= lr * (g0[i] + wd * w[i]);
      return;
    }
    for (size_t i = i0; i < i1; ++i) {
      const float g = g0[i] + wd * w[i];
      b[i] = p.first ? g : mu * b[i] + damp * g;
      const float d = p.nesterov ? g + mu * b[i] : b[i];
      w[i] -= lr * d;
    }
  });
}

double GlobalNormCpu(const float* g, size_t n) {
  const size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(blocks);
  auto run = [&](size_t b0, size_t b1) {
    for (size_t b = b0; b < b1; ++b) {
      const size_t i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
      double part[4] = {0, 0, 0, 0};
      size_t i = i0;
      for (; i + 4 <= i1; i += 4)
        for (size_t l = 0; l < 4; ++l) part[l] += static_cast<double>(g[i + l]) * g[i + l];
      for (; i < i1; ++i) part[0] += static_cast<double>(g[i]) * g[i];
      partial[b] = (part[0] + part[1]) + (part[2] + part[3]);
    }
  };
  if (blocks < 4) run(0, blocks);
  else ParallelFor(blocks, 1, run);
  double s = 0;
  for (double v : partial) s += v;
  return std::sqrt(s);
}

void ScaleCpu(float* g, size_t n, float s) {
  ForBlocks(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) g[i] *= s;
  });
}

void PolyakCpu(float* target, const float* source, size_t n, double tau) {
  if (tau == 1.0) {
    std::memcpy(target, source, n * sizeof(float));
    return;
  }
  const float a = static_cast<float>(1.0 - tau), b = static_cast<float>(tau);
  ForBlocks(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) target[i] = a * target[i] + b * source[i];
  });
}

namespace {

constexpr double kMaxLr = 1e6;

// Reads the parameter and gradient arrays (equal lengths, no shared memory).
struct ParamArgs {
  ArrayArg<float> params, grads;
};
ParamArgs ReadParams(const Napi::CallbackInfo& info, const char* kernel) {
  ParamArgs a;
  a.params = F32Arg(info, 0, kernel, "params", false, SIZE_MAX, "");
  const std::string shape = ShapeText("[P]", {a.params.length});
  a.grads = F32Arg(info, 1, kernel, "grads", false, a.params.length, shape);
  CheckNoOverlap(info.Env(), kernel, "params", a.params.data, a.params.length * 4, "grads", a.grads.data,
                 a.grads.length * 4);
  return a;
}

// nnAdam(params, grads, m, v, step, lr, beta1, beta2, eps, weightDecay, decoupled, useCuda, async)
Napi::Value AdamBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnAdam";
  Napi::Env env = info.Env();
  ParamArgs a = ReadParams(info, kKernel);
  const size_t P = a.params.length;
  const std::string shape = ShapeText("[P]", {P});
  AdamProblem p;
  p.n = P;
  p.params = a.params.data;
  p.grads = a.grads.data;
  p.m = F32Arg(info, 2, kKernel, "state.m", false, P, shape).data;
  p.v = F32Arg(info, 3, kKernel, "state.v", false, P, shape).data;
  p.step = static_cast<double>(SizeArg(info, 4, kKernel, "step"));
  p.lr = NumberArg(info, 5, kKernel, "lr", 0, kMaxLr);
  p.beta1 = NumberArg(info, 6, kKernel, "beta1", 0, 0.999999);
  p.beta2 = NumberArg(info, 7, kKernel, "beta2", 0, 0.999999);
  p.eps = NumberArg(info, 8, kKernel, "eps", 0, 1);
  p.weight_decay = NumberArg(info, 9, kKernel, "weightDecay", 0, 1e6);
  p.decoupled = BoolArg(info, 10);
  const bool use_cuda = BoolArg(info, 11), async = BoolArg(info, 12);
  CheckDevice(env, kKernel, use_cuda);
  const void* arrays[] = {p.params, p.grads, p.m, p.v};
  const char* names[] = {"params", "grads", "state.m", "state.v"};
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = i + 1; j < 4; ++j) CheckNoOverlap(env, kKernel, names[i], arrays[i], P * 4, names[j], arrays[j], P * 4);
  return RunKernel(info, async, [p] { AdamCpu(p); }, {info[0], info[1], info[2], info[3]});
}

// nnSgd(params, grads, buf?, lr, momentum, dampening, weightDecay, nesterov, first, useCuda, async)
Napi::Value SgdBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnSgd";
  Napi::Env env = info.Env();
  ParamArgs a = ReadParams(info, kKernel);
  const size_t P = a.params.length;
  SgdProblem p;
  p.n = P;
  p.params = a.params.data;
  p.grads = a.grads.data;
  p.buf = F32Arg(info, 2, kKernel, "state.momentumBuffer", true, P, ShapeText("[P]", {P})).data;
  p.lr = NumberArg(info, 3, kKernel, "lr", 0, kMaxLr);
  p.momentum = NumberArg(info, 4, kKernel, "momentum", 0, 1);
  p.dampening = NumberArg(info, 5, kKernel, "dampening", 0, 1);
  p.weight_decay = NumberArg(info, 6, kKernel, "weightDecay", 0, 1e6);
  p.nesterov = BoolArg(info, 7);
  p.first = BoolArg(info, 8);
  const bool use_cuda = BoolArg(info, 9), async = BoolArg(info, 10);
  CheckDevice(env, kKernel, use_cuda);
  if (p.momentum > 0 && !p.buf) ThrowError(env, "ERR_ARG", "nnSgd: momentum > 0 needs a momentum buffer");
  if (p.nesterov && (p.momentum <= 0 || p.dampening != 0)) {
    ThrowError(env, "ERR_ARG", "nnSgd: nesterov needs momentum > 0 and dampening = 0");
  }
  CheckNoOverlap(env, kKernel, "state.momentumBuffer", p.buf, P * 4, "params", p.params, P * 4);
  CheckNoOverlap(env, kKernel, "state.momentumBuffer", p.buf, P * 4, "grads", p.grads, P * 4);
  return RunKernel(info, async, [p] { SgdCpu(p); }, {info[0], info[1], info[2]});
}

// nnClipGradNorm(grads, maxNorm, outNorm: Float64Array(1), useCuda, async): scales grads by
// maxNorm / (norm + 1e-6) when norm > maxNorm; writes the norm before clipping. A non-finite
// norm is reported and the gradients are left as they are.
Napi::Value ClipBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnClipGradNorm";
  Napi::Env env = info.Env();
  ArrayArg<float> g = F32Arg(info, 0, kKernel, "grads", false, SIZE_MAX, "");
  const double max_norm = NumberArg(info, 1, kKernel, "maxNorm", 0, 3.4e38);
  double* out = F64Arg(info, 2, kKernel, "outNorm", false, 1, "[1]").data;
  const bool use_cuda = BoolArg(info, 3), async = BoolArg(info, 4);
  CheckDevice(env, kKernel, use_cuda);
  float* data = g.data;
  const size_t n = g.length;
  return RunKernel(info, async, [data, n, max_norm, out] {
    const double norm = GlobalNormCpu(data, n);
    *out = norm;
    if (std::isfinite(norm) && norm > max_norm) ScaleCpu(data, n, static_cast<float>(max_norm / (norm + 1e-6)));
  }, {info[0], info[2]});
}

// nnPolyak(target, source, tau, useCuda, async)
Napi::Value PolyakBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnPolyak";
  Napi::Env env = info.Env();
  ArrayArg<float> t = F32Arg(info, 0, kKernel, "target", false, SIZE_MAX, "");
  ArrayArg<float> s = F32Arg(info, 1, kKernel, "source", false, t.length, ShapeText("[P]", {t.length}));
  const double tau = NumberArg(info, 2, kKernel, "tau", 0, 1);
  const bool use_cuda = BoolArg(info, 3), async = BoolArg(info, 4);
  CheckDevice(env, kKernel, use_cuda);
  CheckNoOverlap(env, kKernel, "target", t.data, t.length * 4, "source", s.data, s.length * 4);
  float* target = t.data;
  const float* source = s.data;
  const size_t n = t.length;
  return RunKernel(info, async, [target, source, n, tau] { PolyakCpu(target, source, n, tau); }, {info[0], info[1]});
}

}  // namespace

RLCORE_EXPORT(nnAdam, AdamBinding);
RLCORE_EXPORT(nnSgd, SgdBinding);
RLCORE_EXPORT(nnClipGradNorm, ClipBinding);
RLCORE_EXPORT(nnPolyak, PolyakBinding);

}  // namespace rlcore::nn
