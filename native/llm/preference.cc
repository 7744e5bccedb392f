// Preference losses on sequence log-probabilities of chosen (y_w) and rejected (y_l) responses,
// means over P pairs, with label smoothing ε (conservative DPO, Mitchell 2023):
//
//   dpo  h = β [(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]
//        ℓ = −(1 − ε) log σ(h) − ε log σ(−h)          (Rafailov et al. 2023, arXiv:2305.18290)
//   ipo  x = (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)),  ℓ = (x − 1/(2β))²
//                                                      (Azar et al. 2023, arXiv:2310.12036)
//   bt   h = r_w − r_l − m (scalar rewards, margin m), ℓ as dpo with β = 1 (Bradley & Terry 1952;
//        the reward-model loss of Ouyang et al. 2022, margin as in Llama 2)
//
// and CPL (Hejna et al. 2024, "Contrastive Preference Learning", arXiv:2310.13639) on segments of
// L action log-probs: S± = α Σ_t γ^t log π(a±_t | s±_t), ℓ = −log σ(S⁺ − λ S⁻), λ ∈ (0, 1] the
// conservative bias.
#include <cmath>
#include <vector>

#include "../core/binding.h"
#include "../dist/args.h"
#include "../dist/batch.h"
#include "llm.h"

namespace rlcore {
namespace {

double Sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

}  // namespace

void PreferenceLossCpu(const PreferenceLossProblem& p) {
  const double inv_p = 1.0 / static_cast<double>(p.P), eps = p.label_smoothing;
  double loss = 0, acc = 0, rc = 0, rr = 0;
  for (size_t i = 0; i < p.P; ++i) {
    const double dc = static_cast<double>(p.chosen[i]) - (p.ref_chosen ? p.ref_chosen[i] : 0.0f);
    const double dr = static_cast<double>(p.rejected[i]) - (p.ref_rejected ? p.ref_rejected[i] : 0.0f);
    double l, dh, scale;
    if (p.kind == PreferenceKind::kIpo) {
      const double x = dc - dr, e = x - 1.0 / (2.0 * p.beta);
      l = e * e, dh = 2.0 * e, scale = 1.0;
      acc += x > 0 ? 1 : 0;
      rc += p.beta * dc, rr += p.beta * dr;
    } else {
      scale = p.kind == PreferenceKind::kDpo ? p.beta : 1.0;
      const double h = scale * (dc - dr) - p.margin;
      l = (1.0 - eps) * Softplus(-h) + eps * Softplus(h);
      dh = -(1.0 - eps) * Sigmoid(-h) + eps * Sigmoid(h);
      acc += h > 0 ? 1 : 0;
      rc += scale * dc, rr += scale * dr;
    }
    loss += l;
    p.grad_chosen[i] = static_cast<float>(dh * scale * inv_p);
    p.grad_rejected[i] = static_cast<float>(-dh * scale * inv_p);
  }
  p.stats[0] = loss * inv_p, p.stats[1] = acc * inv_p, p.stats[2] = rc * inv_p, p.stats[3] = rr * inv_p;
  p.stats[4] = (rc - rr) * inv_p;
}

void CplLossCpu(const CplLossProblem& p) {
  const double inv_p = 1.0 / static_cast<double>(p.P);
  double loss = 0, acc = 0, margin = 0;
  for (size_t i = 0; i < p.P; ++i) {
    double sp = 0, sn = 0, disc = 1;
    for (size_t t = 0; t < p.L; ++t, disc *= p.gamma) sp += disc * p.chosen[i * p.L + t], sn += disc * p.rejected[i * p.L + t];
    sp *= p.alpha, sn *= p.alpha;
    const double z = p.lambda * sn - sp;  // ℓ = softplus(z)
    loss += Softplus(z);
    const double s = Sigmoid(z);
    acc += sp > sn ? 1 : 0, margin += sp - sn;
    disc = 1;
    for (size_t t = 0; t < p.L; ++t, disc *= p.gamma) {
      p.grad_chosen[i * p.L + t] = static_cast<float>(-s * p.alpha * disc * inv_p);
      p.grad_rejected[i * p.L + t] = static_cast<float>(p.lambda * s * p.alpha * disc * inv_p);
    }
  }
  p.stats[0] = loss * inv_p, p.stats[1] = acc * inv_p, p.stats[2] = margin * inv_p;
}

namespace {

// preferenceLoss(P, kind, chosen, rejected, refChosen?, refRejected?, beta, labelSmoothing, margin,
//                outGradChosen, outGradRejected, stats(Float64Array[5]), useCuda, async)
Napi::Value PreferenceLossBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "preferenceLoss";
  Napi::Env env = info.Env();
  PreferenceLossProblem p;
  p.P = SizeArg(info, 0, kKernel, "P");
  const double kind = NumberArg(info, 1, kKernel, "kind", 0, 2);
  if (std::floor(kind) != kind) ThrowError(env, "ERR_ARG", "preferenceLoss: kind must be an integer code");
  p.kind = static_cast<PreferenceKind>(static_cast<int>(kind));
  const Shape p1 = ShapeText("[P]", {p.P});
  p.chosen = F32Arg(info, 2, kKernel, "chosen", false, p.P, p1).data;
  p.rejected = F32Arg(info, 3, kKernel, "rejected", false, p.P, p1).data;
  p.ref_chosen = F32Arg(info, 4, kKernel, "refChosen", true, p.P, p1).data;
  p.ref_rejected = F32Arg(info, 5, kKernel, "refRejected", true, p.P, p1).data;
  if (!p.ref_chosen != !p.ref_rejected) ThrowError(env, "ERR_ARG", "preferenceLoss: give both refChosen and refRejected, or neither");
  p.beta = NumberArg(info, 6, kKernel, "beta", 1e-12, 1e12);
  p.label_smoothing = NumberArg(info, 7, kKernel, "labelSmoothing", 0.0, 0.5);
  p.margin = NumberArg(info, 8, kKernel, "margin", -1e30, 1e30);
  p.grad_chosen = F32Arg(info, 9, kKernel, "out.gradChosen", false, p.P, p1).data;
  p.grad_rejected = F32Arg(info, 10, kKernel, "out.gradRejected", false, p.P, p1).data;
  p.stats = F64Arg(info, 11, kKernel, "stats", false, 5, "[5]").data;
  const bool use_cuda = BoolArg(info, 12), async = BoolArg(info, 13);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = p.P * 4;
  const Region outs[] = {{"out.gradChosen", p.grad_chosen, fb}, {"out.gradRejected", p.grad_rejected, fb}, {"stats", p.stats, 40}};
  const Region ins[] = {{"chosen", p.chosen, fb},
                        {"rejected", p.rejected, fb},
                        {"refChosen", p.ref_chosen, p.ref_chosen ? fb : 0},
                        {"refRejected", p.ref_rejected, p.ref_rejected ? fb : 0}};
  CheckRegions(env, kKernel, outs, ins);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::PreferenceLoss(p);
#endif
    (void)use_cuda;
    PreferenceLossCpu(p);
  }, KeepArgs{2, 12});
}

// cplLoss(P, L, chosen, rejected, alpha, gamma, lambda, outGradChosen, outGradRejected, stats[3], useCuda, async)
Napi::Value CplLossBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "cplLoss";
  Napi::Env env = info.Env();
  CplLossProblem p;
  p.P = SizeArg(info, 0, kKernel, "P");
  p.L = SizeArg(info, 1, kKernel, "L");
  const Shape pl = ShapeText("[P, L]", {p.P, p.L});
  const size_t n = CheckedProduct(env, kKernel, pl);
  p.chosen = F32Arg(info, 2, kKernel, "chosen", false, n, pl).data;
  p.rejected = F32Arg(info, 3, kKernel, "rejected", false, n, pl).data;
  p.alpha = NumberArg(info, 4, kKernel, "alpha", 1e-12, 1e12);
  p.gamma = NumberArg(info, 5, kKernel, "gamma", 0.0, 1.0);
  p.lambda = NumberArg(info, 6, kKernel, "lambda", 1e-12, 1.0);
  p.grad_chosen = F32Arg(info, 7, kKernel, "out.gradChosen", false, n, pl).data;
  p.grad_rejected = F32Arg(info, 8, kKernel, "out.gradRejected", false, n, pl).data;
  p.stats = F64Arg(info, 9, kKernel, "stats", false, 3, "[3]").data;
  const bool use_cuda = BoolArg(info, 10), async = BoolArg(info, 11);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = n * 4;
  const Region outs[] = {{"out.gradChosen", p.grad_chosen, fb}, {"out.gradRejected", p.grad_rejected, fb}, {"stats", p.stats, 24}};
  const Region ins[] = {{"chosen", p.chosen, fb}, {"rejected", p.rejected, fb}};
  CheckRegions(env, kKernel, outs, ins);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::CplLoss(p);
#endif
    (void)use_cuda;
    CplLossCpu(p);
  }, KeepArgs{2, 10});
}

}  // namespace

RLCORE_EXPORT(preferenceLoss, PreferenceLossBinding);
RLCORE_EXPORT(cplLoss, CplLossBinding);

}  // namespace rlcore
