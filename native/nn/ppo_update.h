// One PPO minibatch update of a separate actor and critic, fused (Schulman et al. 2017,
// arXiv:1707.06347; CleanRL's ppo.py update step). Plain data; no N-API.
//
// Why fused: at CleanRL's sizes (minibatch 128, 64-64 networks) a minibatch is ~100 us of
// arithmetic split over a dozen kernels; called one by one from TypeScript, the calls, their
// argument checks and the minibatch gathers cost as much again. And the actor's and the critic's
// passes touch disjoint parameters, so they run at the same time on two threads, joined only
// for the global gradient norm:
//
//   gather rows idx of the rollout;  Â = whiten(A[idx]) (or A[idx])
//   actor:  z = π_θ(s);  log π(a), H;  L_π = PPO clip loss(log π, log π_old, Â) − c_H mean H
//           g_z = ∂L_π/∂z (categorical or Gaussian backward);  ∇θ = backprop(g_z)
//   critic: v = V_φ(s);  L_V = ½ mean max((v − R)², (v_clip − R)²);  ∇φ = backprop(c_V ∂L_V/∂v)
//   join:   ‖g‖ = sqrt(‖∇θ‖² + ‖∇φ‖² + ‖∇log σ‖²);  g ← g · c / (‖g‖ + 1e-6) if ‖g‖ > c
//   Adam on θ, φ (in parallel) and log σ
//
// Every step is the same kernel the unfused path calls (Mlp, CategoricalCpu / GaussianCpu,
// PpoLossCpu, ValueLossCpu, GlobalNormCpu, AdamCpu, WhitenCpu), with the same inputs in the
// same order per network, so the result is bit-identical to calling them one by one; nested
// thread-pool calls run inline, and none of these kernels depends on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mlp.h"
#include "optim.h"

namespace rlcore::nn {

/// Minibatch scratch, grown on the calling thread before any parallel work.
struct PpoUpdateScratch {
  std::vector<float> obs, act_f, logp, val, ret, adv, head, new_logp, ent, grad_logp, grad_head, v, grad_v;
  std::vector<int32_t> act_i;
  /// Room for M rows of D observation features and A action outputs (may throw std::bad_alloc).
  void Reserve(size_t M, size_t D, size_t A, bool discrete);
};

struct PpoUpdateProblem {
  size_t B = 0, M = 0, D = 0, A = 0;  // rollout rows, minibatch rows, observation size, actions
  bool discrete = true;
  Mlp *actor = nullptr, *critic = nullptr;  // D -> A and D -> 1, training caches prepared for M rows
  // Adam for the actor, the critic and (continuous actions) the free log σ; params, grads, m, v,
  // step and hyperparameters. log_std.n = 0 for discrete actions.
  AdamProblem actor_opt, critic_opt, log_std_opt;
  const float* obs = nullptr;           // [B, D]
  const int32_t* actions_i = nullptr;   // [B] (discrete)
  const float* actions_f = nullptr;     // [B, A] (continuous)
  const float* log_probs = nullptr;     // [B] log π_old(a|s)
  const float* values = nullptr;        // [B] V_old(s)
  const float* returns = nullptr;       // [B]
  const float* advantages = nullptr;    // [B]
  const int32_t* indices = nullptr;     // [M] rows of this minibatch, each in [0, B)
  double clip_coef = 0.2, ent_coef = 0.0, vf_coef = 0.5, max_grad_norm = 0.5;
  bool clip_vloss = true, norm_adv = true;
  /// [10] out: loss, policyLoss, entropy, clipFraction, approxKl, oldApproxKl (the policy loss's),
  /// valueLoss, valueClipFraction, valueMeanAbsError, gradient norm before clipping.
  double* stats = nullptr;
};

/// What stopped an update before the optimiser step (parameters are then unchanged).
enum class PpoUpdateStatus { kOk, kNonFiniteGradLogProb, kNonFiniteClipScale, kFailed };

/// Runs the update (see the file comment). Never throws from inside the thread pool; a failure
/// is returned, with the gradients possibly written and the parameters and moments untouched.
PpoUpdateStatus PpoUpdateCpu(const PpoUpdateProblem& p, PpoUpdateScratch& s);

}  // namespace rlcore::nn
