// Value-function regression loss, with PPO-style value clipping as CleanRL writes it:
//
//   e_b   = V_b − R_b,   ρ(x) = ½ x² or Huber_δ(x)
//   L     = mean_b ρ(e_b)                                            (no clipping)
//   Vc_b  = V_old,b + clip(V_b − V_old,b, −c, c),   L = mean_b max(ρ(e_b), ρ(Vc_b − R_b))
//   ∂L/∂V_b = ρ'(e_b) / B where the unclipped term is the max, else ρ'(Vc_b − R_b) 1[|V_b − V_old,b| ≤ c] / B
//
// The ½ makes the squared error and Huber agree for small errors (CleanRL's PPO uses the same
// 0.5 · mean(·²)); a caller wanting mean(e²) doubles the coefficient.
#include <cmath>
#include <vector>

#include "../core/binding.h"
#include "../dist/args.h"
#include "../dist/batch.h"
#include "../dist/fastmath.h"
#include "losses.h"

namespace rlcore {

void ValueLossCpu(const ValueLossProblem& p) {
  const size_t B = p.B;
  const double inv_b = 1.0 / static_cast<double>(B), clip = p.clip, delta = p.delta;
  constexpr size_t W = 3;
  std::vector<double> part(RowBlocks(B) * W);
  ForRowBlocks(B, 2, [&](size_t k, size_t r0, size_t r1) {
    // Per-sample terms in one vectorisable pass, then fixed-order float64 sums.
    double loss[kRowBlock], clipped[kRowBlock], abs_err[kRowBlock];
    const size_t n = r1 - r0;
    const float* v = p.values + r0;
    const float* ret = p.returns + r0;
    const float* old = p.old_values ? p.old_values + r0 : nullptr;
    float* g = p.grad + r0;
    for (size_t i = 0; i < n; ++i) {
      const double e = static_cast<double>(v[i]) - ret[i];
      loss[i] = LossRho(e, delta);
      g[i] = static_cast<float>(LossRhoGrad(e, delta) * inv_b);
      abs_err[i] = std::fabs(e);
      clipped[i] = 0.0;
    }
    if (old) {
      for (size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(v[i]) - old[i];
        const double d_lo = d < -clip ? -clip : d;
        const double dc = d_lo > clip ? clip : d_lo;
        const double ec = old[i] + dc - ret[i];
        const double lc = LossRho(ec, delta);
        const bool inside = std::fabs(d) <= clip;
        const bool take = lc > loss[i];
        const float gc = static_cast<float>((inside ? 1.0 : 0.0) * LossRhoGrad(ec, delta) * inv_b);
        g[i] = take ? gc : g[i];
        loss[i] = take ? lc : loss[i];
        clipped[i] = inside ? 0.0 : 1.0;
      }
    }
    double* o = &part[k * W];
    o[0] = SumF64(loss, n), o[1] = SumF64(clipped, n), o[2] = SumF64(abs_err, n);
  });
  double t[W];
  SumBlocks(part, W, t);
  for (size_t i = 0; i < W; ++i) p.stats[i] = t[i] * inv_b;
}

namespace {

// valueLoss(B, values, returns, oldValues?, clipCoef, huberDelta, outGrad, stats(Float64Array[3]), useCuda, async)
Napi::Value ValueLossBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "valueLoss";
  Napi::Env env = info.Env();
  ValueLossProblem p;
  p.B = SizeArg(info, 0, kKernel, "B");
  const std::string b1 = ShapeText("[B]", {p.B});
  p.values = F32Arg(info, 1, kKernel, "values", false, p.B, b1).data;
  p.returns = F32Arg(info, 2, kKernel, "returns", false, p.B, b1).data;
  p.old_values = F32Arg(info, 3, kKernel, "oldValues", true, p.B, b1).data;
  p.clip = NumberArg(info, 4, kKernel, "clipCoef", 0.0, 1e30);
  p.delta = NumberArg(info, 5, kKernel, "huberDelta", 0.0, 1e30);
  p.grad = F32Arg(info, 6, kKernel, "out.grad", false, p.B, b1).data;
  p.stats = F64Arg(info, 7, kKernel, "stats", false, 3, "[3]").data;
  const bool use_cuda = BoolArg(info, 8), async = BoolArg(info, 9);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = p.B * 4;
  const Region outs[] = {{"out.grad", p.grad, fb}, {"stats", p.stats, 24}};
  const Region ins[] = {{"values", p.values, fb}, {"returns", p.returns, fb}, {"oldValues", p.old_values, p.old_values ? fb : 0}};
  CheckRegions(env, kKernel, outs, ins);
  return RunKernel(info, async, [p] { ValueLossCpu(p); }, KeepArgs{1, 8});
}

}  // namespace

RLCORE_EXPORT(valueLoss, ValueLossBinding);

}  // namespace rlcore
