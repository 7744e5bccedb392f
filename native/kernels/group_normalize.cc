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
//
// Paths (all float64, two-pass moments per group, the same bits for any thread count):
//   groupSize           Contiguous: groups of 8 or 16 eight at a time across the vector lanes.
//   groupIds = i / G    Contiguous too (UniformRunLength tells them from the run starts).
//   sorted groupIds     Sorted: one pass over the rewards and a bitmask of run starts (from the
//                       binding's check of the ids), runs batched as the lanes of Reduce8.
//   other groupIds      Scattered (up to kDirectGroups groups): per-group tables indexed by id;
//                       Partitioned (more): a counting sort into buckets of groups first.
// Scratch kept between calls, with group ids only: IdScanBuffer's, two sets of (B / 8 bytes and
// 128 KiB per thread with sorted ids; Partitioned's pairs, 8 B bytes, plus ~0.2 MiB and
// 25 numGroups / 1024 bytes per thread), and Scattered's thread-local tables (at most
// 4.25 B + 8 numGroups bytes).
#include "group_normalize.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../core/binding.h"
#include "../core/simd_scan.h"
#include "../../cuda/backend.h"
#include "moments.h"

namespace rlcore {
namespace {

constexpr size_t kGrain = 1 << 15;  // elements per chunk of work
constexpr size_t kPart = 1 << 16;  // elements per part of the scattered (group id) accumulation and counting sort
constexpr size_t kAhead = 24;      // scattered passes prefetch the slot of the id this far ahead

// How many threads ParallelClaim may use for `count` items (what its callers size scratch for).
inline size_t ClaimWorkers(size_t count) { return std::max<size_t>(1, std::min<size_t>(count, static_cast<size_t>(NumThreads()))); }

// Per-group scale s_g (see the top) from the group's moments.
double Scale(const GroupNormalizeProblem& p, const Moments& g, double batch_std) {
  switch (p.mode) {
    case GroupMode::kGrpo: return 1.0 / (MomentsStd(g, p.unbiased) + p.eps);
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

// What a group's outputs are made of: A_i = (r_i - mean) * scale.
struct RunStat {
  double mean, scale, std;
  bool same;  // all rewards equal: the zero flag
};

// The n >= 1 contiguous rewards r[0, n) of one group: two-pass float64 moments (mean, then
// squared deviations).
inline RunStat ScalarStat(const GroupNormalizeProblem& p, double batch_std, const float* r, size_t n) {
  const double count = static_cast<double>(n);
  const double mean = GroupSum(r, n) / count;
  const double m2 = GroupSquares(r, n, mean);
  bool same = r[0] == r[0];  // all equal to the first reward (a NaN never is), as the reference
  for (size_t i = 1; i < n; ++i) same &= r[i] == r[0];
  return {mean, Scale(p, Moments{count, mean, m2}, batch_std), MomentsStd({count, mean, m2}, p.unbiased), same};
}

inline void WriteGroup(const GroupNormalizeProblem& p, size_t g, const RunStat& s) {
  p.zero_groups[g] = s.same ? 1 : 0;
  if (p.group_mean) p.group_mean[g] = static_cast<float>(s.mean);
  if (p.group_std) p.group_std[g] = static_cast<float>(s.std);
}

inline void Apply(const float* r, float* a, size_t n, double mean, double scale) {
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>((static_cast<double>(r[i]) - mean) * scale);
}

// Group g = the n >= 1 contiguous rewards r[0, n), written straight out to a[0, n). Returns
// whether its rewards are all equal.
inline bool OneGroup(const GroupNormalizeProblem& p, double batch_std, size_t g, const float* r, float* a, size_t n) {
  const RunStat s = ScalarStat(p, batch_std, r, n);
  Apply(r, a, n, s.mean, s.scale);
  WriteGroup(p, g, s);
  return s.same;
}

// Groups [g0, g1) without members: what Scattered gives them (mean 0, std 0, not flagged).
inline void EmptyGroups(const GroupNormalizeProblem& p, size_t g0, size_t g1) {
  for (size_t g = g0; g < g1; ++g) {
    p.zero_groups[g] = 0;
    if (p.group_mean) p.group_mean[g] = 0.f;
    if (p.group_std) p.group_std[g] = 0.f;
  }
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

// The groups (bit k, of the live lanes) whose rewards are all equal to the first, as the
// reference has it: a NaN is never equal, +-Inf equals itself. For finite rewards that is M2 = 0
// (then every r - mean is 0: n equal floats add up exactly in float64; and a nonzero float64
// r - mean is too large for its square to vanish), so only a group with an infinite mean needs
// its rewards compared (with that mean: all equal to it, or its NaN, inf - inf, is not).
template <int V>
inline uint32_t SameRewards(const __m512d (&x)[8][2], const __mmask16* live, __m512d count, __m512d mean, __m512d m2) {
  const __mmask8 any = _mm512_cmp_pd_mask(count, _mm512_setzero_pd(), _CMP_GT_OQ);  // not padding
  uint32_t same = _mm512_mask_cmp_pd_mask(any, m2, _mm512_setzero_pd(), _CMP_EQ_OQ);
  for (__mmask8 inf = _mm512_mask_fpclass_pd_mask(any, mean, 0x18); inf; inf &= inf - 1) {  // +-Inf means
    const int k = __builtin_ctz(inf);
    const __m512d mk = _mm512_permutexvar_pd(_mm512_set1_epi64(k), mean);
    __mmask16 eq = _mm512_mask_cmp_pd_mask(static_cast<__mmask8>(live[k]), x[k][0], mk, _CMP_EQ_OQ);
    if (V == 2) eq |= static_cast<__mmask16>(_mm512_mask_cmp_pd_mask(static_cast<__mmask8>(live[k] >> 8), x[k][1], mk, _CMP_EQ_OQ) << 8);
    same |= static_cast<uint32_t>(eq == live[k]) << k;
  }
  return same;
}

// The arithmetic of eight groups of at most 16 rewards, across the groups (lane k = group k):
// x[k][0], x[k][1] hold group k's rewards 0-7 and 8-15 widened to float64, count their numbers.
// kFull: every group has 8 V rewards. Else live[k] masks group k's rewards (bits 0-7 in x[k][0],
// 8-15 in x[k][1]; none in a padding lane) and x is 0 outside them: the masked steps do on the
// live lanes what the full ones do, so a group of 8 or 16 gets the same bits either way, and a
// group's bits do not depend on the other lanes. Same arithmetic as ScalarStat up to the order
// of the sums and the divisions by n and n - 1 (here products with their rounded inverses). On
// return x holds the advantages (r - mean) * scale; scale_out the scale and `same` the groups of
// equal rewards (bit k, see SameRewards) where given.
// H such sets of eight go through each step together: one set is a chain of long-latency steps
// (sums, square root, division) that the CPU cannot overlap with the next one on its own.
template <int H, int V, bool kFull>
inline void Reduce8(const GroupNormalizeProblem& p, double batch_std, __m512d (*x)[8][2], const __mmask16 (*live)[8],
                    const __m512d* count, __m512d* mean, __m512d* std, __m512d* scale_out = nullptr, uint32_t* same = nullptr) {
  auto hi = [&](int h, int k) { return kFull ? __mmask8{0xff} : static_cast<__mmask8>(live[h][k] >> 8); };
  auto lo = [&](int h, int k) { return kFull ? __mmask8{0xff} : static_cast<__mmask8>(live[h][k]); };
  __m512d part[H][8], d[H][8][2], scale[H];
  for (int h = 0; h < H; ++h) {
    for (int k = 0; k < 8; ++k) {
      part[h][k] = x[h][k][0];
      if (V == 2) part[h][k] = kFull ? _mm512_add_pd(part[h][k], x[h][k][1]) : _mm512_mask_add_pd(part[h][k], hi(h, k), part[h][k], x[h][k][1]);
    }
  }
  // 1 / n for n = 1..16 from a table: a multiplication where a division would hold up the chain.
  // (Loaded as vector statics: a constexpr double array in its place measured 10% slower.)
  static const __m512d r_lo = _mm512_setr_pd(1.0, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5, 1.0 / 6, 1.0 / 7, 1.0 / 8);
  static const __m512d r_hi = _mm512_setr_pd(1.0 / 9, 1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15, 1.0 / 16);
  auto recip = [&](__m512d n) { return _mm512_permutex2var_pd(r_lo, _mm512_sub_epi64(_mm512_cvttpd_epi64(n), _mm512_set1_epi64(1)), r_hi); };
  auto lane = [](__m512d v, int k) { return _mm512_permutexvar_pd(_mm512_set1_epi64(k), v); };
  // kFull: n = 8 V in every lane, the same inverses as constants.
  const __m512d full_n = _mm512_set1_pd(1.0 / (8 * V)), full_dof = _mm512_set1_pd(1.0 / (p.unbiased ? 8 * V - 1 : 8 * V));
  for (int h = 0; h < H; ++h) mean[h] = _mm512_mul_pd(LaneSums(part[h]), kFull ? full_n : recip(count[h]));
  for (int h = 0; h < H; ++h) {
    for (int k = 0; k < 8; ++k) {
      const __m512d mk = lane(mean[h], k);
      d[h][k][0] = kFull ? _mm512_sub_pd(x[h][k][0], mk) : _mm512_maskz_sub_pd(lo(h, k), x[h][k][0], mk);
      part[h][k] = _mm512_mul_pd(d[h][k][0], d[h][k][0]);
      if (V == 2) {
        d[h][k][1] = kFull ? _mm512_sub_pd(x[h][k][1], mk) : _mm512_maskz_sub_pd(hi(h, k), x[h][k][1], mk);
        part[h][k] = kFull ? _mm512_fmadd_pd(d[h][k][1], d[h][k][1], part[h][k]) : _mm512_mask3_fmadd_pd(d[h][k][1], d[h][k][1], part[h][k], hi(h, k));
      }
    }
  }
  const __m512d one = _mm512_set1_pd(1.0);
  for (int h = 0; h < H; ++h) {
    const __m512d dof = p.unbiased ? _mm512_sub_pd(count[h], one) : count[h];
    const __m512d m2 = LaneSums(part[h]);
    std[h] = _mm512_maskz_sqrt_pd(_mm512_cmp_pd_mask(dof, _mm512_setzero_pd(), _CMP_GT_OQ), _mm512_mul_pd(m2, kFull ? full_dof : recip(dof)));
    if (same) same[h] = SameRewards<V>(x[h], live[h], count[h], mean[h], m2);
  }
  for (int h = 0; h < H; ++h) {  // Scale() by lane
    if (p.mode == GroupMode::kGrpo) scale[h] = _mm512_div_pd(one, _mm512_add_pd(std[h], _mm512_set1_pd(p.eps)));
    else if (p.mode == GroupMode::kRloo) scale[h] = _mm512_maskz_div_pd(_mm512_cmp_pd_mask(count[h], one, _CMP_GT_OQ), count[h], _mm512_sub_pd(count[h], one));
    else scale[h] = _mm512_set1_pd(Scale(p, Moments{}, batch_std));
    if (scale_out) scale_out[h] = scale[h];
  }
  for (int h = 0; h < H; ++h) {
    for (int k = 0; k < 8; ++k) {
      const __m512d sk = lane(scale[h], k);
      for (int v = 0; v < V; ++v) x[h][k][v] = _mm512_mul_pd(d[h][k][v], sk);
    }
  }
}

// Groups [8 u0, 8 u1) of G = 8 V, with full loads and (out of cache) streaming stores.
template <int V>
size_t ContiguousSimd(const GroupNormalizeProblem& p, double batch_std, size_t u0, size_t u1, bool stream) {
  constexpr size_t G = 8 * V;
  const __m512d count = _mm512_set1_pd(static_cast<double>(G));
  size_t zeros = 0;
  for (size_t u = u0; u < u1; ++u) {
    const float* r = p.rewards + u * 8 * G;
    __m512d x[8][2], mean, std;
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
    }
    Reduce8<1, V, true>(p, batch_std, &x, nullptr, &count, &mean, &std);
    float* a = p.advantages + u * 8 * G;
    for (int e = 0; e < 8 * V; e += 2) {  // the 8 V runs of 8 floats in memory order
      simd::Store16(a + 8 * e, simd::Narrow(x[e / V][e % V], x[(e + 1) / V][(e + 1) % V]), stream);
    }
    std::memcpy(p.zero_groups + u * 8, &zero, 8);
    zeros += static_cast<size_t>(__builtin_popcountll(zero));
    if (p.group_mean) _mm256_storeu_ps(p.group_mean + u * 8, _mm512_cvtpd_ps(mean));
    if (p.group_std) _mm256_storeu_ps(p.group_std + u * 8, _mm512_cvtpd_ps(std));
  }
  simd::Fence(stream);
  return zeros;
}
#endif

// A group given as a run: group g is rewards [start, start + n).
struct Run {
  size_t g, start, n;
};

#if RLCORE_SCAN_SIMD
// Loads eight runs of 0..8 V rewards, lane k = r + at[k], the rewards of mask bits[k] (its low n
// bits for n rewards, 0 for a padding lane; masked: nothing past a run is read), widened into x
// (0 outside the run); sets live.
template <int V, class Offset>
inline void Load8(const float* r, const Offset* at, const uint32_t* bits, __m512d (&x)[8][2], __mmask16* live) {
  for (int k = 0; k < 8; ++k) {
    live[k] = static_cast<__mmask16>(bits[k]);
    const float* rk = r + at[k];
    x[k][0] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(static_cast<__mmask8>(live[k]), rk));
    if (V == 2) x[k][1] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(static_cast<__mmask8>(live[k] >> 8), rk + 8));
  }
}

// The masks of runs of n[k] rewards.
inline void RunBits8(const int32_t* n, uint32_t* bits) {
  for (int k = 0; k < 8; ++k) bits[k] = (1u << n[k]) - 1;
}

// Built in registers: a vector load of eight just-stored counts would stall store forwarding.
inline __m512d Counts8(const int32_t* n) {
  return _mm512_cvtepi32_pd(_mm256_setr_epi32(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]));
}

// Up to eight runs of 1..8 V rewards (masked loads and stores; the missing lanes pad).
template <int V>
size_t RunsSimd(const GroupNormalizeProblem& p, double batch_std, const Run* runs, int count) {
  __m512d x[8][2], mean, std;
  __mmask16 live[8];
  int32_t n[8];
  size_t at[8];
  for (int k = 0; k < 8; ++k) n[k] = k < count ? static_cast<int32_t>(runs[k].n) : 0, at[k] = k < count ? runs[k].start : 0;
  uint32_t bits[8];
  RunBits8(n, bits);
  Load8<V>(p.rewards, at, bits, x, live);
  const __m512d cnt = Counts8(n);
  uint32_t zero;
  Reduce8<1, V, false>(p, batch_std, &x, &live, &cnt, &mean, &std, nullptr, &zero);
  alignas(32) float mf[8], sf[8];
  _mm256_store_ps(mf, _mm512_cvtpd_ps(mean));
  _mm256_store_ps(sf, _mm512_cvtpd_ps(std));
  for (int k = 0; k < count; ++k) {
    const Run& q = runs[k];
    if (V == 1) _mm256_mask_storeu_ps(p.advantages + q.start, static_cast<__mmask8>(live[k]), _mm512_cvtpd_ps(x[k][0]));
    else _mm512_mask_storeu_ps(p.advantages + q.start, live[k], simd::Narrow(x[k][0], x[k][1]));
    p.zero_groups[q.g] = static_cast<uint8_t>((zero >> k) & 1);
    if (p.group_mean) p.group_mean[q.g] = mf[k];
    if (p.group_std) p.group_std[q.g] = sf[k];
  }
  return static_cast<size_t>(__builtin_popcount(zero));
}

#endif

// Reduces runs given in any order: up to 16 rewards eight groups at a time across the vector
// lanes (runs of up to 8 and of 9 to 16 apart: the first take half the work), longer ones one by
// one (OneGroup). A group's bits do not depend on how the runs are batched.
class RunBatch {
 public:
  RunBatch(const GroupNormalizeProblem& p, double batch_std) : p_(p), batch_std_(batch_std) {}
  void Add(size_t g, size_t start, size_t n) {
#if RLCORE_SCAN_SIMD
    if (n <= 16) {
      const int v = n > 8;
      runs_[v][count_[v]++] = {g, start, n};
      if (count_[v] == 8) Flush(v);
      return;
    }
#endif
    zeros_ += OneGroup(p_, batch_std_, g, p_.rewards + start, p_.advantages + start, n);
  }
  // Returns the groups of equal rewards.
  size_t Finish() {
    Flush(0), Flush(1);
    return zeros_;
  }

 private:
  void Flush(int v) {
#if RLCORE_SCAN_SIMD
    if (count_[v]) zeros_ += v ? RunsSimd<2>(p_, batch_std_, runs_[v], count_[v]) : RunsSimd<1>(p_, batch_std_, runs_[v], count_[v]);
#endif
    count_[v] = 0;
  }
  const GroupNormalizeProblem& p_;
  const double batch_std_;
  Run runs_[2][8];
  int count_[2] = {0, 0};
  size_t zeros_ = 0;
};

// Groups [g0, g1) of G contiguous rewards.
size_t ContiguousGroups(const GroupNormalizeProblem& p, double batch_std, size_t g0, size_t g1) {
  RunBatch batch(p, batch_std);
  for (size_t g = g0; g < g1; ++g) batch.Add(g, g * p.group_size, p.group_size);
  return batch.Finish();
}

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
  slot_buf.resize(P * NG);  // pass 1: (sum, count); pass 2: (mean, m2). Each part clears its own.
  differs_buf.resize(P * NG);
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
    std::fill(s, s + NG, PairSlot{0.0, 0.0});
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
    std::memset(dif, 0, NG);
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
      const Moments st{n, mean, m2};
      const uint8_t flag = (n > 0.0 && !dif) ? 1 : 0;
      ne += n > 0.0, z += flag;
      slot[g].y = Scale(p, st, batch_std);
      p.zero_groups[g] = flag;
      if (p.group_mean) p.group_mean[g] = static_cast<float>(mean);
      if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd(st, p.unbiased));
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

// ---- Group ids: one parallel pass over them (the binding checks them with it before anything
// is written) also finds where each run of equal ids starts, so that with non-decreasing ids the
// kernel reads the rewards and that bitmask (B / 8 bytes) instead of the ids again.

// Per chunk of kGrain ids (a multiple of 64: whole words of run starts).
struct IdChunk {
  int32_t lo, hi;
  bool sorted;  // non-decreasing, from the id before the chunk on
  bool dense;   // every step ids[i] - ids[i - 1] in the chunk is 0 or 1: its runs are groups id, id + 1, ...
  // Sorted kernel scratch, where a run goes on across the chunk's first element: its mean and
  // scale, in the entry of the chunk `cross_from` (the first it goes across).
  double cross_mean, cross_scale;
  size_t cross_from;
};

// Uninitialised scratch that only grows; 2 MiB-aligned, with transparent huge pages where the
// system gives them on request (the partitioned path's random accesses miss the TLB less).
template <class T>
class Scratch {
 public:
  T* Get(size_t n) {
    if (n > size_) {
      constexpr size_t kHuge = size_t{2} << 20;
      const size_t bytes = (n * sizeof(T) + kHuge - 1) / kHuge * kHuge;
      data_.reset(static_cast<T*>(::operator new(bytes, std::align_val_t{kHuge})));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      madvise(data_.get(), bytes, MADV_HUGEPAGE);
#endif
      size_ = bytes / sizeof(T);
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(T* q) const { ::operator delete(q, std::align_val_t{size_t{2} << 20}); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};

struct IdReward {
  int32_t id;
  float r;
};

struct alignas(64) PairLine {  // a cache line of pairs
  IdReward pair[8];
};

// Scratch per call, reused between calls (IdScanBuffer; sizes at the top of the file).
struct IdScan {
  int32_t lo = 0, hi = 0;
  bool sorted = false;
  std::vector<uint64_t> starts;  // [ceil(B / 64)] bit i: i == 0 or ids[i] != ids[i - 1]
  std::vector<IdChunk> chunk;    // [ceil(B / kGrain)]
  // Per worker thread (allocated here, by the calling thread: an allocation failure is an error
  // for the caller, not a crash in a worker).
  std::vector<float> stage;  // Sorted: [workers x (kGrain + 16)]
  // Partitioned: [B] (id, reward) by bucket; [parts x buckets] where each part's pairs go; per
  // worker, write-combining lines and cursors per bucket, and sums of a bucket's groups.
  Scratch<IdReward> pairs;
  std::vector<uint32_t> offset, cursor;
  std::vector<size_t> bucket_start;
  std::vector<PairLine> lines;
  std::vector<PairSlot> acc;
  std::vector<double> m2;
  std::vector<uint8_t> differs;
};

// Ids [i0, i1) of chunk i0 / kGrain: its IdChunk, and its words of run starts.
IdChunk ScanChunk(const int32_t* ids, size_t i0, size_t i1, uint64_t* starts) {
  int32_t lo = ids[i0], hi = ids[i0];
  bool down = false, jump = false;
#if RLCORE_SCAN_SIMD
  const __m512i one = _mm512_set1_epi32(1);
  __m512i vlo = _mm512_set1_epi32(lo), vhi = vlo;
  // The 16 ids before the step's (only the last is used): with i0 = 0, ids[0] itself.
  __m512i before = i0 ? _mm512_loadu_si512(ids + i0 - 16) : vlo;
  __mmask16 dn = 0, jp = 0;
  for (size_t w = i0; w < i1; w += 64) {
    uint64_t word = 0;
    for (size_t i = w; i < std::min(i1, w + 64); i += 16) {
      const __mmask16 in = i1 - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (i1 - i)) - 1);
      const __m512i v = _mm512_maskz_loadu_epi32(in, ids + i), prev = _mm512_alignr_epi32(v, before, 15);
      before = v;
      word |= static_cast<uint64_t>(_mm512_mask_cmpneq_epi32_mask(in, v, prev)) << (i - w);
      dn |= _mm512_mask_cmpgt_epi32_mask(in, prev, v);
      jp |= _mm512_mask_cmpgt_epu32_mask(in, _mm512_sub_epi32(v, prev), one);  // a step down wraps round: a jump too
      vlo = _mm512_mask_min_epi32(vlo, in, vlo, v), vhi = _mm512_mask_max_epi32(vhi, in, vhi, v);
    }
    starts[w / 64] = word | (w == 0);
  }
  lo = _mm512_reduce_min_epi32(vlo), hi = _mm512_reduce_max_epi32(vhi), down = dn != 0, jump = jp != 0;
#else
  for (size_t w = i0; w < i1; w += 64) {
    uint64_t word = 0;
    for (size_t i = w; i < std::min(i1, w + 64); ++i) {
      const int32_t x = ids[i], prev = i ? ids[i - 1] : x;
      lo = std::min(lo, x), hi = std::max(hi, x);
      down |= prev > x;
      jump |= static_cast<uint32_t>(x) - static_cast<uint32_t>(prev) > 1u;
      word |= static_cast<uint64_t>(i == 0 || x != prev) << (i - w);
    }
    starts[w / 64] = word;
  }
#endif
  return {lo, hi, !down, !jump, 0.0, 0.0, 0};
}

// Smallest and largest id, whether the ids are non-decreasing, and the run starts.
void ScanIds(const int32_t* ids, size_t B, IdScan* s) {
  const size_t chunks = (B + kGrain - 1) / kGrain;
  s->starts.resize((B + 63) / 64);
  s->chunk.resize(chunks);
  ParallelFor(chunks, 8, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) s->chunk[c] = ScanChunk(ids, c * kGrain, std::min(B, (c + 1) * kGrain), s->starts.data());
  });
  s->lo = s->chunk[0].lo, s->hi = s->chunk[0].hi, s->sorted = true;
  for (const IdChunk& q : s->chunk) s->lo = std::min(s->lo, q.lo), s->hi = std::max(s->hi, q.hi), s->sorted &= q.sorted;
}

// Scratch of the calling thread, or a new one while asynchronous calls still hold it. Two are
// kept, so that double-buffered asynchronous calls (the next issued while the last one
// still holds its scratch) reuse them instead of allocating afresh each time.
std::shared_ptr<IdScan> IdScanBuffer() {
  thread_local std::shared_ptr<IdScan> kept[2];
  for (std::shared_ptr<IdScan>& buffer : kept) {
    if (!buffer) buffer = std::make_shared<IdScan>();
    if (buffer.use_count() == 1) return buffer;  // held by no call in flight
  }
  return std::make_shared<IdScan>();  // both in use: one for this call only
}

// Non-decreasing ids (the usual GRPO batch: the answers to one prompt side by side, in runs of
// varying length, some ids perhaps absent): every group is one contiguous run, reduced with the
// arithmetic ContiguousGroups gives it, in one streaming pass over the rewards and the run
// starts. The elements are cut into chunks of kGrain; a run across a chunk start is reduced
// first, once (CrossRuns), then each chunk (SortedChunk) reduces its other runs kRunBatch at a
// time, in order, as the lanes of Reduce8, and writes its own elements. Each group is reduced in
// the same order whatever the split.

inline bool StartBit(const uint64_t* starts, size_t i) { return (starts[i / 64] >> (i % 64)) & 1; }

// First run start after i, or B.
inline size_t NextStart(const uint64_t* starts, size_t i, size_t B) {
  size_t w = (i + 1) / 64;
  uint64_t bits = (i + 1) % 64 ? starts[w] & (~uint64_t{0} << ((i + 1) % 64)) : starts[w];
  while (!bits) {
    if (++w >= (B + 63) / 64) return B;
    bits = starts[w];
  }
  return std::min(B, w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
}

// Last run start in [w0 * 64, i], or SIZE_MAX.
inline size_t LastStart(const uint64_t* starts, size_t i, size_t w0) {
  size_t w = i / 64;
  uint64_t bits = starts[w] & (~uint64_t{0} >> (63 - i % 64));
  while (!bits) {
    if (w == w0) return SIZE_MAX;
    bits = starts[--w];
  }
  return w * 64 + 63 - static_cast<size_t>(__builtin_clzll(bits));
}

// One run of n rewards, with the arithmetic its length gets in a batch of runs.
inline RunStat OneRunStat(const GroupNormalizeProblem& p, double batch_std, const float* r, size_t n) {
#if RLCORE_SCAN_SIMD
  if (n <= 16) {
    const size_t at[8] = {};
    const int32_t len[8] = {static_cast<int32_t>(n)};
    __m512d x[8][2], mean, std, scale;
    __mmask16 live[8];
    uint32_t bits[8];
    RunBits8(len, bits);
    Load8<2>(r, at, bits, x, live);
    const __m512d count = Counts8(len);
    uint32_t same;
    Reduce8<1, 2, false>(p, batch_std, &x, &live, &count, &mean, &std, &scale, &same);
    return {_mm512_cvtsd_f64(mean), _mm512_cvtsd_f64(scale), _mm512_cvtsd_f64(std), (same & 1) != 0};
  }
#endif
  return ScalarStat(p, batch_std, r, n);
}

struct GroupCounts {
  std::atomic<size_t> nonempty{0}, zero{0};
};

// Group ids (g0, g1) between two runs have no members.
inline void Gap(const GroupNormalizeProblem& p, size_t g, size_t end) {
  EmptyGroups(p, g + 1, end < p.B ? static_cast<size_t>(p.group_ids[end]) : p.num_groups);
}

// The runs across chunk starts, each reduced (and its group written) by the chunk start it
// crosses first. Also the empty groups before the first id.
void CrossRuns(const GroupNormalizeProblem& p, double batch_std, IdScan& s, GroupCounts& counts) {
  const uint64_t* starts = s.starts.data();
  const size_t chunks = s.chunk.size();
  EmptyGroups(p, 0, static_cast<size_t>(p.group_ids[0]));
  ParallelFor(chunks, 16, [&](size_t c0, size_t c1) {
    size_t ne = 0, z = 0;
    for (size_t c = std::max<size_t>(c0, 1); c < c1; ++c) {
      const size_t b = c * kGrain;
      IdChunk& q = s.chunk[c];
      q.cross_from = c;
      if (StartBit(starts, b)) continue;
      const size_t start = LastStart(starts, b, (b - kGrain) / 64);
      if (start == SIZE_MAX) {  // it goes across the chunk start before too: reduced there
        q.cross_from = SIZE_MAX;
        continue;
      }
      const size_t end = NextStart(starts, b, p.B), g = static_cast<size_t>(p.group_ids[start]);
      const RunStat st = OneRunStat(p, batch_std, p.rewards + start, end - start);
      q.cross_mean = st.mean, q.cross_scale = st.scale;
      WriteGroup(p, g, st);
      Gap(p, g, end);
      ++ne, z += st.same;
    }
    counts.nonempty += ne, counts.zero += z;
  });
  for (size_t c = 1; c < chunks; ++c) {
    if (s.chunk[c].cross_from == SIZE_MAX) s.chunk[c].cross_from = s.chunk[c - 1].cross_from;
  }
}

// A chunk's advantages are computed into a staging buffer of its thread (kGrain + 16 floats, in
// cache) and copied out a whole 64-byte line at a time, with streaming stores out of cache: the
// runs' masked stores would otherwise read every output line first.
class Stage {
 public:
  // For out[0, len): stage[x] holds out[x], at the same offset within a 64-byte line.
  // buffer: kGrain + 16 floats.
  Stage(float* out, size_t len, bool stream, float* buffer) : out_(out), len_(len), stream_(stream) {
    const uintptr_t o = reinterpret_cast<uintptr_t>(out), b = reinterpret_cast<uintptr_t>(buffer);
    stage_ = buffer + ((o - b) / 4 & 15);
    lead_ = std::min(len, (16 - (o / 4 & 15)) & 15);
  }
  float* data() const { return stage_; }
  // stage[0, x) is final: copies out the whole lines below x (and, when x = len, the rest).
  void Ready(size_t x) {
    if (x < len_) x = x < lead_ ? 0 : lead_ + ((x - lead_) & ~size_t{15});
    if (x <= done_) return;
#if RLCORE_SCAN_SIMD
    for (size_t i = done_; i < x;) {
      const size_t n = i < lead_ ? lead_ - i : std::min<size_t>(16, x - i);
      if (n == 16 && stream_) _mm512_stream_ps(out_ + i, _mm512_load_ps(stage_ + i));
      else _mm512_mask_storeu_ps(out_ + i, static_cast<__mmask16>((1u << n) - 1), _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), stage_ + i));
      i += n;
    }
#else
    std::memcpy(out_ + done_, stage_ + done_, (x - done_) * sizeof(float));
#endif
    done_ = x;
  }

 private:
  float* out_;
  float* stage_;
  size_t len_, lead_, done_ = 0;  // lead: floats before the first line start of out
  bool stream_;
};

constexpr size_t kRunBatch = 16;  // runs reduced together: two sets of eight lanes (16 or 32)

inline uint32_t LowBits(size_t n) { return n >= 32 ? ~0u : (1u << n) - 1; }

// Chunk c of sorted ids: reduces the runs that start in it (but not those across its ends) and
// writes its elements. Returns {groups reduced, of them all-equal}.
std::pair<size_t, size_t> SortedChunk(const GroupNormalizeProblem& p, double batch_std, const IdScan& s, size_t c, bool stream,
                                      float* stage_buffer) {
  const uint64_t* starts = s.starts.data();
  const size_t i0 = c * kGrain, i1 = std::min(p.B, i0 + kGrain), len = i1 - i0;
  const float* r = p.rewards + i0;
  Stage stage(p.advantages + i0, len, stream, stage_buffer);
  float* a = stage.data();
  const IdChunk& ch = s.chunk[c];
  const bool cross_in = !StartBit(starts, i0), cross_out = i1 < p.B && !StartBit(starts, i1);
  const size_t g_first = static_cast<size_t>(p.group_ids[i0]);  // group of run 0 (dense chunks: run k is g_first + k)
  // Run k of the chunk is [at[k], at[k + 1]) (offsets from i0): at[0] = 0, the run starts in
  // (i0, i1), then len. `at` holds them from run `at_run` on, filled from the bitmask kFill at a
  // time; a batch of runs is at[0, kRunBatch].
  constexpr size_t kFill = 512;
  uint32_t at[kFill + kRunBatch + 17] = {};  // entries past the held ones stay offsets in [0, len]
  size_t at_run = 0, at_n = 1, next_word = i0 / 64;
  const size_t end_word = (i1 + 63) / 64;
  bool filled = false;
  auto fill = [&](size_t k0) {  // keeps runs k0.. and adds starts until a batch of runs is known (or all)
    std::copy(at + (k0 - at_run), at + at_n, at);
    at_n -= k0 - at_run, at_run = k0;
    while (at_n <= kRunBatch && !filled) {
      for (size_t w = next_word; w < std::min(end_word, next_word + kFill / 64); ++w) {
        uint64_t bits = starts[w];
        if (w == i0 / 64) bits &= ~uint64_t{1};  // run 0 starts at 0 anyway
        const uint32_t first = static_cast<uint32_t>(w * 64 - i0);
#if RLCORE_SCAN_SIMD
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (uint32_t q = 0; q < 64; q += 16) {
          // The register form of compress: the memory form is microcoded on some CPUs (AMD Zen 4).
          const __mmask16 m = static_cast<__mmask16>(bits >> q);
          _mm512_storeu_si512(at + at_n, _mm512_maskz_compress_epi32(m, _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(first + q)))));
          at_n += static_cast<size_t>(__builtin_popcount(m));
        }
#else
        for (; bits; bits &= bits - 1) at[at_n++] = first + static_cast<uint32_t>(__builtin_ctzll(bits));
#endif
      }
      next_word = std::min(end_word, next_word + kFill / 64);
      if (next_word == end_word) at[at_n++] = static_cast<uint32_t>(len), filled = true;
    }
  };
  size_t ne = 0, z = 0;
  for (size_t k0 = 0;; k0 += kRunBatch) {
    fill(k0);
    const uint32_t* run = at;  // run k0 + k is [run[k], run[k + 1])
    const size_t cnt = std::min(kRunBatch, at_n - 1);
    const bool last_batch = filled && run[cnt] == len;
    uint32_t own = LowBits(cnt);  // runs this chunk reduces (not those across its ends)
    if (k0 == 0 && cross_in) own &= ~1u;
    if (last_batch && cross_out) own &= ~(1u << (cnt - 1));
    double mean[kRunBatch], std[kRunBatch];
    uint32_t same = 0, lane = 0;  // lane: own runs of 1..16 rewards
#if RLCORE_SCAN_SIMD
    constexpr int H = kRunBatch / 8;
    alignas(64) uint32_t bits[kRunBatch];
    __m512d count[H];
    for (int q = 0; q < H / 2; ++q) {  // 16 runs at a time: their lengths, masks and counts
      const __m512i lengths = _mm512_sub_epi32(_mm512_loadu_si512(run + 16 * q + 1), _mm512_loadu_si512(run + 16 * q));
      const __mmask16 in = _mm512_mask_cmple_epu32_mask(static_cast<__mmask16>(own >> 16 * q), lengths, _mm512_set1_epi32(16));
      const __m512i n = _mm512_maskz_mov_epi32(in, lengths), one = _mm512_set1_epi32(1);
      _mm512_store_si512(bits + 16 * q, _mm512_sub_epi32(_mm512_sllv_epi32(one, n), one));
      count[2 * q] = _mm512_cvtepi32_pd(_mm512_castsi512_si256(n)), count[2 * q + 1] = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(n, 1));
      lane |= static_cast<uint32_t>(in) << 16 * q;
    }
    if (lane) {
      __m512d x[H][8][2], m[H], sd[H];
      __mmask16 live[H][8];
      uint32_t same8[H];
      for (int h = 0; h < H; ++h) Load8<2>(r, run + 8 * h, bits + 8 * h, x[h], live[h]);
      Reduce8<H, 2, false>(p, batch_std, x, live, count, m, sd, nullptr, same8);
      for (int h = 0; h < H; ++h) same |= same8[h] << (8 * h);
      for (int h = 0; h < H; ++h) {
        for (int k = 0; k < 8; ++k) _mm512_mask_storeu_ps(a + run[8 * h + k], live[h][k], simd::Narrow(x[h][k][0], x[h][k][1]));
        _mm512_storeu_pd(mean + 8 * h, m[h]), _mm512_storeu_pd(std + 8 * h, sd[h]);
      }
    }
#endif
    for (uint32_t rest = LowBits(cnt) & ~lane; rest; rest &= rest - 1) {  // longer runs, and those across the chunk ends
      const size_t k = static_cast<size_t>(__builtin_ctz(rest)), b = run[k], nk = run[k + 1] - b;
      if ((own >> k) & 1) {
        const RunStat st = ScalarStat(p, batch_std, r + b, nk);
        Apply(r + b, a + b, nk, st.mean, st.scale);
        mean[k] = st.mean, std[k] = st.std, same |= static_cast<uint32_t>(st.same) << k;
      } else {
        const IdChunk& q = s.chunk[k0 + k == 0 && cross_in ? ch.cross_from : s.chunk[c + 1].cross_from];
        Apply(r + b, a + b, nk, q.cross_mean, q.cross_scale);
      }
    }
    // The groups.
    same &= own;
    ne += static_cast<size_t>(__builtin_popcount(own)), z += static_cast<size_t>(__builtin_popcount(same));
#if RLCORE_SCAN_SIMD
    if (ch.dense && own == LowBits(kRunBatch) && run[kRunBatch] < len) {
      const size_t g = g_first + k0;
      for (size_t q = 0; q < kRunBatch; q += 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p.zero_groups + g + q), _mm_maskz_set1_epi8(static_cast<__mmask16>(same >> q), 1));
      }
      for (size_t h = 0; h < kRunBatch; h += 8) {
        if (p.group_mean) _mm256_storeu_ps(p.group_mean + g + h, _mm512_cvtpd_ps(_mm512_loadu_pd(mean + h)));
        if (p.group_std) _mm256_storeu_ps(p.group_std + g + h, _mm512_cvtpd_ps(_mm512_loadu_pd(std + h)));
      }
    } else
#endif
    {
      for (uint32_t rest = own; rest; rest &= rest - 1) {
        const size_t k = static_cast<size_t>(__builtin_ctz(rest));
        const size_t g = ch.dense ? g_first + k0 + k : static_cast<size_t>(p.group_ids[i0 + run[k]]);
        WriteGroup(p, g, {mean[k], 0.0, std[k], ((same >> k) & 1) != 0});
        if (!ch.dense || run[k + 1] == len) Gap(p, g, i0 + run[k + 1]);
      }
    }
    stage.Ready(run[cnt]);
    if (last_batch) break;
  }
#if RLCORE_SCAN_SIMD
  simd::Fence(stream);
#endif
  return {ne, z};
}

std::pair<double, size_t> Sorted(const GroupNormalizeProblem& p, double batch_std, IdScan& s) {
  GroupCounts counts;
  CrossRuns(p, batch_std, s, counts);
  const bool stream = p.B >= simd::kStreamElements;
  const size_t workers = ClaimWorkers(s.chunk.size());
  s.stage.resize(workers * (kGrain + 16));
  ParallelClaim(workers, s.chunk.size(), [&](size_t w, size_t c) {
    const auto [n, z] = SortedChunk(p, batch_std, s, c, stream, s.stage.data() + w * (kGrain + 16));
    counts.nonempty += n, counts.zero += z;
  });
  return {static_cast<double>(counts.nonempty.load()), counts.zero.load()};
}

// Group ids in any order, many groups: per-group sums in a table indexed by id would miss the
// caches at every reward. Instead a counting sort (stable, in parallel over fixed parts of the
// elements) moves (id, reward) into buckets of consecutive ids (kBucketGroups of them, more
// with over kMaxBuckets buckets), each then reduced with its groups' sums in cache: the sums,
// then the squared deviations from the means, each in element order (the same whatever the
// thread count), then the advantages in place of the rewards. A last pass replays the sort to
// read them back in element order: a few hundred sequential streams, where a table per group is
// a random access per element. Returns the non-empty groups.
constexpr size_t kBucketShift = 12, kBucketGroups = size_t{1} << kBucketShift;
constexpr size_t kMaxBuckets = 1 << 10;
// Up to this many groups, Scattered (measured with 2^23 rewards: faster at 2^18 groups, slower
// from 2^19 on).
constexpr size_t kDirectGroups = 1 << 18;
constexpr size_t kStreamAhead = 4;  // lines the replay fetches ahead in each bucket

std::pair<double, size_t> Partitioned(const GroupNormalizeProblem& p, double batch_std, IdScan& s) {
  const size_t B = p.B, NG = p.num_groups;
  size_t shift = 0;  // buckets of kBucketGroups << shift groups: at most kMaxBuckets
  while ((kBucketGroups << shift) * kMaxBuckets < NG) ++shift;
  const size_t span = kBucketGroups << shift, buckets = (NG - 1) / span + 1, parts = (B + kPart - 1) / kPart;
  shift += kBucketShift;
  const int32_t* ids = p.group_ids;
  const float* rewards = p.rewards;
  IdReward* pairs = s.pairs.Get(B);
  s.offset.resize(parts * buckets);  // each part clears its own histogram
  uint32_t* offset = s.offset.data();
  auto part_range = [&](size_t q) { return std::pair<size_t, size_t>(q * kPart, std::min(B, (q + 1) * kPart)); };
  const size_t workers = ClaimWorkers(std::max(parts, buckets));
  s.cursor.resize(workers * buckets), s.lines.resize(workers * buckets);
  s.acc.resize(workers * span), s.m2.resize(workers * span), s.differs.resize(workers * span);
  ParallelClaim(workers, parts, [&](size_t, size_t q) {  // histograms
    uint32_t* h = offset + q * buckets;
    std::fill(h, h + buckets, 0u);
    const auto [i0, i1] = part_range(q);
    for (size_t i = i0; i < i1; ++i) ++h[static_cast<uint32_t>(ids[i]) >> shift];
  });
  s.bucket_start.resize(buckets + 1);
  size_t* bucket_start = s.bucket_start.data();
  size_t at = 0;
  for (size_t b = 0; b < buckets; ++b) {  // where part q's elements of bucket b go: bucket-major
    bucket_start[b] = at;
    for (size_t q = 0; q < parts; ++q) {
      const uint32_t n = offset[q * buckets + b];
      offset[q * buckets + b] = static_cast<uint32_t>(at);  // B < 2^32 here (see RunCpu)
      at += n;
    }
  }
  bucket_start[buckets] = B;
  ParallelClaim(workers, parts, [&](size_t w, size_t q) {  // the counting sort; afterwards offset holds where each part's pairs end
    uint32_t* cur = offset + q * buckets;
    const auto [i0, i1] = part_range(q);
#if RLCORE_SCAN_SIMD
    // Each bucket's next eight pairs (64 bytes) gather in cache and go out as one streaming store.
    PairLine* line = s.lines.data() + w * buckets;
    uint32_t* first = s.cursor.data() + w * buckets;
    std::copy(cur, cur + buckets, first);
    for (size_t i = i0; i < i1; ++i) {
      const size_t b = static_cast<uint32_t>(ids[i]) >> shift;
      const uint32_t c = cur[b]++;
      line[b].pair[c % 8] = {ids[i], rewards[i]};
      if (c % 8 == 7) {
        if (c - 7 >= first[b]) _mm512_stream_si512(reinterpret_cast<__m512i*>(pairs + c - 7), _mm512_load_si512(line[b].pair));
        else std::copy(line[b].pair + first[b] % 8, line[b].pair + 8, pairs + first[b]);  // a line shared with the part before
      }
    }
    for (size_t b = 0; b < buckets; ++b) {  // lines shared with the part after
      const uint32_t from = std::max(first[b], cur[b] / 8 * 8);
      std::copy(line[b].pair + from % 8, line[b].pair + cur[b] % 8, pairs + from);
    }
    _mm_sfence();
#else
    for (size_t i = i0; i < i1; ++i) pairs[cur[static_cast<uint32_t>(ids[i]) >> shift]++] = {ids[i], rewards[i]};
#endif
  });
  std::atomic<size_t> nonempty{0}, zero{0};
  ParallelClaim(workers, buckets, [&](size_t w, size_t b) {  // the groups, a bucket at a time
    const size_t g0 = b << shift, n = std::min(span, NG - g0);
    PairSlot* acc = s.acc.data() + w * span;  // sum and count, then mean and count
    double* m2 = s.m2.data() + w * span;      // then the scale
    uint8_t* differs = s.differs.data() + w * span;
    std::fill_n(acc, n, PairSlot{0.0, 0.0}), std::fill_n(m2, n, 0.0), std::fill_n(differs, n, 0);
    IdReward* q = pairs + bucket_start[b];
    const size_t len = bucket_start[b + 1] - bucket_start[b];
    for (size_t k = 0; k < len; ++k) {
      PairSlot& a = acc[static_cast<size_t>(q[k].id) - g0];
      a.x += q[k].r, a.y += 1.0;
    }
    for (size_t l = 0; l < n; ++l) acc[l].x = acc[l].y > 0.0 ? acc[l].x / acc[l].y : 0.0;  // the means
    for (size_t k = 0; k < len; ++k) {
      const size_t l = static_cast<size_t>(q[k].id) - g0;
      const double r = q[k].r, d = r - acc[l].x;
      m2[l] += d * d;
      differs[l] |= static_cast<uint8_t>(!(r == acc[l].x));  // all equal <=> all equal the mean (exact then, even +-Inf); a NaN never is
    }
    size_t ne = 0, z = 0;
    for (size_t l = 0; l < n; ++l) {
      const size_t g = g0 + l;
      const Moments m{acc[l].y, acc[l].x, m2[l]};
      const uint8_t flag = (m.count > 0.0 && !differs[l]) ? 1 : 0;
      ne += m.count > 0.0, z += flag;
      m2[l] = Scale(p, {m.count, m.mean, m.m2}, batch_std);  // now the scale
      p.zero_groups[g] = flag;
      if (p.group_mean) p.group_mean[g] = static_cast<float>(m.mean);
      if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd(m, p.unbiased));
    }
    for (size_t k = 0; k < len; ++k) {  // the advantages, in place of the rewards
      const size_t l = static_cast<size_t>(q[k].id) - g0;
      q[k].r = static_cast<float>((static_cast<double>(q[k].r) - acc[l].x) * m2[l]);
    }
    nonempty += ne, zero += z;
  });
  [[maybe_unused]] const bool stream = B >= simd::kStreamElements;
  ParallelClaim(workers, parts, [&](size_t w, size_t q) {  // the advantages back in element order: the sort replayed
    // Part q's pairs of bucket b start where part q - 1's end.
    uint32_t* cur = s.cursor.data() + w * buckets;
    if (q == 0) std::copy(bucket_start, bucket_start + buckets, cur);
    else std::copy(offset + (q - 1) * buckets, offset + q * buckets, cur);
    const auto [i0, i1] = part_range(q);
    for (size_t i = i0; i < i1; i += 16) {
      alignas(64) float out[16];
      const size_t n = std::min<size_t>(16, i1 - i);
      for (size_t j = 0; j < n; ++j) {
        const uint32_t c = cur[static_cast<uint32_t>(ids[i + j]) >> shift]++;
        if (c % 8 == 0) __builtin_prefetch(pairs + std::min<size_t>(c + 8 * kStreamAhead, B - 1), 0);  // a new line of this stream: fetch one further on
        out[j] = pairs[c].r;
      }
#if RLCORE_SCAN_SIMD
      if (n == 16) {
        simd::Store16(p.advantages + i, _mm512_load_ps(out), stream);
        continue;
      }
#endif
      std::copy(out, out + n, p.advantages + i);
    }
#if RLCORE_SCAN_SIMD
    simd::Fence(stream);
#endif
  });
  return {static_cast<double>(nonempty.load()), zero.load()};
}

// G when ids[i] = i / G for every i: the groups of groupSize G given as ids (as GRPO trainers
// that key groups by prompt id pass them), which Contiguous then reduces with the same bits as
// Sorted would, at its own speed. Else 0. Reads the run starts (B / 64 words), not the ids.
size_t UniformRunLength(const GroupNormalizeProblem& p, const IdScan& s) {
  if (!s.sorted || s.lo != 0 || static_cast<size_t>(s.hi) + 1 != p.num_groups || p.B % p.num_groups != 0) return 0;
  for (const IdChunk& q : s.chunk) {
    if (!q.dense) return 0;
  }
  // Non-decreasing ids 0, 1, ..., num_groups - 1 in steps of 0 or 1: num_groups runs, so they
  // are the groups of G exactly when bit g G of the starts is set for every g.
  const size_t G = p.B / p.num_groups;
  const uint64_t* starts = s.starts.data();
  if (64 % G == 0) {
    uint64_t every_g = 0;
    for (size_t i = 0; i < 64; i += G) every_g |= uint64_t{1} << i;
    const size_t words = p.B / 64, tail = p.B % 64;
    for (size_t w = 0; w < words; ++w) {
      if (starts[w] != every_g) return 0;
    }
    return tail == 0 || starts[words] == (every_g & ((uint64_t{1} << tail) - 1)) ? G : 0;
  }
  for (size_t g = 0; g < p.num_groups; ++g) {
    if (!StartBit(starts, g * G)) return 0;
  }
  return G;
}

// The kernel; `scan` is ScanIds' result for p.group_ids (null with groupSize).
void RunCpu(const GroupNormalizeProblem& p, IdScan* scan) {
  const double batch_std =
      p.mode == GroupMode::kBatchStd ? MomentsStd(ComputeMoments(p.rewards, nullptr, p.B), p.unbiased) : 0.0;
  std::pair<double, size_t> counts{static_cast<double>(p.num_groups), 0};
  const size_t uniform = p.group_size ? p.group_size : p.ids_sorted ? UniformRunLength(p, *scan) : 0;
  if (uniform) {
    GroupNormalizeProblem q = p;
    q.group_size = uniform;
    counts.second = Contiguous(q, batch_std);
  } else if (p.ids_sorted) {
    counts = Sorted(p, batch_std, *scan);
  } else if (p.num_groups > kDirectGroups && p.B < (size_t{1} << 32)) {
    counts = Partitioned(p, batch_std, *scan);
  } else {
    counts = Scattered(p, batch_std);
  }
  p.summary[0] = static_cast<double>(counts.second);
  p.summary[1] = counts.first;
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
  std::shared_ptr<IdScan> scan;
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
    scan = IdScanBuffer();
    ScanIds(p.group_ids, p.B, scan.get());
    const int32_t min_id = scan->lo, max_id = scan->hi;
    p.ids_sorted = scan->sorted;
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
  // The scan goes with the call (an asynchronous one holds it until it is done), and so do the
  // ids it was made from.
  const auto ids_copy = AsyncIndexCopy(async, p.group_ids, p.B);
  if (ids_copy) p.group_ids = ids_copy->data();
  return RunKernel(info, async, [p, use_cuda, scan, ids_copy] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::GroupNormalize(p);
#endif
    (void)use_cuda;
    RunCpu(p, scan.get());
  }, KeepArgs{0, 12});
}

}  // namespace

void GroupNormalizeCpu(const GroupNormalizeProblem& p) {
  std::shared_ptr<IdScan> scan;
  if (p.group_ids) scan = IdScanBuffer(), ScanIds(p.group_ids, p.B, scan.get());
  RunCpu(p, scan.get());
}

RLCORE_EXPORT(groupNormalize, GroupNormalizeBinding);

}  // namespace rlcore
