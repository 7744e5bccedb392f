// Group-relative advantages for GRPO-style training. Plain data, shared by the CPU kernel
// (native/kernels/group_normalize.cc) and a CUDA kernel.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rlcore {

enum class GroupMode : int { kGrpo = 0, kMean = 1, kBatchStd = 2, kRloo = 3 };

struct GroupNormalizeProblem {
  size_t B = 0;                        // responses
  size_t group_size = 0;               // G: groups are [g*G, (g+1)*G); 0 when group_ids is given
  const int32_t* group_ids = nullptr;  // [B] ids in [0, num_groups), or null
  size_t num_groups = 0;
  bool ids_sorted = false;             // group_ids are non-decreasing: every group is one contiguous run
  const float* rewards = nullptr;      // [B]
  GroupMode mode = GroupMode::kGrpo;
  double eps = 1e-6;
  bool unbiased = true;
  float* advantages = nullptr;     // [B] out
  uint8_t* zero_groups = nullptr;  // [num_groups] out: 1 where the (non-empty) group's rewards are all equal
  float* group_mean = nullptr;     // [num_groups] out, or null
  float* group_std = nullptr;      // [num_groups] out, or null
  double* summary = nullptr;       // [2] out: zero-std groups, non-empty groups
};

/// CPU kernel (thread pool). Group ids must already be validated.
void GroupNormalizeCpu(const GroupNormalizeProblem& p);

}  // namespace rlcore
