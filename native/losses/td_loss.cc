// Q-learning TD loss (DQN: Mnih et al. 2015; Double DQN: van Hasselt et al. 2016, arXiv:1509.06461;
// prioritized replay: Schaul et al. 2016, arXiv:1511.05952):
//
//   y_b = R_b                                   (targets given), or
//   y_b = r_b + γ_b (1 − done_b) v'_b,  v'_b = next_b                       (given bootstrap value)
//                                       v'_b = max_a Q'(s'_b, a)           (DQN)
//                                       v'_b = Q'(s'_b, argmax_a Q(s'_b, a)) (Double DQN)
//   δ_b = Q(s_b, a_b) − y_b
//   L   = mean_b w_b ρ(δ_b),   ρ = ½ x² or Huber_δ,   w = importance weights (1 when absent)
//   ∂L/∂Q(s_b, a) = w_b ρ'(δ_b) / B at a = a_b, 0 elsewhere;  |δ_b| is returned for priorities.
//
// Targets are constants (no gradient flows into y), as in the papers.
#include <cmath>
#include <sstream>
#include <vector>

#include "../core/binding.h"
#include "../dist/args.h"
#include "../dist/batch.h"
#include "../dist/fastmath.h"
#include "losses.h"

namespace rlcore {

void TdLossCpu(const TdLossProblem& p) {
  const size_t B = p.B, A = p.A, NA = p.next_q_width;
  const double inv_b = 1.0 / static_cast<double>(B), delta = p.delta;
  constexpr size_t W = 4;
  std::vector<double> part(RowBlocks(B) * W);
  ForRowBlocks(B, 2 * A + 2, [&](size_t k, size_t r0, size_t r1) {
    // Gathers per row (argmax, taken action), then flat vectorisable passes and fixed-order sums.
    double qa[kRowBlock], y[kRowBlock], loss[kRowBlock], abs_td[kRowBlock];
    float g[kRowBlock];
    const size_t n = r1 - r0;
    for (size_t i = 0; i < n; ++i) qa[i] = p.q[(r0 + i) * A + (p.actions ? static_cast<size_t>(p.actions[r0 + i]) : 0)];
    if (p.targets) {
      for (size_t i = 0; i < n; ++i) y[i] = p.targets[r0 + i];
    } else {
      for (size_t i = 0; i < n; ++i) {
        const size_t b = r0 + i;
        const float* nq = p.next_q + b * NA;
        const float* sel = p.next_q_select ? p.next_q_select + b * NA : nq;
        size_t pick = 0;
        for (size_t j = 1; j < NA; ++j) pick = sel[j] > sel[pick] ? j : pick;  // first maximum, as argmax
        y[i] = nq[pick];  // bootstrap value v'
      }
      const uint8_t* done = p.dones ? p.dones + r0 : nullptr;
      for (size_t i = 0; i < n; ++i) {
        const double live = (done && done[i]) ? 0.0 : 1.0;
        y[i] = static_cast<double>(p.rewards[r0 + i]) + static_cast<double>(p.gamma.At(r0 + i, 0)) * live * y[i];
      }
    }
    const float* w = p.weights ? p.weights + r0 : nullptr;
    for (size_t i = 0; i < n; ++i) {
      const double d = qa[i] - y[i], wi = w ? w[i] : 1.0;
      loss[i] = wi * LossRho(d, delta);
      abs_td[i] = std::fabs(d);
      g[i] = static_cast<float>(wi * LossRhoGrad(d, delta) * inv_b);
    }
    float* grad = p.grad + r0 * A;
    for (size_t i = 0; i < n * A; ++i) grad[i] = 0.f;
    for (size_t i = 0; i < n; ++i) grad[i * A + (p.actions ? static_cast<size_t>(p.actions[r0 + i]) : 0)] = g[i];
    if (p.td_abs)
      for (size_t i = 0; i < n; ++i) p.td_abs[r0 + i] = static_cast<float>(abs_td[i]);
    if (p.target_out)
      for (size_t i = 0; i < n; ++i) p.target_out[r0 + i] = static_cast<float>(y[i]);
    double* o = &part[k * W];
    o[0] = SumF64(loss, n), o[1] = SumF64(qa, n), o[2] = SumF64(abs_td, n), o[3] = SumF64(y, n);
  });
  double t[W];
  SumBlocks(part, W, t);
  for (size_t i = 0; i < W; ++i) p.stats[i] = t[i] * inv_b;
}

namespace {

// tdLoss(B, A, q, actions?, targets?, rewards?, dones?, nextQ?, nextQSelect?, gamma, weights?,
//        huberDelta, outGrad, outTdAbs?, outTargets?, stats(Float64Array[4]), useCuda, async)
Napi::Value TdLossBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "tdLoss";
  Napi::Env env = info.Env();
  TdLossProblem p;
  p.B = SizeArg(info, 0, kKernel, "B");
  p.A = SizeArg(info, 1, kKernel, "A");
  const size_t B = p.B, A = p.A, BA = ElementsArg(env, kKernel, B, A);
  const std::string ba = ShapeText("[B, A]", {B, A}), b1 = ShapeText("[B]", {B});
  p.q = F32Arg(info, 2, kKernel, "q", false, BA, ba).data;
  p.actions = I32Arg(info, 3, kKernel, "actions", A == 1, B, b1).data;
  p.targets = F32Arg(info, 4, kKernel, "targets", true, B, b1).data;
  p.rewards = F32Arg(info, 5, kKernel, "rewards", true, B, b1).data;
  p.dones = U8Arg(info, 6, kKernel, "dones", true, B, b1).data;
  ArrayArg<float> nq = F32Arg(info, 7, kKernel, "nextQ", true, SIZE_MAX, "");
  if (nq && nq.length != B && nq.length != BA) {
    std::ostringstream msg;
    msg << "tdLoss: nextQ must have " << B << " ([B]) or " << BA << " ([B, A]) elements; received " << nq.length;
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  p.next_q = nq.data;
  p.next_q_width = nq.length == B ? 1 : A;
  p.next_q_select = F32Arg(info, 8, kKernel, "nextQSelect", true, BA, ba).data;
  if ((p.targets != nullptr) == (p.rewards != nullptr || p.next_q != nullptr)) {
    ThrowError(env, "ERR_ARG", "tdLoss: give either targets ([B]) or rewards ([B]) with nextQ ([B] or [B, A])");
  }
  if (!p.targets && (!p.rewards || !p.next_q)) {
    ThrowError(env, "ERR_ARG", "tdLoss: computing targets needs both rewards ([B]) and nextQ ([B] or [B, A])");
  }
  if (p.next_q_select && p.next_q_width == 1 && A > 1) {
    ThrowError(env, "ERR_ARG", "tdLoss: nextQSelect (Double DQN) needs nextQ of shape [B, A]");
  }
  p.gamma = p.targets ? StepParam{} : StepParamArg(info, 9, kKernel, "gamma", B, 1, 0.0, 1.0);
  p.weights = F32Arg(info, 10, kKernel, "weights", true, B, b1).data;
  p.delta = NumberArg(info, 11, kKernel, "huberDelta", 0.0, 1e30);
  p.grad = F32Arg(info, 12, kKernel, "out.grad", false, BA, ba).data;
  p.td_abs = F32Arg(info, 13, kKernel, "out.tdAbs", true, B, b1).data;
  p.target_out = F32Arg(info, 14, kKernel, "out.targets", true, B, b1).data;
  p.stats = F64Arg(info, 15, kKernel, "stats", false, 4, "[4]").data;
  const bool use_cuda = BoolArg(info, 16), async = BoolArg(info, 17);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = B * 4;
  const Region outs[] = {{"out.grad", p.grad, BA * 4},
                         {"out.tdAbs", p.td_abs, p.td_abs ? fb : 0},
                         {"out.targets", p.target_out, p.target_out ? fb : 0},
                         {"stats", p.stats, 32}};
  const Region ins[] = {{"q", p.q, BA * 4},
                        {"actions", p.actions, p.actions ? fb : 0},
                        {"targets", p.targets, p.targets ? fb : 0},
                        {"rewards", p.rewards, p.rewards ? fb : 0},
                        {"dones", p.dones, p.dones ? B : 0},
                        {"nextQ", p.next_q, p.next_q ? nq.length * 4 : 0},
                        {"nextQSelect", p.next_q_select, p.next_q_select ? BA * 4 : 0},
                        {"gamma", p.gamma.values, p.gamma.length * 4},
                        {"weights", p.weights, p.weights ? fb : 0}};
  CheckRegions(env, kKernel, outs, ins);
  if (p.actions) CheckIndices(env, kKernel, "actions", p.actions, B, A);
  if (p.weights) {
    for (size_t b = 0; b < B; ++b) {
      if (!(p.weights[b] >= 0.f && std::isfinite(p.weights[b]))) {
        std::ostringstream msg;
        msg << "tdLoss: weights[" << b << "] must be finite and >= 0; received " << p.weights[b];
        ThrowError(env, "ERR_RANGE", msg.str());
      }
    }
  }
  const auto actions_copy = AsyncIndexCopy(async, p.actions, B);  // see AsyncIndexCopy
  if (actions_copy) p.actions = actions_copy->data();
  return RunKernel(info, async, [p, actions_copy] { TdLossCpu(p); }, KeepArgs{2, 16});
}

}  // namespace

RLCORE_EXPORT(tdLoss, TdLossBinding);

}  // namespace rlcore
