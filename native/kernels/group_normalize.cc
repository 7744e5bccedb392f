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
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "../core/binding.h"
#include "../core/simd_scan.h"
#include "../../cuda/backend.h"
#include "moments.h"

namespace rlcore {
namespace {

constexpr size_t kGrain = 1 << 15;
constexpr size_t kPart = 1 << 16;  // elements per part of the scattered (group id) accumulation
constexpr size_t kAhead = 24;      // scattered passes prefetch the slot of the id this far ahead

// Per-group statistics in float64.
struct GroupStats {
  double count = 0.0, mean = 0.0, m2 = 0.0;
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

// Groups [g0, g1) of G contiguous rewards, one at a time: two-pass float64 moments per group
// (mean, then squared deviations), written straight out.
size_t ContiguousGroups(const GroupNormalizeProblem& p, double batch_std, size_t g0, size_t g1) {
  const size_t G = p.group_size;
  const double count = static_cast<double>(G);
  size_t zero = 0;
  {
    for (size_t g = g0; g < g1; ++g) {
      const float* r = p.rewards + g * G;
      const double mean = GroupSum(r, G) / count;
      const double m2 = GroupSquares(r, G, mean);
      bool same = r[0] == r[0];  // all equal to the first reward (a NaN never is), as the reference
      for (size_t i = 1; i < G; ++i) same &= r[i] == r[0];
      const GroupStats st{count, mean, m2};
      const double scale = Scale(p, st, batch_std);
      float* a = p.advantages + g * G;
      for (size_t i = 0; i < G; ++i) a[i] = static_cast<float>((static_cast<double>(r[i]) - mean) * scale);
      p.zero_groups[g] = same ? 1 : 0;
      zero += same;
      if (p.group_mean) p.group_mean[g] = static_cast<float>(mean);
      if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd({count, mean, m2}, p.unbiased));
    }
  }
  return zero;
}

#if RLCORE_SCAN_SIMD
// Eight groups of G = 8 V contiguous rewards at a time, across the groups: group k is V float64
// vectors, its sums come out in lane k of one vector from a transpose-and-add tree, so every
// step is a full-width vector operation (the one-group-at-a-time loop is latency-bound).

// Lane k of the result = Σ of the 8 lanes of x[k] (pairwise: ((x0+x1)+(x2+x3))+((x4+x5)+(x6+x7))).
inline __m512d LaneSums(const __m512d* x) {
  __m512d t[4], u[2];
  for (int i = 0; i < 4; ++i)  // 128-bit lane l of t[i]: groups 2i, 2i+1, partial sums of lanes 2l, 2l+1
    t[i] = _mm512_add_pd(_mm512_unpacklo_pd(x[2 * i], x[2 * i + 1]), _mm512_unpackhi_pd(x[2 * i], x[2 * i + 1]));
  for (int i = 0; i < 2; ++i)  // groups 4i .. 4i+3, halves
    u[i] = _mm512_add_pd(_mm512_shuffle_f64x2(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f64x2(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_pd(_mm512_shuffle_f64x2(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f64x2(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

inline __m512d Lane(__m512d x, int k) { return _mm512_permutexvar_pd(_mm512_set1_epi64(k), x); }

// Groups [8 u0, 8 u1) of G = 8 V; same arithmetic as ContiguousGroups up to the order of the sums.
template <int V>
size_t ContiguousSimd(const GroupNormalizeProblem& p, double batch_std, size_t u0, size_t u1, bool stream) {
  constexpr size_t G = 8 * V;
  const __m512d count = _mm512_set1_pd(static_cast<double>(G));
  const __m512d dof = _mm512_set1_pd(p.unbiased ? G - 1.0 : static_cast<double>(G));
  const bool grpo = p.mode == GroupMode::kGrpo;
  const __m512d fixed = _mm512_set1_pd(grpo ? 0.0 : Scale(p, {static_cast<double>(G), 0.0, 0.0}, batch_std));
  const __m512d eps = _mm512_set1_pd(p.eps);
  size_t zeros = 0;
  for (size_t u = u0; u < u1; ++u) {
    const float* r = p.rewards + u * 8 * G;
    __m512d x[8][V], part[8];
    uint64_t zero = 0;
    for (int k = 0; k < 8; ++k) {
      const float* rk = r + k * G;
      const __m256 head = _mm256_set1_ps(rk[0]);
      __mmask8 eq = 0xff;
      for (int v = 0; v < V; ++v) {
        const __m256 y = _mm256_loadu_ps(rk + 8 * v);
        x[k][v] = _mm512_cvtps_pd(y);
        eq &= _mm256_cmp_ps_mask(y, head, _CMP_EQ_OQ);  // NaN never equal: as the reference
      }
      zero |= static_cast<uint64_t>(eq == 0xff) << (8 * k);
      part[k] = x[k][0];
      for (int v = 1; v < V; ++v) part[k] = _mm512_add_pd(part[k], x[k][v]);
    }
    const __m512d mean = _mm512_div_pd(LaneSums(part), count);
    __m512d d[8][V];
    for (int k = 0; k < 8; ++k) {
      const __m512d mk = Lane(mean, k);
      for (int v = 0; v < V; ++v) d[k][v] = _mm512_sub_pd(x[k][v], mk);
      part[k] = _mm512_mul_pd(d[k][0], d[k][0]);
      for (int v = 1; v < V; ++v) part[k] = _mm512_fmadd_pd(d[k][v], d[k][v], part[k]);
    }
    const __m512d m2 = LaneSums(part);
    const __m512d std = _mm512_sqrt_pd(_mm512_div_pd(m2, dof));
    const __m512d scale = grpo ? _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_add_pd(std, eps)) : fixed;
    float* a = p.advantages + u * 8 * G;
    for (int k = 0; k < 8; ++k) {
      const __m512d sk = Lane(scale, k);
      for (int v = 0; v < V; ++v) x[k][v] = _mm512_mul_pd(d[k][v], sk);
    }
    const __m512d* y = &x[0][0];  // the 8 V runs of 8 floats in memory order
    for (int e = 0; e < 8 * V; e += 2) simd::Store16(a + 8 * e, simd::Narrow(y[e], y[e + 1]), stream);
    std::memcpy(p.zero_groups + u * 8, &zero, 8);
    zeros += static_cast<size_t>(__builtin_popcountll(zero));
    if (p.group_mean) _mm256_storeu_ps(p.group_mean + u * 8, _mm512_cvtpd_ps(mean));
    if (p.group_std) _mm256_storeu_ps(p.group_std + u * 8, _mm512_cvtpd_ps(std));
  }
  simd::Fence(stream);
  return zeros;
}
#endif

// Groups of G contiguous rewards, in parallel over groups. Returns the groups of equal rewards.
size_t Contiguous(const GroupNormalizeProblem& p, double batch_std) {
  const size_t G = p.group_size;
  std::atomic<size_t> zero{0};  // integer counts: the same whatever the split
#if RLCORE_SCAN_SIMD
  if (G == 8 || G == 16) {
    const size_t units = p.num_groups / 8, done = units * 8;
    const bool stream = p.B >= simd::kStreamElements;
    ParallelFor(units, std::max<size_t>(1, kGrain / (8 * G)), [&](size_t u0, size_t u1) {
      zero += G == 8 ? ContiguousSimd<1>(p, batch_std, u0, u1, stream) : ContiguousSimd<2>(p, batch_std, u0, u1, stream);
    });
    return zero + ContiguousGroups(p, batch_std, done, p.num_groups);
  }
#endif
  ParallelFor(p.num_groups, std::max<size_t>(1, kGrain / G),
              [&](size_t g0, size_t g1) { zero += ContiguousGroups(p, batch_std, g0, g1); });
  return zero;
}

// Arbitrary group ids: three streaming passes over (ids, rewards), each element touching one
// 16-byte slot of its group (the ids are random, so that slot is the cost): per-part sums and
// counts, merged in part order; per-part squared deviations from the merged mean (and whether any
// reward differs from it: the zero flag); then the write. The parts depend only on B and the
// number of groups, so the result does not depend on the thread count. Returns the non-empty groups.
struct alignas(16) PairSlot {
  double x, y;
};

std::pair<double, size_t> Scattered(const GroupNormalizeProblem& p, double batch_std) {
  const size_t B = p.B, NG = p.num_groups;
  const size_t parts = (B + kPart - 1) / kPart;
  // Partial state (16 B per group and part) stays within the size of the rewards.
  const size_t P = std::max<size_t>(1, std::min<size_t>({parts, B / (4 * NG), 16}));
  // Scratch kept per thread between calls: fresh pages of this size would cost more page faults
  // than the kernel's own work.
  thread_local std::vector<PairSlot> slot_buf;
  thread_local std::vector<uint8_t> differs_buf;
  thread_local std::vector<double> count_buf;
  slot_buf.assign(P * NG, PairSlot{0.0, 0.0});  // pass 1: (sum, count); pass 2: (mean, m2)
  differs_buf.assign(P * NG, 0);
  count_buf.resize(NG);
  PairSlot* slot = slot_buf.data();
  uint8_t* differs = differs_buf.data();
  double* count = count_buf.data();
  auto range = [&](size_t q) { return std::pair<size_t, size_t>(B * q / P, B * (q + 1) / P); };
  auto run = [&](auto&& body) {
    if (P == 1) body(0);
    else ParallelFor(P, 1, [&](size_t q0, size_t q1) { for (size_t q = q0; q < q1; ++q) body(q); });
  };
  const int32_t* __restrict ids = p.group_ids;
  const float* __restrict rewards = p.rewards;
  run([&](size_t q) {  // pass 1
    PairSlot* __restrict s = &slot[q * NG];
    auto [i0, i1] = range(q);
    for (size_t i = i0; i < i1; ++i) {
      if (i + kAhead < i1) __builtin_prefetch(&s[ids[i + kAhead]], 1);
      PairSlot& g = s[ids[i]];
      g.x += rewards[i];
      g.y += 1.0;
    }
  });
  const size_t grain = std::max<size_t>(1, kGrain / P);
  ParallelFor(NG, grain, [&](size_t g0, size_t g1) {  // merge in part order; every part gets the mean
    for (size_t g = g0; g < g1; ++g) {
      double sum = 0.0, n = 0.0;
      for (size_t q = 0; q < P; ++q) sum += slot[q * NG + g].x, n += slot[q * NG + g].y;
      const double mean = n > 0.0 ? sum / n : 0.0;
      for (size_t q = 0; q < P; ++q) slot[q * NG + g] = {mean, 0.0};
      count[g] = n;
    }
  });
  run([&](size_t q) {  // pass 2
    PairSlot* __restrict s = &slot[q * NG];
    uint8_t* __restrict dif = &differs[q * NG];
    auto [i0, i1] = range(q);
    for (size_t i = i0; i < i1; ++i) {
      if (i + kAhead < i1) __builtin_prefetch(&s[ids[i + kAhead]], 1), __builtin_prefetch(&dif[ids[i + kAhead]], 1);
      const int32_t g = ids[i];
      const double r = rewards[i], d = r - s[g].x;
      s[g].y += d * d;
      // All rewards equal <=> all equal the mean (exact then, even ±Inf); a NaN never is.
      dif[g] |= static_cast<uint8_t>(!(r == s[g].x));
    }
  });
  std::atomic<size_t> nonempty{0}, zero{0};
  ParallelFor(NG, grain, [&](size_t g0, size_t g1) {  // per-group scale into part 0's slots: (mean, scale)
    size_t ne = 0, z = 0;
    for (size_t g = g0; g < g1; ++g) {
      double m2 = 0.0;
      uint8_t dif = 0;
      for (size_t q = 0; q < P; ++q) m2 += slot[q * NG + g].y, dif |= differs[q * NG + g];
      const double n = count[g], mean = slot[g].x;
      const GroupStats st{n, mean, m2};
      const uint8_t flag = (n > 0.0 && !dif) ? 1 : 0;
      ne += n > 0.0, z += flag;
      slot[g].y = Scale(p, st, batch_std);
      p.zero_groups[g] = flag;
      if (p.group_mean) p.group_mean[g] = static_cast<float>(mean);
      if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd({n, mean, m2}, p.unbiased));
    }
    nonempty += ne, zero += z;
  });
  const PairSlot* __restrict ms = slot;
  ParallelFor(B, kGrain, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      if (i + kAhead < i1) __builtin_prefetch(&ms[ids[i + kAhead]], 0);
      const PairSlot g = ms[ids[i]];
      p.advantages[i] = static_cast<float>((static_cast<double>(rewards[i]) - g.x) * g.y);
    }
  });
  return {static_cast<double>(nonempty.load()), zero.load()};
}

// Smallest and largest id (a vectorised reduction over fixed chunks, in parallel: the check
// reads as much memory as a pass of the kernel).
std::pair<int32_t, int32_t> IdRange(const int32_t* ids, size_t B) {
  const size_t chunks = (B + kGrain - 1) / kGrain;
  std::vector<std::pair<int32_t, int32_t>> part(chunks);
  ParallelFor(chunks, 8, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      const int32_t* x = ids + c * kGrain;
      const size_t n = std::min(kGrain, B - c * kGrain);
      int32_t lo = x[0], hi = x[0];
      for (size_t i = 1; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
      part[c] = {lo, hi};
    }
  });
  std::pair<int32_t, int32_t> r = part[0];
  for (const auto& q : part) r = {std::min(r.first, q.first), std::max(r.second, q.second)};
  return r;
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
    const auto [min_id, max_id] = IdRange(p.group_ids, p.B);
    if (min_id < 0) {
      size_t i = 0;
      while (p.group_ids[i] >= 0) ++i;
      ThrowError(env, "ERR_RANGE", "groupNormalize: groupIds[" + std::to_string(i) + "] must be >= 0; received " +
                                       std::to_string(p.group_ids[i]));
    }
    p.num_groups = has_num ? SizeArg(info, 3, kKernel, "numGroups") : static_cast<size_t>(max_id) + 1;
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
  std::pair<double, size_t> counts{static_cast<double>(p.num_groups), 0};
  if (p.group_size) counts.second = Contiguous(p, batch_std);
  else counts = Scattered(p, batch_std);
  p.summary[0] = static_cast<double>(counts.second);
  p.summary[1] = counts.first;
}

RLCORE_EXPORT(groupNormalize, GroupNormalizeBinding);

}  // namespace rlcore
