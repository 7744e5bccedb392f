// GAE over token sequences of different lengths (LLM RL). Plain data, shared by the CPU kernel
// (native/kernels/token_gae.cc) and a CUDA kernel.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rlcore {

struct TokenGaeProblem {
  size_t B = 0;                          // sequences
  size_t L = 0;                          // padded layout [B, L]: tokens per row; 0 for the packed layout
  size_t total = 0;                      // elements of the token arrays: Σ lengths (packed) or B*L (padded)
  const int32_t* offsets = nullptr;      // packed: [B+1] validated offsets, or null
  const int32_t* lengths = nullptr;      // packed: [B] validated lengths (when offsets is null)
  const uint8_t* mask = nullptr;         // padded: [B, L] tokens that take part, or null (all)
  const float* rewards = nullptr;        // [total] per-token rewards, or null (zero)
  const float* terminal_rewards = nullptr;  // [B] added to each sequence's last valid token, or null
  const float* values = nullptr;         // [total] V of each token's state
  float gamma = 1.f, lambda = 0.95f;
  float* advantages = nullptr;           // [total] out
  float* returns = nullptr;              // [total] out (advantages + values), or null
};

/// CPU kernel (thread pool).
void TokenGaeCpu(const TokenGaeProblem& p);

}  // namespace rlcore
