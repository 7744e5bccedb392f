// The fused PPO minibatch update (formulas in ppo_update.h) and its binding.
#include "ppo_update.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "../core/binding.h"
#include "../core/thread_pool.h"
#include "../dist/args.h"
#include "../dist/categorical.h"
#include "../dist/gaussian.h"
#include "../kernels/normalize.h"
#include "../losses/losses.h"
#include "mlp_handle.h"

namespace rlcore::nn {

void PpoUpdateScratch::Reserve(size_t M, size_t D, size_t A, bool discrete) {
  auto grow = [](auto& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(obs, M * D);
  grow(act_i, discrete ? M : 0);
  grow(act_f, discrete ? 0 : M * A);
  for (std::vector<float>* vec : {&logp, &val, &ret, &adv, &new_logp, &ent, &grad_logp, &v, &grad_v}) grow(*vec, M);
  grow(head, M * A);
  grow(grad_head, M * A);
}

namespace {

// The clip factor nnClipGradNorm applies when asked for max = s (‖g‖ + 1e-6): the unfused path
// clips each part through that call, and this reproduces its arithmetic to the bit.
struct ClipPart {
  bool scale = false;
  float factor = 1.f;
};

bool PartClip(double norm, double s, ClipPart* out) {
  const double max = s * (norm + 1e-6);
  if (!(max >= 0.0 && max <= 3.4e38)) return false;  // the call's own argument check
  if (std::isfinite(norm) && norm > max) out->scale = true, out->factor = static_cast<float>(max / (norm + 1e-6));
  return true;
}

}  // namespace

// The global norm as the unfused path sums it in JavaScript: float64, ‖actor‖² + ‖critic‖², then
// log σ element by element. No fused multiply-adds here (they would change the last bit).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
namespace {
double CombinedNorm(double norm_actor, double norm_critic, const float* g, size_t n) {
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
  double ns = 0.0;
  for (size_t i = 0; i < n; ++i) ns += static_cast<double>(g[i]) * g[i];
  return std::sqrt(norm_actor * norm_actor + norm_critic * norm_critic + ns);
}
}  // namespace
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

PpoUpdateStatus PpoUpdateCpu(const PpoUpdateProblem& p, PpoUpdateScratch& s) {
  const size_t M = p.M, D = p.D, A = p.A;
  const int32_t* idx = p.indices;
  // Gathers (what gatherRows does), then the minibatch advantages (what whiten does).
  for (size_t j = 0; j < M; ++j) {
    const size_t r = static_cast<size_t>(idx[j]);
    std::memcpy(&s.obs[j * D], p.obs + r * D, D * sizeof(float));
    if (p.discrete) s.act_i[j] = p.actions_i[r];
    else std::memcpy(&s.act_f[j * A], p.actions_f + r * A, A * sizeof(float));
    s.logp[j] = p.log_probs[r];
    s.val[j] = p.values[r];
    s.ret[j] = p.returns[r];
  }
  if (p.norm_adv) {
    double whiten_stats[3];
    WhitenProblem w;
    w.n = p.B, w.x = p.advantages, w.indices = idx, w.k = M, w.out = s.adv.data(), w.stats = whiten_stats;
    WhitenCpu(w);
  } else {
    for (size_t j = 0; j < M; ++j) s.adv[j] = p.advantages[idx[j]];
  }
  // AdamProblem reads the gradients; this kernel writes them (the caller's arrays, not constants).
  float* actor_grads = const_cast<float*>(p.actor_opt.grads);
  float* critic_grads = const_cast<float*>(p.critic_opt.grads);
  std::fill(actor_grads, actor_grads + p.actor_opt.n, 0.f);
  std::fill(critic_grads, critic_grads + p.critic_opt.n, 0.f);

  // The Gaussian kernels read a free log σ [A] as per-row when B * A == A (B = 1), as the binding does.
  const bool per_row = M * A == A;
  double norm_actor = 0.0, norm_critic = 0.0;
  bool bad_grad = false, failed[2] = {false, false};
  auto actor = [&] {
    float* grads = actor_grads;
    p.actor->Forward(p.actor_opt.params, s.obs.data(), s.head.data(), M, true);
    if (p.discrete) {
      CategoricalProblem c;
      c.B = M, c.A = A, c.logits = s.head.data(), c.actions = s.act_i.data();
      c.log_prob = s.new_logp.data(), c.entropy = s.ent.data();
      CategoricalCpu(c);
    } else {
      GaussianProblem g;
      g.B = M, g.A = A, g.mean = s.head.data(), g.scale = p.log_std_opt.params, g.per_row = per_row;
      g.actions = s.act_f.data(), g.log_prob = s.new_logp.data(), g.entropy = s.ent.data();
      GaussianCpu(g);
    }
    PpoLossProblem l;
    double* pg = p.stats;
    l.B = M, l.new_log_prob = s.new_logp.data(), l.old_log_prob = s.logp.data(), l.advantages = s.adv.data();
    l.entropy = s.ent.data(), l.clip = p.clip_coef, l.ent_coef = p.ent_coef, l.normalize = false;
    l.grad_log_prob = s.grad_logp.data(), l.stats = pg;
    PpoLossCpu(l);
    for (size_t j = 0; j < M; ++j) bad_grad |= !std::isfinite(s.grad_logp[j]);
    if (bad_grad) return;  // the distribution kernels refuse a non-finite upstream gradient
    StepParam g_lp, g_h;
    g_lp.values = s.grad_logp.data(), g_lp.stride_t = 1, g_lp.length = M;
    g_h.scalar = static_cast<float>(-p.ent_coef / static_cast<double>(M));
    if (p.discrete) {
      CategoricalProblem c;
      c.B = M, c.A = A, c.logits = s.head.data(), c.actions = s.act_i.data();
      c.grad_log_prob = g_lp, c.grad_entropy = g_h, c.grad_logits = s.grad_head.data();
      CategoricalCpu(c);
    } else {
      GaussianProblem g;
      g.B = M, g.A = A, g.mean = s.head.data(), g.scale = p.log_std_opt.params, g.per_row = per_row;
      g.actions = s.act_f.data(), g.grad_log_prob = g_lp, g.grad_entropy = g_h;
      g.grad_mean = s.grad_head.data(), g.grad_scale = const_cast<float*>(p.log_std_opt.grads);
      GaussianCpu(g);
    }
    p.actor->Backward(p.actor_opt.params, grads, s.grad_head.data(), nullptr, M);
    norm_actor = GlobalNormCpu(grads, p.actor_opt.n);
  };
  auto critic = [&] {
    float* grads = critic_grads;
    p.critic->Forward(p.critic_opt.params, s.obs.data(), s.v.data(), M, true);
    ValueLossProblem v;
    v.B = M, v.values = s.v.data(), v.returns = s.ret.data(), v.old_values = p.clip_vloss ? s.val.data() : nullptr;
    v.clip = p.clip_coef, v.delta = 0.0, v.grad = s.grad_v.data(), v.stats = p.stats + 6;
    ValueLossCpu(v);
    for (size_t j = 0; j < M; ++j) s.grad_v[j] = static_cast<float>(static_cast<double>(s.grad_v[j]) * p.vf_coef);
    p.critic->Backward(p.critic_opt.params, grads, s.grad_v.data(), nullptr, M);
    norm_critic = GlobalNormCpu(grads, p.critic_opt.n);
  };
  // Two independent tasks (the pool may run both inline); exceptions stay inside them.
  ParallelFor(2, 1, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      try {
        if (t == 0) actor();
        else critic();
      } catch (...) {
        failed[t] = true;
      }
    }
  });
  if (failed[0] || failed[1]) return PpoUpdateStatus::kFailed;
  if (bad_grad) return PpoUpdateStatus::kNonFiniteGradLogProb;

  const double total = CombinedNorm(norm_actor, norm_critic, p.log_std_opt.grads, p.log_std_opt.n);
  p.stats[9] = total;
  ClipPart clip_a, clip_c;
  double s_all = 1.0;
  const bool clip = total > p.max_grad_norm;
  if (clip) {
    s_all = p.max_grad_norm / (total + 1e-6);
    if (!PartClip(norm_actor, s_all, &clip_a) || !PartClip(norm_critic, s_all, &clip_c)) {
      return PpoUpdateStatus::kNonFiniteClipScale;
    }
  }
  auto step = [](const AdamProblem& o, const ClipPart& c) {
    if (c.scale) ScaleCpu(const_cast<float*>(o.grads), o.n, c.factor);
    AdamCpu(o);
  };
  // Scaling and Adam allocate nothing and cannot throw.
  ParallelFor(2, 1, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) step(t == 0 ? p.actor_opt : p.critic_opt, t == 0 ? clip_a : clip_c);
  });
  if (p.log_std_opt.n > 0) {
    float* g = const_cast<float*>(p.log_std_opt.grads);
    if (clip)
      for (size_t i = 0; i < p.log_std_opt.n; ++i) g[i] = static_cast<float>(static_cast<double>(g[i]) * s_all);
    AdamCpu(p.log_std_opt);
  }
  return PpoUpdateStatus::kOk;
}

namespace {

struct PpoUpdateHandle {
  size_t M, D, A;
  bool discrete;
  PpoUpdateScratch scratch;
  std::vector<float> act_head;  // [N, A] policy outputs of a rollout step
};

PpoUpdateHandle* UpdateHandleArg(const Napi::CallbackInfo& info, const char* kernel);

constexpr napi_type_tag kPpoUpdateTag = {0x3b1f6c0e9d2a4758ULL, 0xa4c7e1f20b5d6c39ULL};

PpoUpdateHandle* UpdateHandleArg(const Napi::CallbackInfo& info, const char* kernel) {
  Napi::Env env = info.Env();
  bool ok = false;
  if (info.Length() > 0 && info[0].IsExternal()) napi_check_object_type_tag(env, info[0], &kPpoUpdateTag, &ok);
  if (!ok) ThrowError(env, "ERR_ARG", std::string(kernel) + ": expected a handle from nnPpoUpdateCreate");
  return info[0].As<Napi::External<PpoUpdateHandle>>().Data();
}

// nnPpoUpdateCreate(M, D, A, discrete) -> handle holding the minibatch scratch
Napi::Value CreateBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnPpoUpdateCreate";
  Napi::Env env = info.Env();
  const size_t M = SizeArg(info, 0, kKernel, "M");
  const size_t D = SizeArg(info, 1, kKernel, "D");
  const size_t A = SizeArg(info, 2, kKernel, "A");
  const bool discrete = BoolArg(info, 3);
  if (M > (size_t{1} << 24) || D > (size_t{1} << 20) || A > (size_t{1} << 20)) {
    ThrowError(env, "ERR_RANGE", "nnPpoUpdateCreate: M must be at most 2^24, D and A at most 2^20");
  }
  auto* h = new PpoUpdateHandle{M, D, A, discrete, {}, {}};
  try {
    h->scratch.Reserve(M, D, A, discrete);
  } catch (const std::exception&) {
    delete h;
    ThrowError(env, "ERR_RANGE", "nnPpoUpdateCreate: cannot allocate the minibatch scratch");
  }
  auto ext = Napi::External<PpoUpdateHandle>::New(env, h, [](Napi::Env, PpoUpdateHandle* q) { delete q; });
  napi_type_tag_object(env, ext, &kPpoUpdateTag);
  return ext;
}

// Reads one optimiser target (params, grads, m, v at info[i..i+3]) of `n` elements, and its
// step and hyperparameters from adam[row * 7 ..]: step, lr, beta1, beta2, eps, weightDecay, decoupled.
AdamProblem AdamTargetArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, size_t n,
                          const double* adam, size_t row) {
  Napi::Env env = info.Env();
  const Shape shape = ShapeText("[P]", {n});
  const std::string prefix(name);
  AdamProblem o;
  o.n = n;
  o.params = F32Arg(info, i, kernel, (prefix + ".params").c_str(), false, n, shape).data;
  o.grads = F32Arg(info, i + 1, kernel, (prefix + ".grads").c_str(), false, n, shape).data;
  o.m = F32Arg(info, i + 2, kernel, (prefix + ".m").c_str(), false, n, shape).data;
  o.v = F32Arg(info, i + 3, kernel, (prefix + ".v").c_str(), false, n, shape).data;
  const void* arrays[] = {o.params, o.grads, o.m, o.v};
  const char* names[] = {"params", "grads", "m", "v"};
  for (size_t a = 0; a < 4; ++a)
    for (size_t b = a + 1; b < 4; ++b) CheckNoOverlap(env, kernel, names[a], arrays[a], n * 4, names[b], arrays[b], n * 4);
  const double* h = adam + row * 7;
  auto bad = [&](const char* what, double v) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " " << what << "; received " << v;
    ThrowError(env, "ERR_RANGE", msg.str());
  };
  if (!(h[0] >= 1 && h[0] <= 1099511627776.0 && std::floor(h[0]) == h[0])) bad("step must be an integer >= 1", h[0]);
  if (!(h[1] >= 0 && h[1] <= 1e6)) bad("lr must be in [0, 1e6]", h[1]);
  if (!(h[2] >= 0 && h[2] <= 0.999999)) bad("beta1 must be in [0, 0.999999]", h[2]);
  if (!(h[3] >= 0 && h[3] <= 0.999999)) bad("beta2 must be in [0, 0.999999]", h[3]);
  if (!(h[4] >= 0 && h[4] <= 1)) bad("eps must be in [0, 1]", h[4]);
  if (!(h[5] >= 0 && h[5] <= 1e6)) bad("weightDecay must be in [0, 1e6]", h[5]);
  o.step = h[0], o.lr = h[1], o.beta1 = h[2], o.beta2 = h[3], o.eps = h[4], o.weight_decay = h[5];
  o.decoupled = h[6] != 0.0;
  return o;
}

// nnPpoAct(handle, actor, actorParams, critic, criticParams, logStd?, obs [N, D], seed,
//          outActions (I32 [N] | F32 [N, A]), outLogProb [N], outEntropy [N], outValues [N],
//          envActions (like outActions), low? [A], high? [A])
// One rollout step of the policy: z = π(s), V(s), a ~ π(·|s) with its log-probability and
// entropy (row b from Philox stream (seed, b)); the environment gets a (continuous actions:
// clipped to [low, high], while the rollout keeps the sample). The same kernels as
// Sequential.forward and categoricalSample / gaussianSample, in one call.
Napi::Value ActBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnPpoAct";
  Napi::Env env = info.Env();
  PpoUpdateHandle* h = UpdateHandleArg(info, kKernel);
  MlpHandle* actor = HandleArg(info, 1, kKernel);
  MlpHandle* critic = HandleArg(info, 3, kKernel);
  if (actor == critic) ThrowError(env, "ERR_ARG", "nnPpoAct: the actor and the critic must be different networks");
  const size_t D = h->D, A = h->A;
  if (actor->mlp.InputSize() != D || actor->mlp.OutputSize() != A || critic->mlp.InputSize() != D ||
      critic->mlp.OutputSize() != 1) {
    ThrowError(env, "ERR_SHAPE", "nnPpoAct: the networks do not match the update's shapes");
  }
  const float* actor_params = F32Arg(info, 2, kKernel, "actorParams", false, actor->mlp.NumParams(), "[P]").data;
  const float* critic_params = F32Arg(info, 4, kKernel, "criticParams", false, critic->mlp.NumParams(), "[P]").data;
  const float* log_std = h->discrete ? nullptr : F32Arg(info, 5, kKernel, "logStd", false, A, "[A]").data;
  ArrayArg<float> obs = F32Arg(info, 6, kKernel, "obs", false, SIZE_MAX, "");
  const size_t N = obs.length / D;
  if (N == 0 || N * D != obs.length) ThrowError(env, "ERR_SHAPE", "nnPpoAct: obs must have shape [N, D] with N >= 1");
  const double seed_d = NumberArg(info, 7, kKernel, "seed", 0.0, 9007199254740992.0);
  if (std::floor(seed_d) != seed_d) ThrowError(env, "ERR_RANGE", "nnPpoAct: seed must be an integer in [0, 2^53]");
  const Shape n1 = ShapeText("[N]", {N}), na = ShapeText("[N, A]", {N, A});
  int32_t* act_i = nullptr;
  float* act_f = nullptr;
  int32_t* env_i = nullptr;
  float* env_f = nullptr;
  const float *low = nullptr, *high = nullptr;
  if (h->discrete) {
    act_i = I32Arg(info, 8, kKernel, "out.actions", false, N, n1).data;
    env_i = I32Arg(info, 12, kKernel, "envActions", false, N, n1).data;
  } else {
    act_f = F32Arg(info, 8, kKernel, "out.actions", false, N * A, na).data;
    env_f = F32Arg(info, 12, kKernel, "envActions", false, N * A, na).data;
    low = F32Arg(info, 13, kKernel, "low", false, A, "[A]").data;
    high = F32Arg(info, 14, kKernel, "high", false, A, "[A]").data;
  }
  float* log_prob = F32Arg(info, 9, kKernel, "out.logProb", false, N, n1).data;
  float* entropy = F32Arg(info, 10, kKernel, "out.entropy", false, N, n1).data;
  float* values = F32Arg(info, 11, kKernel, "out.values", false, N, n1).data;
  const void* act_out = h->discrete ? static_cast<const void*>(act_i) : act_f;
  const void* env_out = h->discrete ? static_cast<const void*>(env_i) : env_f;
  const size_t act_bytes = (h->discrete ? N : N * A) * 4;
  const Region outs[] = {{"out.actions", act_out, act_bytes},
                         {"out.logProb", log_prob, N * 4},
                         {"out.entropy", entropy, N * 4},
                         {"out.values", values, N * 4},
                         {"envActions", env_out, act_bytes}};
  const Region ins[] = {{"obs", obs.data, N * D * 4},
                        {"actorParams", actor_params, actor->mlp.NumParams() * 4},
                        {"criticParams", critic_params, critic->mlp.NumParams() * 4},
                        {"logStd", log_std, log_std ? A * 4 : 0}};
  CheckRegions(env, kKernel, outs, ins);
  Acquire(env, actor, kKernel);
  BusyGuard actor_guard{actor};
  Acquire(env, critic, kKernel);
  BusyGuard critic_guard{critic};
  Prepare(env, kKernel, N, [&] {
    actor->mlp.PrepareInfer(N);
    critic->mlp.PrepareInfer(N);
    if (h->act_head.size() < N * A) h->act_head.resize(N * A);
  });
  float* head = h->act_head.data();
  try {
    actor->mlp.Forward(actor_params, obs.data, head, N, false);
    critic->mlp.Forward(critic_params, obs.data, values, N, false);
  } catch (const std::exception& e) {
    ThrowError(env, "ERR_NATIVE", e.what());
  }
  const uint64_t seed = static_cast<uint64_t>(seed_d);
  if (h->discrete) {
    CategoricalProblem c;
    c.B = N, c.A = A, c.logits = head, c.sample = true, c.seed = seed;
    c.sampled = act_i, c.log_prob = log_prob, c.entropy = entropy;
    CategoricalCpu(c);
    std::memcpy(env_i, act_i, N * sizeof(int32_t));
  } else {
    GaussianProblem g;
    g.B = N, g.A = A, g.mean = head, g.scale = log_std, g.per_row = N * A == A, g.sample = true, g.seed = seed;
    g.sampled = act_f, g.log_prob = log_prob, g.entropy = entropy;
    GaussianCpu(g);
    for (size_t i = 0; i < N * A; ++i) {
      const size_t j = i % A;
      const float v = act_f[i];
      env_f[i] = v < low[j] ? low[j] : v > high[j] ? high[j] : v;
    }
  }
  return env.Undefined();
}

// nnPpoUpdate(handle, actor, actorParams, actorGrads, actorM, actorV,
//             critic, criticParams, criticGrads, criticM, criticV,
//             logStd?, logStdGrad?, logStdM?, logStdV?,
//             obs [B, D], actions (I32 [B] | F32 [B, A]), logProbs [B], values [B], returns [B],
//             advantages [B], indices I32 [M],
//             coefs F64 [6]: clipCoef, entCoef, vfCoef, maxGradNorm, clipVloss, normAdv,
//             adam F64 [3, 7]: per optimiser (actor, critic, log σ) step, lr, beta1, beta2, eps, weightDecay, decoupled,
//             stats F64 [10] out)
Napi::Value UpdateBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnPpoUpdate";
  Napi::Env env = info.Env();
  PpoUpdateHandle* h = UpdateHandleArg(info, kKernel);
  MlpHandle* actor = HandleArg(info, 1, kKernel);
  MlpHandle* critic = HandleArg(info, 6, kKernel);
  if (actor == critic) ThrowError(env, "ERR_ARG", "nnPpoUpdate: the actor and the critic must be different networks");
  const size_t M = h->M, D = h->D, A = h->A;
  if (actor->mlp.InputSize() != D || actor->mlp.OutputSize() != A || critic->mlp.InputSize() != D ||
      critic->mlp.OutputSize() != 1) {
    std::ostringstream msg;
    msg << kKernel << ": the actor must map " << D << " features to " << A << " outputs and the critic " << D
        << " features to 1 (actor: " << actor->mlp.InputSize() << " -> " << actor->mlp.OutputSize()
        << ", critic: " << critic->mlp.InputSize() << " -> " << critic->mlp.OutputSize() << ")";
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  PpoUpdateProblem p;
  p.M = M, p.D = D, p.A = A, p.discrete = h->discrete;
  p.actor = &actor->mlp, p.critic = &critic->mlp;
  const double* coefs = F64Arg(info, 22, kKernel, "coefs", false, 6, "[6]").data;
  const double* adam = F64Arg(info, 23, kKernel, "adam", false, 21, "[3, 7]").data;
  p.stats = F64Arg(info, 24, kKernel, "stats", false, 10, "[10]").data;
  p.actor_opt = AdamTargetArg(info, 2, kKernel, "actor", actor->mlp.NumParams(), adam, 0);
  p.critic_opt = AdamTargetArg(info, 7, kKernel, "critic", critic->mlp.NumParams(), adam, 1);
  if (!h->discrete) p.log_std_opt = AdamTargetArg(info, 11, kKernel, "logStd", A, adam, 2);
  const float* actor_arrays[] = {p.actor_opt.params, p.actor_opt.grads, p.actor_opt.m, p.actor_opt.v};
  const float* critic_arrays[] = {p.critic_opt.params, p.critic_opt.grads, p.critic_opt.m, p.critic_opt.v};
  for (const float* a : actor_arrays)
    for (const float* c : critic_arrays)
      CheckNoOverlap(env, kKernel, "actor arrays", a, p.actor_opt.n * 4, "critic arrays", c, p.critic_opt.n * 4);

  ArrayArg<float> logp = F32Arg(info, 17, kKernel, "logProbs", false, SIZE_MAX, "");
  const size_t B = logp.length;
  if (B == 0) ThrowError(env, "ERR_SHAPE", "nnPpoUpdate: logProbs must not be empty");
  p.B = B;
  const Shape b1 = ShapeText("[B]", {B});
  p.log_probs = logp.data;
  p.obs = F32Arg(info, 15, kKernel, "obs", false, B * D, ShapeText("[B, D]", {B, D})).data;
  if (h->discrete) p.actions_i = I32Arg(info, 16, kKernel, "actions", false, B, b1).data;
  else p.actions_f = F32Arg(info, 16, kKernel, "actions", false, B * A, ShapeText("[B, A]", {B, A})).data;
  p.values = F32Arg(info, 18, kKernel, "values", false, B, b1).data;
  p.returns = F32Arg(info, 19, kKernel, "returns", false, B, b1).data;
  p.advantages = F32Arg(info, 20, kKernel, "advantages", false, B, b1).data;
  p.indices = I32Arg(info, 21, kKernel, "indices", false, M, ShapeText("[M]", {M})).data;
  for (size_t j = 0; j < M; ++j) {
    if (p.indices[j] < 0 || static_cast<size_t>(p.indices[j]) >= B) {
      std::ostringstream msg;
      msg << kKernel << ": indices[" << j << "] must be in [0, " << B << "); received " << p.indices[j];
      ThrowError(env, "ERR_RANGE", msg.str());
    }
  }
  if (!(coefs[0] >= 0 && coefs[0] <= 1e30) || !(coefs[1] >= -1e30 && coefs[1] <= 1e30) ||
      !(coefs[2] >= 0 && coefs[2] <= 1e30) || !(coefs[3] >= 0 && coefs[3] <= 1e30)) {
    ThrowError(env, "ERR_RANGE", "nnPpoUpdate: clipCoef, vfCoef and maxGradNorm must be in [0, 1e30], entCoef finite");
  }
  p.clip_coef = coefs[0], p.ent_coef = coefs[1], p.vf_coef = coefs[2], p.max_grad_norm = coefs[3];
  p.clip_vloss = coefs[4] != 0.0, p.norm_adv = coefs[5] != 0.0;

  Acquire(env, actor, kKernel);
  BusyGuard actor_guard{actor};
  Acquire(env, critic, kKernel);
  BusyGuard critic_guard{critic};
  Prepare(env, kKernel, M, [&] {
    actor->mlp.PrepareTrain(M);
    critic->mlp.PrepareTrain(M);
  });
  actor->mlp.InvalidateCache();
  critic->mlp.InvalidateCache();
  switch (PpoUpdateCpu(p, h->scratch)) {
    case PpoUpdateStatus::kOk:
      break;
    case PpoUpdateStatus::kNonFiniteGradLogProb:
      ThrowError(env, "ERR_RANGE", "nnPpoUpdate: the policy loss gradient is not finite (non-finite log-probabilities or advantages)");
    case PpoUpdateStatus::kNonFiniteClipScale:
      ThrowError(env, "ERR_RANGE", "nnPpoUpdate: the gradient norm is not finite; nothing was updated");
    case PpoUpdateStatus::kFailed:
      ThrowError(env, "ERR_NATIVE", "nnPpoUpdate: a network pass failed (out of memory?); nothing was updated");
  }
  return env.Undefined();
}

}  // namespace

RLCORE_EXPORT(nnPpoUpdateCreate, CreateBinding);
RLCORE_EXPORT(nnPpoUpdate, UpdateBinding);
RLCORE_EXPORT(nnPpoAct, ActBinding);

}  // namespace rlcore::nn
