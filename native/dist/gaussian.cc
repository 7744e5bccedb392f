// Diagonal Gaussian policy π(x) = Π_j N(x_j; μ_j, σ_j²), with log σ state-dependent ([B, A]) or
// a free parameter ([A]); σ may also be given directly.
//
//   log π(x) = Σ_j −½ z_j² − log σ_j − ½ log 2π,   z_j = (x_j − μ_j) / σ_j
//   H        = Σ_j log σ_j + ½ (1 + log 2π)
//   ∂ log π / ∂μ_j = z_j / σ_j,   ∂ log π / ∂log σ_j = z_j² − 1,   ∂H / ∂log σ_j = 1
//
// (∂/∂σ_j = ∂/∂log σ_j / σ_j.) For a free log σ the gradient is summed over the batch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "../core/binding.h"
#include "args.h"
#include "batch.h"
#include "fastmath.h"
#include "gaussian.h"

namespace rlcore {

void GaussianCpu(const GaussianProblem& p) {
  const size_t A = p.A;
  const bool free_grad = p.grad_scale && !p.per_row;
  const size_t chunk_rows = std::max<size_t>(1, 4096 / A);
  std::vector<double> partial(free_grad ? RowBlocks(p.B) * A : 0);
  ForRowBlocks(p.B, A * 8, [&](size_t k, size_t r0, size_t r1) {
    const size_t cap = std::min(chunk_rows, r1 - r0) * A;
    std::vector<float> ls_buf(cap), inv_sigma(cap), z(cap), term(cap);
    std::vector<float> normal_scratch(p.sample ? 4 * std::min(chunk_rows, r1 - r0) * ((A + 1) / 2) : 0);
    double* acc = free_grad ? &partial[k * A] : nullptr;
    for (size_t c0 = r0; c0 < r1; c0 += chunk_rows) {
      const size_t c1 = std::min(r1, c0 + chunk_rows), rows = c1 - c0, n = rows * A;
      const float* mu = p.mean + c0 * A;
      const float* s = p.per_row ? p.scale + c0 * A : nullptr;
      if (!p.per_row) {  // a free parameter: repeat it for each row of the chunk
        for (size_t r = 0; r < rows; ++r) std::memcpy(&ls_buf[r * A], p.scale, A * sizeof(float));
        s = ls_buf.data();
      }
      const float* ls;
      if (p.scale_is_std) {  // σ given: log σ through libm (σ may be tiny)
        for (size_t i = 0; i < n; ++i) inv_sigma[i] = 1.0f / s[i];
        for (size_t i = 0; i < n; ++i) term[i] = std::log(s[i]);
        std::memcpy(ls_buf.data(), term.data(), n * sizeof(float));
        ls = ls_buf.data();
      } else {
        ls = s;
        for (size_t i = 0; i < n; ++i) inv_sigma[i] = ExpF(-ls[i]);
      }
      if (p.sample) {
        StandardNormalRows(p.seed, c0, rows, A, normal_scratch.data(), z.data());
        float* x = p.sampled + c0 * A;
        for (size_t i = 0; i < n; ++i) x[i] = mu[i] + z[i] / inv_sigma[i];
      } else {
        const float* x = p.actions + c0 * A;
        for (size_t i = 0; i < n; ++i) z[i] = (x[i] - mu[i]) * inv_sigma[i];
      }
      for (size_t i = 0; i < n; ++i) term[i] = -0.5f * z[i] * z[i] - ls[i];
      for (size_t r = 0; r < rows; ++r) {
        const size_t b = c0 + r, o = r * A;
        if (p.log_prob) p.log_prob[b] = static_cast<float>(SumF64(&term[o], A) - A * kHalfLog2Pi);
        if (p.entropy) p.entropy[b] = static_cast<float>(SumF64(ls + o, A) + A * (0.5 + kHalfLog2Pi));
        const float g_lp = p.grad_log_prob.At(b, 0), g_h = p.grad_entropy.At(b, 0);
        if (p.grad_mean) {
          float* gm = p.grad_mean + b * A;
          for (size_t j = 0; j < A; ++j) gm[j] = g_lp * z[o + j] * inv_sigma[o + j];
        }
        if (p.grad_scale) {
          // ∂/∂log σ = g_lp (z² − 1) + g_H; ∂/∂σ divides by σ.
          float* gs = acc ? &term[o] : p.grad_scale + b * A;
          for (size_t j = 0; j < A; ++j) {
            const float g = g_lp * (z[o + j] * z[o + j] - 1.0f) + g_h;
            gs[j] = p.scale_is_std ? g * inv_sigma[o + j] : g;
          }
          if (acc)
            for (size_t j = 0; j < A; ++j) acc[j] += gs[j];
        }
      }
    }
  });
  if (free_grad) {
    std::vector<double> total(A);
    SumBlocks(partial, A, total.data());
    for (size_t j = 0; j < A; ++j) p.grad_scale[j] = static_cast<float>(total[j]);
  }
}

namespace {

// Reads log σ / σ (exactly one) as [B, A] or [A].
const float* ScaleArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, size_t B,
                      size_t A, bool* per_row) {
  ArrayArg<float> s = F32Arg(info, i, kernel, name, true, SIZE_MAX, "");
  if (!s) return nullptr;
  if (s.length != B * A && s.length != A) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must have " << B * A << " ([B, A]) or " << A << " ([A]) elements; received "
        << s.length;
    ThrowError(info.Env(), "ERR_SHAPE", msg.str());
  }
  *per_row = s.length == B * A;  // B = 1: either reading is the same
  return s.data;
}

// gaussian(B, A, mean, logStd?, std?, actions?, seed?, gradLogProb?, gradEntropy?, outActions?,
//          outLogProb?, outEntropy?, outGradMean?, outGradScale?, useCuda, async)
Napi::Value GaussianBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "gaussian";
  Napi::Env env = info.Env();
  GaussianProblem p;
  p.B = SizeArg(info, 0, kKernel, "B");
  p.A = SizeArg(info, 1, kKernel, "A");
  const size_t BA = ElementsArg(env, kKernel, p.B, p.A);
  const std::string ba = ShapeText("[B, A]", {p.B, p.A}), b1 = ShapeText("[B]", {p.B});
  p.mean = F32Arg(info, 2, kKernel, "mean", false, BA, ba).data;
  const float* log_std = ScaleArg(info, 3, kKernel, "logStd", p.B, p.A, &p.per_row);
  const float* std_dev = ScaleArg(info, 4, kKernel, "std", p.B, p.A, &p.per_row);
  if ((log_std != nullptr) == (std_dev != nullptr)) {
    ThrowError(env, "ERR_ARG", "gaussian: give exactly one of logStd and std ([B, A] or [A])");
  }
  p.scale_is_std = std_dev != nullptr;
  p.scale = p.scale_is_std ? std_dev : log_std;
  const size_t scale_len = p.per_row ? BA : p.A;
  p.actions = F32Arg(info, 5, kKernel, "actions", true, BA, ba).data;
  ArrayArg<float> sampled = F32Arg(info, 9, kKernel, "out.actions", true, BA, ba);
  p.sample = static_cast<bool>(sampled);
  p.sampled = sampled.data;
  if (p.sample == (p.actions != nullptr)) {
    ThrowError(env, "ERR_ARG", "gaussian: give either actions (to score) or out.actions (to sample), not both");
  }
  if (p.sample) p.seed = SeedArg(info, 6, kKernel);
  p.grad_log_prob = RowGradArg(info, 7, kKernel, "gradLogProb", p.B);
  p.grad_entropy = RowGradArg(info, 8, kKernel, "gradEntropy", p.B);
  p.log_prob = F32Arg(info, 10, kKernel, "out.logProb", true, p.B, b1).data;
  p.entropy = F32Arg(info, 11, kKernel, "out.entropy", true, p.B, b1).data;
  p.grad_mean = F32Arg(info, 12, kKernel, "out.gradMean", true, BA, ba).data;
  const std::string scale_shape = p.per_row ? ba : ShapeText("[A]", {p.A});
  p.grad_scale = F32Arg(info, 13, kKernel, p.scale_is_std ? "out.gradStd" : "out.gradLogStd", true, scale_len,
                        scale_shape).data;
  const bool use_cuda = BoolArg(info, 14), async = BoolArg(info, 15);
  CheckDevice(env, kKernel, use_cuda);
  const Region outs[] = {{"out.actions", p.sampled, p.sampled ? BA * 4 : 0},
                         {"out.logProb", p.log_prob, p.log_prob ? p.B * 4 : 0},
                         {"out.entropy", p.entropy, p.entropy ? p.B * 4 : 0},
                         {"out.gradMean", p.grad_mean, p.grad_mean ? BA * 4 : 0},
                         {"out.gradScale", p.grad_scale, p.grad_scale ? scale_len * 4 : 0}};
  const Region ins[] = {{"mean", p.mean, BA * 4},
                        {p.scale_is_std ? "std" : "logStd", p.scale, scale_len * 4},
                        {"actions", p.actions, p.actions ? BA * 4 : 0},
                        {"gradLogProb", p.grad_log_prob.values, p.grad_log_prob.length * 4},
                        {"gradEntropy", p.grad_entropy.values, p.grad_entropy.length * 4}};
  CheckRegions(env, kKernel, outs, ins);
  if (p.scale_is_std) {
    for (size_t k = 0; k < scale_len; ++k) {
      if (!(p.scale[k] > 0.f && std::isfinite(p.scale[k]))) {
        std::ostringstream msg;
        msg << "gaussian: std[" << k << "] must be positive and finite; received " << p.scale[k];
        ThrowError(env, "ERR_RANGE", msg.str());
      }
    }
  }
  return RunKernel(info, async, [p] { GaussianCpu(p); }, KeepArgs{2, 14});
}

}  // namespace

RLCORE_EXPORT(gaussian, GaussianBinding);

}  // namespace rlcore
