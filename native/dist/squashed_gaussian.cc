// Tanh-squashed Gaussian policy (SAC; Haarnoja et al. 2018, "Soft Actor-Critic", arXiv:1801.01290,
// appendix C): u = μ + σ ε with ε ~ N(0, I), a = tanh(u), and
//
//   log π(a) = Σ_j [ −½ ε_j² − log σ_j − ½ log 2π − log(1 − tanh² u_j) ]
//   log(1 − tanh² u) = 2 (log 2 − u − softplus(−2u))        (stable for any u)
//
// Reparameterised gradients with ε held fixed (∂u/∂μ = 1, ∂u/∂log σ = σ ε):
//
//   ∂ log π / ∂μ_j     = 2 tanh u_j
//   ∂ log π / ∂log σ_j = −1 + 2 tanh(u_j) σ_j ε_j
//   ∂ a_j / ∂μ_j       = 1 − tanh² u_j = sech² u_j,   ∂ a_j / ∂log σ_j = sech² u_j σ_j ε_j
//
// The backward pass writes g_lp · ∂log π/∂θ + Σ_j g_a,j · ∂a_j/∂θ: the SAC actor loss
// mean(α log π − Q(s, a)) is g_lp = α / B and g_a = −(∂Q/∂a) / B.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../core/binding.h"
#include "args.h"
#include "batch.h"
#include "fastmath.h"
#include "gaussian.h"

namespace rlcore {

void SquashedGaussianCpu(const SquashedGaussianProblem& p) {
  const size_t A = p.A;
  const bool free_grad = p.grad_log_std && !p.per_row;
  const bool backward = p.grad_mean || p.grad_log_std;
  const size_t chunk_rows = std::max<size_t>(1, 4096 / A);
  std::vector<double> partial(free_grad ? RowBlocks(p.B) * A : 0);
  ForRowBlocks(p.B, A * 12, [&](size_t k, size_t r0, size_t r1) {
    const size_t cap = std::min(chunk_rows, r1 - r0) * A;
    std::vector<float> ls_buf(p.per_row ? 0 : cap), noise_buf(p.noise ? 0 : cap), term(cap), g_u(cap), sech2(cap), se(cap), th(cap), ub(cap);
    std::vector<float> normal_scratch(p.noise ? 0 : 4 * std::min(chunk_rows, r1 - r0) * ((A + 1) / 2));
    double* acc = free_grad ? &partial[k * A] : nullptr;
    for (size_t c0 = r0; c0 < r1; c0 += chunk_rows) {
      const size_t c1 = std::min(r1, c0 + chunk_rows), rows = c1 - c0, n = rows * A;
      const float* mu = p.mean + c0 * A;
      const float* ls = p.per_row ? p.log_std + c0 * A : ls_buf.data();
      if (!p.per_row)
        for (size_t r = 0; r < rows; ++r) std::memcpy(&ls_buf[r * A], p.log_std, A * sizeof(float));
      const float* e = p.noise ? p.noise + c0 * A : noise_buf.data();
      if (!p.noise) {
        StandardNormalRows(p.seed, c0, rows, A, normal_scratch.data(), noise_buf.data());
        std::memcpy(p.noise_out + c0 * A, noise_buf.data(), n * sizeof(float));
      }
      float* act = p.actions ? p.actions + c0 * A : nullptr;
      float* pre = p.pre_tanh ? p.pre_tanh + c0 * A : nullptr;
      const float* ga = p.grad_actions ? p.grad_actions + c0 * A : nullptr;
      // Separate flat passes so that each one vectorises.
      for (size_t i = 0; i < n; ++i) se[i] = ExpF(ls[i]) * e[i];  // σ ε = ∂u/∂log σ
      for (size_t i = 0; i < n; ++i) ub[i] = mu[i] + se[i];
      for (size_t i = 0; i < n; ++i) th[i] = ExpF(-2.0f * __builtin_fabsf(ub[i]));  // q
      for (size_t i = 0; i < n; ++i) g_u[i] = LogF(1.0f + th[i]);                   // log(1 + q)
      for (size_t i = 0; i < n; ++i) {
        const float u = ub[i];
        const float softplus_m2u = (__builtin_fabsf(u) - u) + g_u[i];
        term[i] = -0.5f * e[i] * e[i] - ls[i] - 2.0f * (static_cast<float>(kLog2) - u - softplus_m2u);
        const TanhParts t = TanhFromQ(u, th[i]);
        th[i] = t.tanh;
        sech2[i] = t.sech2;
        g_u[i] = 2.0f * t.tanh;  // ∂log π/∂u; gradActions add g_a sech² u per row below
      }
      if (act) std::memcpy(act, th.data(), n * sizeof(float));
      if (pre) std::memcpy(pre, ub.data(), n * sizeof(float));
      for (size_t r = 0; r < rows; ++r) {
        const size_t b = c0 + r, o = r * A;
        if (p.log_prob) p.log_prob[b] = static_cast<float>(SumF64(&term[o], A) - A * kHalfLog2Pi);
        if (!backward) continue;
        const float g_lp = p.grad_log_prob.At(b, 0);
        for (size_t j = 0; j < A; ++j) {
          const size_t i = o + j;
          const float gu = g_lp * g_u[i] + (ga ? ga[i] * sech2[i] : 0.f);
          if (p.grad_mean) p.grad_mean[b * A + j] = gu;
          // ∂u/∂log σ = σ ε
          const float g = gu * se[i] - g_lp;
          if (acc) acc[j] += g;
          else if (p.grad_log_std) p.grad_log_std[b * A + j] = g;
        }
      }
    }
  });
  if (free_grad) {
    std::vector<double> total(A);
    SumBlocks(partial, A, total.data());
    for (size_t j = 0; j < A; ++j) p.grad_log_std[j] = static_cast<float>(total[j]);
  }
}

namespace {

// squashedGaussian(B, A, mean, logStd, noise?, seed?, gradLogProb?, gradActions?, outActions?,
//                  outPreTanh?, outNoise?, outLogProb?, outGradMean?, outGradLogStd?, useCuda, async)
// Without noise, ε is drawn from the seed into outNoise (required then).
Napi::Value SquashedGaussianBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "squashedGaussian";
  Napi::Env env = info.Env();
  SquashedGaussianProblem p;
  p.B = SizeArg(info, 0, kKernel, "B");
  p.A = SizeArg(info, 1, kKernel, "A");
  const size_t BA = ElementsArg(env, kKernel, p.B, p.A);
  const std::string ba = ShapeText("[B, A]", {p.B, p.A}), b1 = ShapeText("[B]", {p.B});
  p.mean = F32Arg(info, 2, kKernel, "mean", false, BA, ba).data;
  ArrayArg<float> ls = F32Arg(info, 3, kKernel, "logStd", false, SIZE_MAX, "");
  if (ls.length != BA && ls.length != p.A) {
    ThrowError(env, "ERR_SHAPE",
               "squashedGaussian: logStd must have " + std::to_string(BA) + " ([B, A]) or " + std::to_string(p.A) +
                   " ([A]) elements; received " + std::to_string(ls.length));
  }
  p.log_std = ls.data;
  p.per_row = ls.length == BA;
  const size_t ls_len = ls.length;
  p.noise = F32Arg(info, 4, kKernel, "noise", true, BA, ba).data;
  p.noise_out = F32Arg(info, 10, kKernel, "out.noise", true, BA, ba).data;
  if (p.noise && p.noise_out) ThrowError(env, "ERR_ARG", "squashedGaussian: give noise or out.noise, not both");
  if (!p.noise) {
    if (!p.noise_out) ThrowError(env, "ERR_ARG", "squashedGaussian: without noise, out.noise ([B, A]) is required");
    p.seed = SeedArg(info, 5, kKernel);
  }
  p.grad_log_prob = RowGradArg(info, 6, kKernel, "gradLogProb", p.B);
  p.grad_actions = F32Arg(info, 7, kKernel, "gradActions", true, BA, ba).data;
  p.actions = F32Arg(info, 8, kKernel, "out.actions", true, BA, ba).data;
  p.pre_tanh = F32Arg(info, 9, kKernel, "out.preTanh", true, BA, ba).data;
  p.log_prob = F32Arg(info, 11, kKernel, "out.logProb", true, p.B, b1).data;
  p.grad_mean = F32Arg(info, 12, kKernel, "out.gradMean", true, BA, ba).data;
  p.grad_log_std = F32Arg(info, 13, kKernel, "out.gradLogStd", true, ls_len,
                          p.per_row ? ba : ShapeText("[A]", {p.A})).data;
  if (p.grad_actions) {
    for (size_t k = 0; k < BA; ++k) {
      if (!std::isfinite(p.grad_actions[k])) {
        ThrowError(env, "ERR_RANGE", "squashedGaussian: gradActions[" + std::to_string(k) + "] must be finite");
      }
    }
  }
  const bool use_cuda = BoolArg(info, 14), async = BoolArg(info, 15);
  CheckDevice(env, kKernel, use_cuda);
  const Region outs[] = {{"out.actions", p.actions, p.actions ? BA * 4 : 0},
                         {"out.preTanh", p.pre_tanh, p.pre_tanh ? BA * 4 : 0},
                         {"out.noise", p.noise_out, p.noise_out ? BA * 4 : 0},
                         {"out.logProb", p.log_prob, p.log_prob ? p.B * 4 : 0},
                         {"out.gradMean", p.grad_mean, p.grad_mean ? BA * 4 : 0},
                         {"out.gradLogStd", p.grad_log_std, p.grad_log_std ? ls_len * 4 : 0}};
  const Region ins[] = {{"mean", p.mean, BA * 4},
                        {"logStd", p.log_std, ls_len * 4},
                        {"noise", p.noise, p.noise ? BA * 4 : 0},
                        {"gradLogProb", p.grad_log_prob.values, p.grad_log_prob.length * 4},
                        {"gradActions", p.grad_actions, p.grad_actions ? BA * 4 : 0}};
  CheckRegions(env, kKernel, outs, ins);
  return RunKernel(info, async, [p] { SquashedGaussianCpu(p); }, KeepArgs{2, 14});
}

}  // namespace

RLCORE_EXPORT(squashedGaussian, SquashedGaussianBinding);

}  // namespace rlcore
