// PPO clipped surrogate (Schulman et al. 2017, "Proximal Policy Optimization Algorithms",
// arXiv:1707.06347), as CleanRL writes it, with r = exp(log π_θ − log π_old):
//
//   L_clip = mean_b max(−Â_b r_b, −Â_b clip(r_b, 1 − ε, 1 + ε))
//   L      = L_clip − c_H · mean_b H_b
//   ∂L/∂ log π_θ(b) = −Â_b r_b / B where the unclipped term is the max, else 0
//   ∂L/∂H_b         = −c_H / B
//   clipFraction = mean 1[|r − 1| > ε],  approxKl = mean((r − 1) − log r),  oldApproxKl = mean(−log r)
//
// Â is the advantage, optionally normalised over the batch: (A − mean) / (std + 1e-8), std with
// Bessel's correction (0 when B = 1).
#include <cmath>
#include <vector>

#include "../core/binding.h"
#include "../dist/args.h"
#include "../dist/batch.h"
#include "../dist/fastmath.h"
#include "losses.h"

namespace rlcore {

void PpoLossCpu(const PpoLossProblem& p) {
  const size_t B = p.B;
  double mean = 0.0, scale = 1.0;
  if (p.normalize) {
    std::vector<double> part(RowBlocks(B));
    ForRowBlocks(B, 1, [&](size_t k, size_t r0, size_t r1) { part[k] = SumF64(p.advantages + r0, r1 - r0); });
    SumBlocks(part, 1, &mean);
    mean /= static_cast<double>(B);
    ForRowBlocks(B, 1, [&](size_t k, size_t r0, size_t r1) {
      double dev[kRowBlock];
      for (size_t b = r0; b < r1; ++b) dev[b - r0] = (p.advantages[b] - mean) * (p.advantages[b] - mean);
      part[k] = SumF64(dev, r1 - r0);
    });
    double ss = 0.0;
    SumBlocks(part, 1, &ss);
    const double sd = B > 1 ? std::sqrt(ss / static_cast<double>(B - 1)) : 0.0;
    scale = 1.0 / (sd + 1e-8);
  }
  constexpr size_t W = 5;
  std::vector<double> part(RowBlocks(B) * W);
  const double inv_b = 1.0 / static_cast<double>(B), lo = 1.0 - p.clip, hi = 1.0 + p.clip, clip = p.clip;
  ForRowBlocks(B, 2, [&](size_t k, size_t r0, size_t r1) {
    // Per-sample terms in one vectorisable pass, then fixed-order float64 sums.
    double pg[kRowBlock], clipped[kRowBlock], kl[kRowBlock], old_kl[kRowBlock];
    float log_ratio_buf[kRowBlock], ratio[kRowBlock];
    const size_t n = r1 - r0;
    const float* nl = p.new_log_prob + r0;
    const float* ol = p.old_log_prob + r0;
    const float* av = p.advantages + r0;
    float* g = p.grad_log_prob + r0;
    // exp in its own pass: GCC vectorises it alone, not fused with the selects below.
    for (size_t i = 0; i < n; ++i) log_ratio_buf[i] = nl[i] - ol[i];
    for (size_t i = 0; i < n; ++i) ratio[i] = ExpF(log_ratio_buf[i]);
    for (size_t i = 0; i < n; ++i) {
      const float log_ratio = log_ratio_buf[i];
      const double r = ratio[i];
      const double adv = (av[i] - mean) * scale;
      const double r_lo = r < lo ? lo : r;
      const double rc = r_lo > hi ? hi : r_lo;
      const double l1 = -adv * r, l2 = -adv * rc;
      pg[i] = l1 >= l2 ? l1 : l2;
      g[i] = static_cast<float>((l1 >= l2 ? l1 : 0.0) * inv_b);  // the clipped branch passes no gradient
      const double dev = r - 1.0;
      clipped[i] = std::fabs(dev) > clip ? 1.0 : 0.0;
      kl[i] = dev - log_ratio;
      old_kl[i] = -static_cast<double>(log_ratio);
    }
    double* o = &part[k * W];
    o[0] = SumF64(pg, n), o[1] = SumF64(clipped, n), o[2] = SumF64(kl, n), o[3] = SumF64(old_kl, n);
    o[4] = p.entropy ? SumF64(p.entropy + r0, n) : 0.0;
  });
  double t[W];
  SumBlocks(part, W, t);
  const double policy = t[0] * inv_b, entropy = t[4] * inv_b;
  p.stats[0] = policy - (p.entropy ? p.ent_coef * entropy : 0.0);
  p.stats[1] = policy;
  p.stats[2] = p.entropy ? entropy : 0.0;
  p.stats[3] = t[1] * inv_b;
  p.stats[4] = t[2] * inv_b;
  p.stats[5] = t[3] * inv_b;
}

namespace {

// ppoLoss(B, newLogProb, oldLogProb, advantages, entropy?, clipCoef, entCoef, normalize,
//         outGradLogProb, outStats(Float64Array[6]), useCuda, async)
Napi::Value PpoLossBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "ppoLoss";
  Napi::Env env = info.Env();
  PpoLossProblem p;
  p.B = SizeArg(info, 0, kKernel, "B");
  const std::string b1 = ShapeText("[B]", {p.B});
  p.new_log_prob = F32Arg(info, 1, kKernel, "newLogProb", false, p.B, b1).data;
  p.old_log_prob = F32Arg(info, 2, kKernel, "oldLogProb", false, p.B, b1).data;
  p.advantages = F32Arg(info, 3, kKernel, "advantages", false, p.B, b1).data;
  p.entropy = F32Arg(info, 4, kKernel, "entropy", true, p.B, b1).data;
  p.clip = NumberArg(info, 5, kKernel, "clipCoef", 0.0, 1e30);
  p.ent_coef = NumberArg(info, 6, kKernel, "entCoef", -1e30, 1e30);
  p.normalize = BoolArg(info, 7);
  p.grad_log_prob = F32Arg(info, 8, kKernel, "out.gradLogProb", false, p.B, b1).data;
  p.stats = F64Arg(info, 9, kKernel, "stats", false, 6, "[6]").data;
  const bool use_cuda = BoolArg(info, 10), async = BoolArg(info, 11);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = p.B * 4;
  const Region outs[] = {{"out.gradLogProb", p.grad_log_prob, fb}, {"stats", p.stats, 48}};
  const Region ins[] = {{"newLogProb", p.new_log_prob, fb},
                        {"oldLogProb", p.old_log_prob, fb},
                        {"advantages", p.advantages, fb},
                        {"entropy", p.entropy, p.entropy ? fb : 0}};
  CheckRegions(env, kKernel, outs, ins);
  return RunKernel(info, async, [p] { PpoLossCpu(p); }, KeepArgs{1, 10});
}

}  // namespace

RLCORE_EXPORT(ppoLoss, PpoLossBinding);

}  // namespace rlcore
