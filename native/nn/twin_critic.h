// Twin Q networks run side by side (clipped double Q: Fujimoto et al. 2018, arXiv:1802.09477;
// SAC: Haarnoja et al. 2018, arXiv:1812.05905). Plain data; no N-API.
//
// Why fused: SAC and TD3 evaluate two critics of the same shape on the same batch at every
// step, and the two passes touch disjoint parameters. At their sizes (256-256, B = 256) one
// network's GEMMs split over two cores gain only ~1.4x (a fork/join per product); giving each
// core one whole network avoids that (bench/sac.bench.ts: 1.05x-1.21x per SAC step overall).
// Three passes, each over both networks at once:
//
//   forward:     q_i = Q_i(x)                                          (inference, targets)
//   train:       q_i = Q_i(x);  L_i = mean ½ (q_i − y)²;  ∇θ_i = backprop(∂L_i/∂q_i);  Adam on θ_i
//   input grad:  q_i = Q_i(x);  m_b = [q1_b ≤ q2_b];  ∂ min(q1, q2)/∂x through Q1 where m, Q2 elsewhere
//
// Every step is the kernel the one-by-one path calls (Mlp, TdLossCpu, AdamCpu) with the same
// inputs, so results are bit-identical to it; nested thread-pool calls run inline, and none of
// these kernels depends on the thread count.
#pragma once
#include <cstddef>

#include "mlp.h"
#include "optim.h"

namespace rlcore::nn {

struct TwinCriticProblem {
  size_t B = 0, I = 0;                      // rows, input features
  Mlp* net[2] = {nullptr, nullptr};         // I -> 1 each, caches prepared for B rows
  const float* params[2] = {nullptr, nullptr};
  const float* x = nullptr;                 // [B, I]
  float* q[2] = {nullptr, nullptr};         // [B] out Q_i(x)
  // train
  const float* y = nullptr;                 // [B] targets
  float* grad_q[2] = {nullptr, nullptr};    // [B] out ∂L_i/∂q_i
  AdamProblem opt[2];                       // params, grads (overwritten), m, v, step, hyperparameters
  double* stats = nullptr;                  // [8] out: per network loss, meanQ, meanAbsTd, meanTarget
  // input grad
  float* grad_x[2] = {nullptr, nullptr};    // [B, I] out ∂ min(q1, q2)/∂x through each network
};

/// What went wrong inside the pool (nothing throws out of it): a failed pass, out of memory.
enum class TwinCriticStatus { kOk, kFailed };

TwinCriticStatus TwinForwardCpu(const TwinCriticProblem& p);
TwinCriticStatus TwinTrainCpu(const TwinCriticProblem& p);
TwinCriticStatus TwinInputGradCpu(const TwinCriticProblem& p);

}  // namespace rlcore::nn
