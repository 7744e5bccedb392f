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
#include "losses.h"

namespace rlcore {

void ValueLossCpu(const ValueLossProblem& p) {
  const size_t B = p.B;
  const double inv_b = 1.0 / static_cast<double>(B);
  constexpr size_t W = 3;
  std::vector<double> part(RowBlocks(B) * W);
  ForRowBlocks(B, 2, [&](size_t k, size_t r0, size_t r1) {
    double loss = 0.0, clipped = 0.0, abs_err = 0.0;
    for (size_t b = r0; b < r1; ++b) {
      const double v = p.values[b], e = v - p.returns[b];
      double l = LossRho(e, p.delta), g = LossRhoGrad(e, p.delta);
      if (p.old_values) {
        const double d = v - p.old_values[b];
        const double ec = p.old_values[b] + std::fmin(p.clip, std::fmax(-p.clip, d)) - p.returns[b];
        const double lc = LossRho(ec, p.delta);
        if (lc > l) {
          l = lc;
          g = std::fabs(d) <= p.clip ? LossRhoGrad(ec, p.delta) : 0.0;
        }
        clipped += std::fabs(d) > p.clip ? 1.0 : 0.0;
      }
      loss += l;
      abs_err += std::fabs(e);
      p.grad[b] = static_cast<float>(g * inv_b);
    }
    double* o = &part[k * W];
    o[0] = loss, o[1] = clipped, o[2] = abs_err;
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
  std::vector<Napi::Value> keep;
  for (size_t k = 1; k <= 7; ++k) keep.push_back(info[k]);
  return RunKernel(info, async, [p] { ValueLossCpu(p); }, std::move(keep));
}

}  // namespace

RLCORE_EXPORT(valueLoss, ValueLossBinding);

}  // namespace rlcore
