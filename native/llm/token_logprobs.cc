// Token log-probabilities, entropies and their backward pass from logits [M, V] (V up to 256k
// and beyond), without materialising the softmax. With z = logits / τ (temperature τ):
//
//   lse_m = log Σ_v exp z_mv          log π(t_m) = z_{m,t_m} − lse_m
//   H_m   = lse_m − Σ_v p_mv z_mv     (p = softmax z)
//   ∂L/∂logits_mv = (1/τ) [ g_m (1[v = t_m] − p_mv) − h_m p_mv (z_mv − lse_m + H_m) ]
//
// for upstream gradients g = ∂L/∂log π and h = ∂L/∂H. The row is read in chunks that stay in L1
// with an online (streaming) log-sum-exp (Milakov & Gimelshein 2018, arXiv:1805.02867): per
// chunk, its max c, S_c = Σ e^{z−c} and W_c = Σ e^{z−c} (z − c) are merged into the running
// (m, S, W) by rescaling with e^{c−m}; then lse = m + log S and H = log S − W/S.
#include <algorithm>
#include <cmath>
#include <limits>

#include "../core/binding.h"
#include "../core/thread_pool.h"
#include "../dist/args.h"
#include "../dist/fastmath.h"
#include "llm.h"

namespace rlcore {
namespace {

constexpr size_t kChunk = 1024;

struct RowLse {
  double m, log_s, entropy;  // lse = m + log_s, kept apart: m may dwarf log_s
};

// One streaming pass over a row. −∞ logits (masked vocabulary) contribute nothing.
RowLse StreamRow(const float* x, size_t V, float inv_temp) {
  float z[kChunk], e[kChunk];
  double m = -std::numeric_limits<double>::infinity(), S = 0.0, W = 0.0;
  for (size_t c0 = 0; c0 < V; c0 += kChunk) {
    const size_t n = std::min(kChunk, V - c0);
    for (size_t i = 0; i < n; ++i) z[i] = x[c0 + i] * inv_temp;
    const float mc = MaxF(z, n);
    if (mc == -std::numeric_limits<float>::infinity()) continue;  // the whole chunk is masked
    for (size_t i = 0; i < n; ++i) {
      const float d = z[i] - mc;
      z[i] = d < -88.0f ? -88.0f : d;  // e^−88 ≈ 0 and keeps e·d finite for −∞ logits
    }
    for (size_t i = 0; i < n; ++i) e[i] = ExpF(z[i]);
    const double sc = SumF64(e, n);
    for (size_t i = 0; i < n; ++i) z[i] *= e[i];
    const double wc = SumF64(z, n);
    if (S == 0.0) {
      S = sc, W = wc, m = mc;
    } else if (mc > m) {
      const double scale = std::exp(m - mc);
      W = scale * (W + (m - mc) * S) + wc;
      S = S * scale + sc;
      m = mc;
    } else {
      const double scale = std::exp(mc - m);
      S += scale * sc;
      W += scale * (wc + (mc - m) * sc);
    }
  }
  const double logS = std::log(S);
  return RowLse{m, logS, logS - W / S};
}

void BackwardRow(const float* x, size_t V, float inv_temp, int32_t target, const RowLse& r, float g, float h,
                 float* out) {
  const float m = static_cast<float>(r.m), log_s = static_cast<float>(r.log_s), H = static_cast<float>(r.entropy);
  float z[kChunk], e[kChunk];
  for (size_t c0 = 0; c0 < V; c0 += kChunk) {
    const size_t n = std::min(kChunk, V - c0);
    // z rounded to float exactly as in StreamRow (a separate loop: no fused multiply-subtract).
    for (size_t i = 0; i < n; ++i) z[i] = x[c0 + i] * inv_temp;
    for (size_t i = 0; i < n; ++i) {
      const float lp = (z[i] - m) - log_s;
      z[i] = lp < -100.0f ? -100.0f : lp;
    }
    // exp alone in its loop (vectorises), then the select and the gradient.
    for (size_t i = 0; i < n; ++i) e[i] = ExpF(z[i]);
    for (size_t i = 0; i < n; ++i) e[i] = z[i] < -87.0f ? 0.0f : e[i];  // exactly 0 for masked (−∞) logits
    for (size_t i = 0; i < n; ++i) out[c0 + i] = -inv_temp * e[i] * (g + h * (z[i] + H));
  }
  out[target] += inv_temp * g;
}

}  // namespace

void TokenLogProbsCpu(const TokenLogProbsProblem& p) {
  const float inv_temp = static_cast<float>(p.inv_temp);
  auto rows = [&](size_t r0, size_t r1) {
    for (size_t m = r0; m < r1; ++m) {
      const float* x = p.logits + m * p.V;
      const int32_t t = p.targets[m];
      if (p.grad_logits && p.saved_lse) {  // backward from the forward's statistics: one read of the row
        const RowLse r{p.saved_lse[m], 0.0, p.saved_entropy ? p.saved_entropy[m] : 0.0};
        BackwardRow(x, p.V, inv_temp, t, r, p.grad_log_prob ? p.grad_log_prob[m] : 0.0f,
                    p.grad_entropy ? p.grad_entropy[m] : 0.0f, p.grad_logits + m * p.V);
        continue;
      }
      const RowLse r = StreamRow(x, p.V, inv_temp);
      if (p.log_prob) p.log_prob[m] = static_cast<float>((static_cast<double>(x[t] * inv_temp) - r.m) - r.log_s);
      if (p.entropy) p.entropy[m] = static_cast<float>(r.entropy);
      if (p.lse) p.lse[m] = static_cast<float>(r.m + r.log_s);
      if (p.grad_logits) {
        const float g = p.grad_log_prob ? p.grad_log_prob[m] : 0.0f;
        const float h = p.grad_entropy ? p.grad_entropy[m] : 0.0f;
        BackwardRow(x, p.V, inv_temp, t, r, g, h, p.grad_logits + m * p.V);
      }
    }
  };
  if (p.M * p.V < (size_t{1} << 15)) {
    rows(0, p.M);
  } else {
    ParallelFor(p.M, std::max<size_t>(1, (size_t{1} << 15) / p.V), rows);
  }
}

namespace {

struct Common {
  TokenLogProbsProblem p;
  Shape mv, m1;
};

void Run(const TokenLogProbsProblem& p, bool use_cuda) {
#ifdef RLCORE_WITH_CUDA
  if (use_cuda) return cuda::TokenLogProbs(p);
#endif
  (void)use_cuda;
  TokenLogProbsCpu(p);
}

Common ReadCommon(const Napi::CallbackInfo& info, const char* kernel) {
  Common c;
  c.p.M = SizeArg(info, 0, kernel, "M");
  c.p.V = SizeArg(info, 1, kernel, "V");
  if (c.p.V > 2147483647u) ThrowError(info.Env(), "ERR_SHAPE", std::string(kernel) + ": V must be below 2^31");
  c.mv = ShapeText("[M, V]", {c.p.M, c.p.V});
  c.m1 = ShapeText("[M]", {c.p.M});
  const size_t n = CheckedProduct(info.Env(), kernel, c.mv);
  c.p.logits = F32Arg(info, 2, kernel, "logits", false, n, c.mv).data;
  c.p.targets = I32Arg(info, 3, kernel, "targets", false, c.p.M, c.m1).data;
  const double temp = NumberArg(info, 4, kernel, "temperature", 1e-6, 1e6);
  c.p.inv_temp = 1.0 / temp;
  return c;
}

// tokenLogProbs(M, V, logits, targets, temperature, outLogProb, outEntropy?, outLse?, useCuda, async)
Napi::Value TokenLogProbsBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "tokenLogProbs";
  Napi::Env env = info.Env();
  Common c = ReadCommon(info, kKernel);
  TokenLogProbsProblem& p = c.p;
  p.log_prob = F32Arg(info, 5, kKernel, "out.logProb", false, p.M, c.m1).data;
  p.entropy = F32Arg(info, 6, kKernel, "out.entropy", true, p.M, c.m1).data;
  p.lse = F32Arg(info, 7, kKernel, "out.lse", true, p.M, c.m1).data;
  const bool use_cuda = BoolArg(info, 8), async = BoolArg(info, 9);
  CheckDevice(env, kKernel, use_cuda);
  const size_t mb = p.M * 4;
  const Region outs[] = {{"out.logProb", p.log_prob, mb}, {"out.entropy", p.entropy, p.entropy ? mb : 0},
                         {"out.lse", p.lse, p.lse ? mb : 0}};
  const Region ins[] = {{"logits", p.logits, mb * p.V}, {"targets", p.targets, mb}};
  CheckRegions(env, kKernel, outs, ins);
  CheckIndices(env, kKernel, "targets", p.targets, p.M, p.V);
  const auto targets_copy = AsyncIndexCopy(async, p.targets, p.M);  // see AsyncIndexCopy
  if (targets_copy) p.targets = targets_copy->data();
  return RunKernel(info, async, [p, use_cuda, targets_copy] { Run(p, use_cuda); }, KeepArgs{2, 8});
}

// tokenLogProbsBackward(M, V, logits, targets, temperature, gradLogProb?, gradEntropy?, outGradLogits,
//                       lse?, entropy?, useCuda, async)
Napi::Value TokenLogProbsBackwardBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "tokenLogProbsBackward";
  Napi::Env env = info.Env();
  Common c = ReadCommon(info, kKernel);
  TokenLogProbsProblem& p = c.p;
  p.grad_log_prob = F32Arg(info, 5, kKernel, "gradLogProb", true, p.M, c.m1).data;
  p.grad_entropy = F32Arg(info, 6, kKernel, "gradEntropy", true, p.M, c.m1).data;
  p.grad_logits = F32Arg(info, 7, kKernel, "out.gradLogits", false, p.M * p.V, c.mv).data;
  p.saved_lse = F32Arg(info, 8, kKernel, "lse", true, p.M, c.m1).data;
  p.saved_entropy = F32Arg(info, 9, kKernel, "entropy", true, p.M, c.m1).data;
  if (p.grad_entropy && p.saved_lse && !p.saved_entropy) {
    ThrowError(env, "ERR_ARG", "tokenLogProbsBackward: with lse and gradEntropy, give the forward's entropy too");
  }
  const bool use_cuda = BoolArg(info, 10), async = BoolArg(info, 11);
  CheckDevice(env, kKernel, use_cuda);
  const size_t mb = p.M * 4;
  const Region outs[] = {{"out.gradLogits", p.grad_logits, mb * p.V}};
  const Region ins[] = {{"logits", p.logits, mb * p.V},
                        {"targets", p.targets, mb},
                        {"gradLogProb", p.grad_log_prob, p.grad_log_prob ? mb : 0},
                        {"gradEntropy", p.grad_entropy, p.grad_entropy ? mb : 0},
                        {"lse", p.saved_lse, p.saved_lse ? mb : 0},
                        {"entropy", p.saved_entropy, p.saved_entropy ? mb : 0}};
  CheckRegions(env, kKernel, outs, ins);
  CheckIndices(env, kKernel, "targets", p.targets, p.M, p.V);
  const auto targets_copy = AsyncIndexCopy(async, p.targets, p.M);  // see AsyncIndexCopy
  if (targets_copy) p.targets = targets_copy->data();
  return RunKernel(info, async, [p, use_cuda, targets_copy] { Run(p, use_cuda); }, KeepArgs{2, 10});
}

}  // namespace

RLCORE_EXPORT(tokenLogProbs, TokenLogProbsBinding);
RLCORE_EXPORT(tokenLogProbsBackward, TokenLogProbsBackwardBinding);

}  // namespace rlcore
