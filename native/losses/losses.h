// Loss kernels over a batch of B samples. Each returns the loss (a mean over the batch),
// the statistics users log, and the gradient with respect to its inputs, in one pass.
// Plain data (napi-free). Sums are accumulated in float64 over fixed row blocks, so results do
// not depend on the thread count.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../core/step_param.h"

namespace rlcore {

/// ρ(x) = ½ x² (delta = 0), or Huber: ½ x² for |x| ≤ δ, δ (|x| − ½ δ) beyond.
inline double LossRho(double x, double delta) {
  const double ax = std::fabs(x);
  const double huber = delta * (ax - 0.5 * delta), sq = 0.5 * x * x;
  return ((delta > 0.0) & (ax > delta)) ? huber : sq;  // `&`, not `&&`: no branch
}
/// ρ'(x): x, clamped to [−δ, δ] for Huber.
inline double LossRhoGrad(double x, double delta) {
  const double lo = x < -delta ? -delta : x;
  const double c = lo > delta ? delta : lo;
  return delta > 0.0 ? c : x;
}

struct PpoLossProblem {
  size_t B = 0;
  const float* new_log_prob = nullptr;  // [B] log π_θ(a|s)
  const float* old_log_prob = nullptr;  // [B] log π_old(a|s)
  const float* advantages = nullptr;    // [B]
  const float* entropy = nullptr;       // [B] or null
  double clip = 0.2, ent_coef = 0.0;
  bool normalize = false;
  float* grad_log_prob = nullptr;  // [B] out dL/d newLogProb
  double* stats = nullptr;         // [6] out: loss, policyLoss, entropy, clipFraction, approxKl, oldApproxKl
};
void PpoLossCpu(const PpoLossProblem& p);

struct ValueLossProblem {
  size_t B = 0;
  const float* values = nullptr;      // [B] predictions V_θ(s)
  const float* returns = nullptr;     // [B] targets
  const float* old_values = nullptr;  // [B] V_old(s) for value clipping, or null
  double clip = 0.0, delta = 0.0;     // delta 0: squared error
  float* grad = nullptr;              // [B] out dL/d values
  double* stats = nullptr;            // [3] out: loss, clipFraction, meanAbsError
};
void ValueLossCpu(const ValueLossProblem& p);

struct TdLossProblem {
  size_t B = 0, A = 0;
  const float* q = nullptr;               // [B, A] Q(s, ·)
  const int32_t* actions = nullptr;       // [B] taken actions (null when A = 1)
  const float* targets = nullptr;         // [B] given targets y, or null
  const float* rewards = nullptr;         // [B]
  const uint8_t* dones = nullptr;         // [B] terminated (no bootstrap), or null
  const float* next_q = nullptr;          // [B] bootstrap values, or [B, A] Q_target(s', ·)
  size_t next_q_width = 1;                // 1 or A
  const float* next_q_select = nullptr;   // [B, A] Q_online(s', ·) choosing the argmax (Double DQN), or null
  StepParam gamma;                        // scalar or [B] (e.g. γ^n for n-step)
  const float* weights = nullptr;         // [B] importance weights, or null
  double delta = 0.0;                     // 0: squared error
  float* grad = nullptr;                  // [B, A] out dL/dQ(s, ·)
  float* td_abs = nullptr;                // [B] out |Q(s, a) − y|, or null
  float* target_out = nullptr;            // [B] out y, or null
  double* stats = nullptr;                // [4] out: loss, meanQ, meanAbsTd, meanTarget
};
void TdLossCpu(const TdLossProblem& p);

}  // namespace rlcore
