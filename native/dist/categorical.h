// Categorical distribution from logits, batched over [B, A]. Plain data (napi-free).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/step_param.h"

namespace rlcore {

struct CategoricalProblem {
  size_t B = 0, A = 0;
  const float* logits = nullptr;     // [B, A]
  const uint8_t* mask = nullptr;     // [B, A] nonzero = legal, or null (all legal)
  const int32_t* actions = nullptr;  // [B] given actions, or null when sampling
  bool sample = false;               // draw actions (row b uses RandomStream(seed, b))
  uint64_t seed = 0;
  StepParam grad_log_prob;           // dL/d log π(a_b), read as At(b, 0); scalar 0 when absent
  StepParam grad_entropy;            // dL/d H_b
  int32_t* sampled = nullptr;        // [B] out (sample mode)
  float* log_prob = nullptr;         // [B] out, or null
  float* entropy = nullptr;          // [B] out, or null
  float* grad_logits = nullptr;      // [B, A] out, or null
};

/// CPU kernel (thread pool). Inputs must already be validated (actions in range and legal, every
/// row with at least one legal action).
void CategoricalCpu(const CategoricalProblem& p);

}  // namespace rlcore
