// Group-relative advantages: each prompt is answered B/numGroups times and a response's reward
// is compared with the other answers to the same prompt (group g, n_g members, mean μ_g, std σ_g):
//
//   grpo      A_i = (r_i - μ_g) / (σ_g + eps)           Shao et al. 2024 (DeepSeekMath), arXiv:2402.03300
//   mean      A_i = r_i - μ_g                           Liu et al. 2025 (Dr. GRPO), arXiv:2503.20783
//   batchStd  A_i = (r_i - μ_g) / (σ_batch + eps)       σ over all B rewards
//   rloo      A_i = r_i - (Σ_g r - r_i) / (n_g - 1)     Ahmadian et al. 2024, arXiv:2402.14740
//             = n_g / (n_g - 1) (r_i - μ_g);  0 for a group of one
//
// Every mode is A_i = (r_i - μ_g) * s_g with a per-group scale s_g. A group whose rewards are all
// equal carries no signal (A = 0 in every mode): it is flagged in zero_groups.
#include "group_normalize.h"

#include <algorithm>
#include <string>
#include <vector>

#include "../core/binding.h"
#include "../../cuda/backend.h"
#include "moments.h"

namespace rlcore {
namespace {

constexpr size_t kGrain = 1 << 15;
constexpr size_t kPart = 1 << 16;  // elements per part of the scattered (group id) accumulation

// Per-group statistics in float64.
struct GroupStats {
  double count = 0.0, mean = 0.0, m2 = 0.0;
  float lo = 0.f, hi = 0.f;
};

double Scale(const GroupNormalizeProblem& p, const GroupStats& g, double batch_std) {
  switch (p.mode) {
    case GroupMode::kGrpo: return 1.0 / (MomentsStd({g.count, g.mean, g.m2}, p.unbiased) + p.eps);
    case GroupMode::kMean: return 1.0;
    case GroupMode::kBatchStd: return 1.0 / (batch_std + p.eps);
    case GroupMode::kRloo: return g.count > 1.0 ? g.count / (g.count - 1.0) : 0.0;
  }
  return 0.0;
}

// Contiguous groups of G: each group is reduced and written by one thread, in cache.
// Float64 sum of x[0, n) in four interleaved accumulators (short groups: no call, no tail pass).
inline double GroupSum(const float* x, size_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) s0 += x[i], s1 += x[i + 1], s2 += x[i + 2], s3 += x[i + 3];
  for (; i < n; ++i) s0 += x[i];
  return (s0 + s1) + (s2 + s3);
}

inline double GroupSquares(const float* x, size_t n, double mean) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double d0 = x[i] - mean, d1 = x[i + 1] - mean, d2 = x[i + 2] - mean, d3 = x[i + 3] - mean;
    s0 += d0 * d0, s1 += d1 * d1, s2 += d2 * d2, s3 += d3 * d3;
  }
  for (; i < n; ++i) s0 += (x[i] - mean) * (x[i] - mean);
  return (s0 + s1) + (s2 + s3);
}

// Groups of G contiguous rewards: two-pass float64 moments per group (mean, then squared
// deviations), written straight out.
void Contiguous(const GroupNormalizeProblem& p, double batch_std) {
  const size_t G = p.group_size;
  const double count = static_cast<double>(G);
  ParallelFor(p.num_groups, std::max<size_t>(1, kGrain / G), [&](size_t g0, size_t g1) {
    for (size_t g = g0; g < g1; ++g) {
      const float* r = p.rewards + g * G;
      const double mean = GroupSum(r, G) / count;
      const double m2 = GroupSquares(r, G, mean);
      float lo = r[0], hi = r[0];
      for (size_t i = 1; i < G; ++i) lo = std::min(lo, r[i]), hi = std::max(hi, r[i]);
      const GroupStats st{count, mean, m2, lo, hi};
      const double scale = Scale(p, st, batch_std);
      float* a = p.advantages + g * G;
      for (size_t i = 0; i < G; ++i) a[i] = static_cast<float>((static_cast<double>(r[i]) - mean) * scale);
      p.zero_groups[g] = lo == hi ? 1 : 0;
      if (p.group_mean) p.group_mean[g] = static_cast<float>(mean);
      if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd({count, mean, m2}, p.unbiased));
    }
  });
}

double Scattered(const GroupNormalizeProblem& p, double batch_std) {
  const size_t B = p.B, NG = p.num_groups;
  const size_t parts = (B + kPart - 1) / kPart;
  const size_t P = (parts > 1 && parts * NG <= B) ? parts : 1;
  std::vector<GroupStats> stats(P * NG);
  auto range = [&](size_t q) { return std::pair<size_t, size_t>(B * q / P, B * (q + 1) / P); };
  auto run = [&](auto&& body) {
    if (P == 1) body(0);
    else ParallelFor(P, 1, [&](size_t q0, size_t q1) { for (size_t q = q0; q < q1; ++q) body(q); });
  };
  // Pass 1: sums (in `mean`) and counts.
  run([&](size_t q) {
    GroupStats* s = &stats[q * NG];
    auto [i0, i1] = range(q);
    for (size_t i = i0; i < i1; ++i) {
      GroupStats& g = s[p.group_ids[i]];
      const float r = p.rewards[i];
      if (g.count == 0.0) g.lo = g.hi = r;
      g.count += 1.0;
      g.mean += r;
      g.lo = std::min(g.lo, r);
      g.hi = std::max(g.hi, r);
    }
  });
  std::vector<GroupStats> total(stats.begin(), stats.begin() + NG);
  for (size_t q = 1; q < P; ++q) {
    for (size_t g = 0; g < NG; ++g) {
      const GroupStats& s = stats[q * NG + g];
      GroupStats& t = total[g];
      if (s.count == 0.0) continue;
      t.lo = t.count == 0.0 ? s.lo : std::min(t.lo, s.lo);
      t.hi = t.count == 0.0 ? s.hi : std::max(t.hi, s.hi);
      t.count += s.count;
      t.mean += s.mean;
    }
  }
  for (GroupStats& t : total) t.mean = t.count > 0.0 ? t.mean / t.count : 0.0;
  // Pass 2: squared deviations from the group mean.
  std::vector<double> m2(P * NG, 0.0);
  run([&](size_t q) {
    double* s = &m2[q * NG];
    auto [i0, i1] = range(q);
    for (size_t i = i0; i < i1; ++i) {
      const int32_t g = p.group_ids[i];
      const double d = static_cast<double>(p.rewards[i]) - total[g].mean;
      s[g] += d * d;
    }
  });
  for (size_t q = 0; q < P; ++q)
    for (size_t g = 0; g < NG; ++g) total[g].m2 += m2[q * NG + g];
  std::vector<double> scale(NG);
  double nonempty = 0.0;
  for (size_t g = 0; g < NG; ++g) {
    const GroupStats& t = total[g];
    nonempty += t.count > 0.0 ? 1.0 : 0.0;
    scale[g] = Scale(p, t, batch_std);
    p.zero_groups[g] = (t.count > 0.0 && t.lo == t.hi) ? 1 : 0;
    if (p.group_mean) p.group_mean[g] = static_cast<float>(t.mean);
    if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd({t.count, t.mean, t.m2}, p.unbiased));
  }
  ParallelFor(B, kGrain, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const int32_t g = p.group_ids[i];
      p.advantages[i] = static_cast<float>((static_cast<double>(p.rewards[i]) - total[g].mean) * scale[g]);
    }
  });
  return nonempty;
}

bool ParseMode(const std::string& s, GroupMode* mode) {
  if (s == "grpo") *mode = GroupMode::kGrpo;
  else if (s == "mean") *mode = GroupMode::kMean;
  else if (s == "batchStd") *mode = GroupMode::kBatchStd;
  else if (s == "rloo") *mode = GroupMode::kRloo;
  else return false;
  return true;
}

// groupNormalize(rewards, groupSize?, groupIds?, numGroups?, mode, eps, unbiased, outAdvantages,
//                outZeroGroups, outGroupMean?, outGroupStd?, summary, useCuda, async)
Napi::Value GroupNormalizeBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "groupNormalize";
  Napi::Env env = info.Env();
  GroupNormalizeProblem p;
  ArrayArg<float> rewards = F32Arg(info, 0, kKernel, "rewards", false, SIZE_MAX, "");
  p.rewards = rewards.data;
  p.B = rewards.length;
  if (p.B == 0) ThrowError(env, "ERR_SHAPE", "groupNormalize: rewards must have at least 1 element ([B]); received 0");
  const std::string bshape = ShapeText("[B]", {p.B});
  const bool has_size = info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull();
  const bool has_num = info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull();
  ArrayArg<int32_t> ids = I32Arg(info, 2, kKernel, "groupIds", true, p.B, bshape);
  if (has_size == static_cast<bool>(ids)) ThrowError(env, "ERR_ARG", "groupNormalize: give exactly one of groupSize and groupIds");
  if (has_size) {
    if (has_num) ThrowError(env, "ERR_ARG", "groupNormalize: numGroups goes with groupIds, not with groupSize");
    p.group_size = SizeArg(info, 1, kKernel, "groupSize");
    if (p.B % p.group_size != 0) {
      ThrowError(env, "ERR_SHAPE", "groupNormalize: groupSize must divide B; received groupSize " +
                                       std::to_string(p.group_size) + " for B = " + std::to_string(p.B));
    }
    p.num_groups = p.B / p.group_size;
  } else {
    p.group_ids = ids.data;
    int64_t max_id = -1;
    for (size_t i = 0; i < p.B; ++i) {
      if (p.group_ids[i] < 0) {
        ThrowError(env, "ERR_RANGE", "groupNormalize: groupIds[" + std::to_string(i) + "] must be >= 0; received " +
                                         std::to_string(p.group_ids[i]));
      }
      max_id = std::max<int64_t>(max_id, p.group_ids[i]);
    }
    p.num_groups = has_num ? SizeArg(info, 3, kKernel, "numGroups") : static_cast<size_t>(max_id + 1);
    if (static_cast<size_t>(max_id) >= p.num_groups) {
      ThrowError(env, "ERR_RANGE", "groupNormalize: groupIds must be < numGroups = " + std::to_string(p.num_groups) +
                                       "; received " + std::to_string(max_id));
    }
  }
  Napi::Value mode = info.Length() > 4 ? info[4] : env.Undefined();
  if (!mode.IsString() || !ParseMode(mode.As<Napi::String>().Utf8Value(), &p.mode)) {
    ThrowError(env, "ERR_ARG", "groupNormalize: mode must be 'grpo', 'mean', 'batchStd' or 'rloo'");
  }
  p.eps = NumberArg(info, 5, kKernel, "eps", 0.0, 1.7976931348623157e308);
  if (!(p.eps > 0.0)) ThrowError(env, "ERR_RANGE", "groupNormalize: eps must be a finite number > 0; received 0");
  p.unbiased = BoolArg(info, 6);
  const std::string gshape = ShapeText("[numGroups]", {p.num_groups});
  p.advantages = F32Arg(info, 7, kKernel, "out.advantages", false, p.B, bshape).data;
  p.zero_groups = U8Arg(info, 8, kKernel, "out.zeroGroups", false, p.num_groups, gshape).data;
  p.group_mean = F32Arg(info, 9, kKernel, "out.groupMean", true, p.num_groups, gshape).data;
  p.group_std = F32Arg(info, 10, kKernel, "out.groupStd", true, p.num_groups, gshape).data;
  p.summary = F64Arg(info, 11, kKernel, "summary", false, 2, "[2]").data;
  const bool use_cuda = BoolArg(info, 12), async = BoolArg(info, 13);
  CheckDevice(env, kKernel, use_cuda);
  const size_t B4 = p.B * 4, G4 = p.num_groups * 4;
  const struct { const char* name; const void* ptr; size_t bytes; } mem[] = {
      {"rewards", p.rewards, B4},           {"groupIds", p.group_ids, p.group_ids ? B4 : 0},
      {"out.advantages", p.advantages, B4}, {"out.zeroGroups", p.zero_groups, p.num_groups},
      {"out.groupMean", p.group_mean, p.group_mean ? G4 : 0}, {"out.groupStd", p.group_std, p.group_std ? G4 : 0},
      {"summary", p.summary, 16}};
  for (size_t a = 2; a < 7; ++a)
    for (size_t b = 0; b < a; ++b) CheckNoOverlap(env, kKernel, mem[a].name, mem[a].ptr, mem[a].bytes, mem[b].name, mem[b].ptr, mem[b].bytes);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::GroupNormalize(p);
#endif
    (void)use_cuda;
    GroupNormalizeCpu(p);
  }, KeepArgs{0, 12});
}

}  // namespace

void GroupNormalizeCpu(const GroupNormalizeProblem& p) {
  const double batch_std =
      p.mode == GroupMode::kBatchStd ? MomentsStd(ComputeMoments(p.rewards, nullptr, p.B), p.unbiased) : 0.0;
  double nonempty = static_cast<double>(p.num_groups);
  if (p.group_size) Contiguous(p, batch_std);
  else nonempty = Scattered(p, batch_std);
  double zero = 0.0;
  for (size_t g = 0; g < p.num_groups; ++g) zero += p.zero_groups[g];
  p.summary[0] = zero;
  p.summary[1] = nonempty;
}

RLCORE_EXPORT(groupNormalize, GroupNormalizeBinding);

}  // namespace rlcore
