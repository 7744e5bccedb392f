// Twin critics on the thread pool (formulas in twin_critic.h) and their bindings.
#include "twin_critic.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "../core/binding.h"
#include "../core/thread_pool.h"
#include "../dist/args.h"
#include "../losses/losses.h"
#include "mlp_handle.h"

namespace rlcore::nn {

namespace {

// Runs f(0) and f(1) as two pool tasks (inline, in order, on one thread); exceptions stay inside.
template <class F>
TwinCriticStatus Both(F&& f) {
  bool failed[2] = {false, false};
  ParallelFor(2, 1, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      try {
        f(t);
      } catch (...) {
        failed[t] = true;
      }
    }
  });
  return failed[0] || failed[1] ? TwinCriticStatus::kFailed : TwinCriticStatus::kOk;
}

}  // namespace

TwinCriticStatus TwinForwardCpu(const TwinCriticProblem& p) {
  return Both([&](size_t i) { p.net[i]->Forward(p.params[i], p.x, p.q[i], p.B, false); });
}

TwinCriticStatus TwinTrainCpu(const TwinCriticProblem& p) {
  return Both([&](size_t i) {
    p.net[i]->Forward(p.params[i], p.x, p.q[i], p.B, true);
    TdLossProblem l;
    l.B = p.B, l.A = 1, l.q = p.q[i], l.targets = p.y, l.grad = p.grad_q[i], l.stats = p.stats + 4 * i;
    TdLossCpu(l);
    float* grads = const_cast<float*>(p.opt[i].grads);
    std::fill(grads, grads + p.opt[i].n, 0.f);
    p.net[i]->Backward(p.params[i], grads, p.grad_q[i], nullptr, p.B);
    AdamCpu(p.opt[i]);
  });
}

TwinCriticStatus TwinInputGradCpu(const TwinCriticProblem& p) {
  const TwinCriticStatus s = Both([&](size_t i) { p.net[i]->Forward(p.params[i], p.x, p.q[i], p.B, true); });
  if (s != TwinCriticStatus::kOk) return s;
  return Both([&](size_t i) {
    // The smaller critic on each row carries the gradient (ties: the first).
    for (size_t b = 0; b < p.B; ++b) p.grad_q[i][b] = ((p.q[0][b] <= p.q[1][b]) == (i == 0)) ? 1.f : 0.f;
    p.net[i]->Backward(p.params[i], nullptr, p.grad_q[i], p.grad_x[i], p.B);
  });
}

namespace {

struct Twin {
  MlpHandle* h[2];
  TwinCriticProblem p;
};

// Reads (net, params) pairs at info[i0] and info[i1], and x [B, I] at info[ix]; checks the shapes.
Twin TwinArgs(const Napi::CallbackInfo& info, size_t i0, size_t i1, size_t ix, const char* kernel) {
  Napi::Env env = info.Env();
  Twin t;
  t.h[0] = HandleArg(info, i0, kernel);
  t.h[1] = HandleArg(info, i1, kernel);
  if (t.h[0] == t.h[1]) ThrowError(env, "ERR_ARG", std::string(kernel) + ": the two critics must be different networks");
  const size_t I = t.h[0]->mlp.InputSize();
  for (MlpHandle* h : t.h) {
    if (h->mlp.InputSize() != I || h->mlp.OutputSize() != 1) {
      std::ostringstream msg;
      msg << kernel << ": both critics must map " << I << " features to 1 output; received " << h->mlp.InputSize()
          << " -> " << h->mlp.OutputSize();
      ThrowError(env, "ERR_SHAPE", msg.str());
    }
  }
  TwinCriticProblem& p = t.p;
  p.I = I;
  for (size_t k = 0; k < 2; ++k) {
    p.net[k] = &t.h[k]->mlp;
    p.params[k] = F32Arg(info, (k ? i1 : i0) + 1, kernel, k ? "q2Params" : "q1Params", false, p.net[k]->NumParams(), "[P]").data;
  }
  ArrayArg<float> x = F32Arg(info, ix, kernel, "x", false, SIZE_MAX, "");
  p.B = x.length / I;
  if (p.B == 0 || p.B * I != x.length) {
    std::ostringstream msg;
    msg << kernel << ": x must have shape [B, " << I << "] with B >= 1; received " << x.length << " elements";
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  p.x = x.data;
  return t;
}


// Holds both networks, prepares their buffers for batch B (training passes also drop the inference
// caches) and runs `pass`; a failed pass is an ERR_NATIVE error.
template <class Pass>
void RunTwin(Napi::Env env, const char* kernel, Twin& t, bool train, Pass&& pass) {
  TwinCriticProblem& p = t.p;
  Acquire(env, t.h[0], kernel);
  BusyGuard g0{t.h[0]};
  Acquire(env, t.h[1], kernel);
  BusyGuard g1{t.h[1]};
  Prepare(env, kernel, p.B, [&] {
    for (Mlp* net : p.net) train ? net->PrepareTrain(p.B) : net->PrepareInfer(p.B);
  });
  if (train) p.net[0]->InvalidateCache(), p.net[1]->InvalidateCache();
  if (pass(p) != TwinCriticStatus::kOk) ThrowError(env, "ERR_NATIVE", std::string(kernel) + ": a network pass failed (out of memory?)");
}

// nnTwinForward(q1, q1Params, q2, q2Params, x [B, I], out1 [B], out2 [B])
Napi::Value ForwardBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnTwinForward";
  Napi::Env env = info.Env();
  Twin t = TwinArgs(info, 0, 2, 4, kKernel);
  TwinCriticProblem& p = t.p;
  const Shape b1 = ShapeText("[B]", {p.B});
  p.q[0] = F32Arg(info, 5, kKernel, "out1", false, p.B, b1).data;
  p.q[1] = F32Arg(info, 6, kKernel, "out2", false, p.B, b1).data;
  const Region outs[] = {{"out1", p.q[0], p.B * 4}, {"out2", p.q[1], p.B * 4}};
  const Region ins[] = {{"x", p.x, p.B * p.I * 4},
                        {"q1Params", p.params[0], p.net[0]->NumParams() * 4},
                        {"q2Params", p.params[1], p.net[1]->NumParams() * 4}};
  CheckRegions(env, kKernel, outs, ins);
  RunTwin(env, kKernel, t, false, TwinForwardCpu);
  return env.Undefined();
}

// nnTwinTrain(q1, q1Params, q2, q2Params, x [B, I], out1 [B], out2 [B], y [B], grad1 [B], grad2 [B],
//             q1Grads, q1M, q1V, q2Grads, q2M, q2V, adam F64 [2, 7], stats F64 [8] out)
// adam rows (q1, q2): step, lr, beta1, beta2, eps, weightDecay, decoupled.
Napi::Value TrainBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnTwinTrain";
  Napi::Env env = info.Env();
  Twin t = TwinArgs(info, 0, 2, 4, kKernel);
  TwinCriticProblem& p = t.p;
  const size_t B = p.B;
  const Shape b1 = ShapeText("[B]", {B});
  p.q[0] = F32Arg(info, 5, kKernel, "out1", false, B, b1).data;
  p.q[1] = F32Arg(info, 6, kKernel, "out2", false, B, b1).data;
  p.y = F32Arg(info, 7, kKernel, "y", false, B, b1).data;
  p.grad_q[0] = F32Arg(info, 8, kKernel, "grad1", false, B, b1).data;
  p.grad_q[1] = F32Arg(info, 9, kKernel, "grad2", false, B, b1).data;
  const double* adam = F64Arg(info, 16, kKernel, "adam", false, 14, "[2, 7]").data;
  p.stats = F64Arg(info, 17, kKernel, "stats", false, 8, "[8]").data;
  for (size_t k = 0; k < 2; ++k) {
    const size_t n = p.net[k]->NumParams();
    const Shape shape = ShapeText("[P]", {n});
    AdamProblem& o = p.opt[k];
    o.n = n;
    o.params = const_cast<float*>(p.params[k]);
    o.grads = F32Arg(info, 10 + 3 * k, kKernel, k ? "q2Grads" : "q1Grads", false, n, shape).data;
    o.m = F32Arg(info, 11 + 3 * k, kKernel, k ? "q2M" : "q1M", false, n, shape).data;
    o.v = F32Arg(info, 12 + 3 * k, kKernel, k ? "q2V" : "q1V", false, n, shape).data;
    const double* h = adam + 7 * k;
    if (!(h[0] >= 1 && h[0] <= 1099511627776.0 && std::floor(h[0]) == h[0]) || !(h[1] >= 0 && h[1] <= 1e6) ||
        !(h[2] >= 0 && h[2] <= 0.999999) || !(h[3] >= 0 && h[3] <= 0.999999) || !(h[4] >= 0 && h[4] <= 1) ||
        !(h[5] >= 0 && h[5] <= 1e6)) {
      ThrowError(env, "ERR_RANGE", std::string(kKernel) + ": adam row " + std::to_string(k) +
                                       " must hold step >= 1 (integer), lr in [0, 1e6], betas in [0, 0.999999], eps in [0, 1], weightDecay in [0, 1e6]");
    }
    o.step = h[0], o.lr = h[1], o.beta1 = h[2], o.beta2 = h[3], o.eps = h[4], o.weight_decay = h[5], o.decoupled = h[6] != 0.0;
  }
  const size_t n0 = p.net[0]->NumParams() * 4, n1 = p.net[1]->NumParams() * 4;
  const Region outs[] = {{"out1", p.q[0], B * 4},         {"out2", p.q[1], B * 4},        {"grad1", p.grad_q[0], B * 4},
                         {"grad2", p.grad_q[1], B * 4},    {"q1Params", p.params[0], n0},  {"q1Grads", p.opt[0].grads, n0},
                         {"q1M", p.opt[0].m, n0},          {"q1V", p.opt[0].v, n0},        {"q2Params", p.params[1], n1},
                         {"q2Grads", p.opt[1].grads, n1}, {"q2M", p.opt[1].m, n1},        {"q2V", p.opt[1].v, n1}};
  const Region ins[] = {{"x", p.x, B * p.I * 4}, {"y", p.y, B * 4}};
  CheckRegions(env, kKernel, outs, ins);
  RunTwin(env, kKernel, t, true, TwinTrainCpu);
  return env.Undefined();
}

// nnTwinInputGrad(q1, q1Params, q2, q2Params, x [B, I], out1 [B], out2 [B], grad1 [B], grad2 [B],
//                 gradX1 [B, I], gradX2 [B, I])
Napi::Value InputGradBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnTwinInputGrad";
  Napi::Env env = info.Env();
  Twin t = TwinArgs(info, 0, 2, 4, kKernel);
  TwinCriticProblem& p = t.p;
  const size_t B = p.B, I = p.I;
  const Shape b1 = ShapeText("[B]", {B}), bi = ShapeText("[B, I]", {B, I});
  p.q[0] = F32Arg(info, 5, kKernel, "out1", false, B, b1).data;
  p.q[1] = F32Arg(info, 6, kKernel, "out2", false, B, b1).data;
  p.grad_q[0] = F32Arg(info, 7, kKernel, "grad1", false, B, b1).data;
  p.grad_q[1] = F32Arg(info, 8, kKernel, "grad2", false, B, b1).data;
  p.grad_x[0] = F32Arg(info, 9, kKernel, "gradX1", false, B * I, bi).data;
  p.grad_x[1] = F32Arg(info, 10, kKernel, "gradX2", false, B * I, bi).data;
  const Region outs[] = {{"out1", p.q[0], B * 4},       {"out2", p.q[1], B * 4},           {"grad1", p.grad_q[0], B * 4},
                         {"grad2", p.grad_q[1], B * 4}, {"gradX1", p.grad_x[0], B * I * 4}, {"gradX2", p.grad_x[1], B * I * 4}};
  const Region ins[] = {{"x", p.x, B * I * 4},
                        {"q1Params", p.params[0], p.net[0]->NumParams() * 4},
                        {"q2Params", p.params[1], p.net[1]->NumParams() * 4}};
  CheckRegions(env, kKernel, outs, ins);
  RunTwin(env, kKernel, t, true, TwinInputGradCpu);
  return env.Undefined();
}

}  // namespace

RLCORE_EXPORT(nnTwinForward, ForwardBinding);
RLCORE_EXPORT(nnTwinTrain, TrainBinding);
RLCORE_EXPORT(nnTwinInputGrad, InputGradBinding);

}  // namespace rlcore::nn
