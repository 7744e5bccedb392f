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

#if RLCORE_SCAN_SIMD
// GCC 12 bug 105593 (see simd_scan.h) again: with RunsSimd's masked steps inlined it also calls
// the _mm512_undefined_* operands of its own intrinsics "used uninitialized", attributed to its
// headers, so only a file-wide pragma silences it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

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

// Group g = the n >= 1 contiguous rewards r[0, n): two-pass float64 moments (mean, then squared
// deviations), written straight out to a[0, n). Returns whether its rewards are all equal.
inline bool OneGroup(const GroupNormalizeProblem& p, double batch_std, size_t g, const float* r, float* a, size_t n) {
  const double count = static_cast<double>(n);
  const double mean = GroupSum(r, n) / count;
  const double m2 = GroupSquares(r, n, mean);
  bool same = r[0] == r[0];  // all equal to the first reward (a NaN never is), as the reference
  for (size_t i = 1; i < n; ++i) same &= r[i] == r[0];
  const double scale = Scale(p, GroupStats{count, mean, m2}, batch_std);
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>((static_cast<double>(r[i]) - mean) * scale);
  p.zero_groups[g] = same ? 1 : 0;
  if (p.group_mean) p.group_mean[g] = static_cast<float>(mean);
  if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd({count, mean, m2}, p.unbiased));
  return same;
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

inline __m512d Lane(__m512d x, int k) { return _mm512_permutexvar_pd(_mm512_set1_epi64(k), x); }

// The arithmetic of eight groups of at most 16 rewards, across the groups (lane k = group k):
// x[k][0], x[k][1] hold group k's rewards 0-7 and 8-15 widened to float64, count their numbers.
// kFull: every group has 8 V rewards. Else live[k] masks group k's rewards (bits 0-7 in x[k][0],
// 8-15 in x[k][1]; none in a padding lane) and x is 0 outside them: the masked steps do on the
// live lanes what the full ones do, so a group of 8 or 16 gets the same bits either way, and a
// group's bits do not depend on the other lanes. Same arithmetic as OneGroup up to the order of
// the sums. On return x holds the advantages.
template <int V, bool kFull>
inline void Reduce8(const GroupNormalizeProblem& p, double batch_std, __m512d (&x)[8][2], const __mmask16* live,
                    __m512d count, __m512d* mean, __m512d* std) {
  auto hi = [&](int k) { return kFull ? __mmask8{0xff} : static_cast<__mmask8>(live[k] >> 8); };
  auto lo = [&](int k) { return kFull ? __mmask8{0xff} : static_cast<__mmask8>(live[k]); };
  __m512d part[8], d[8][2];
  for (int k = 0; k < 8; ++k) {
    part[k] = x[k][0];
    if (V == 2) part[k] = kFull ? _mm512_add_pd(part[k], x[k][1]) : _mm512_mask_add_pd(part[k], hi(k), part[k], x[k][1]);
  }
  *mean = _mm512_div_pd(LaneSums(part), count);
  for (int k = 0; k < 8; ++k) {
    const __m512d mk = Lane(*mean, k);
    d[k][0] = kFull ? _mm512_sub_pd(x[k][0], mk) : _mm512_maskz_sub_pd(lo(k), x[k][0], mk);
    part[k] = _mm512_mul_pd(d[k][0], d[k][0]);
    if (V == 2) {
      d[k][1] = kFull ? _mm512_sub_pd(x[k][1], mk) : _mm512_maskz_sub_pd(hi(k), x[k][1], mk);
      part[k] = kFull ? _mm512_fmadd_pd(d[k][1], d[k][1], part[k]) : _mm512_mask3_fmadd_pd(d[k][1], d[k][1], part[k], hi(k));
    }
  }
  const __m512d one = _mm512_set1_pd(1.0), dof = p.unbiased ? _mm512_sub_pd(count, one) : count;
  *std = _mm512_maskz_sqrt_pd(_mm512_cmp_pd_mask(dof, _mm512_setzero_pd(), _CMP_GT_OQ), _mm512_div_pd(LaneSums(part), dof));
  __m512d scale;  // Scale() by lane
  if (p.mode == GroupMode::kGrpo) scale = _mm512_div_pd(one, _mm512_add_pd(*std, _mm512_set1_pd(p.eps)));
  else if (p.mode == GroupMode::kRloo) scale = _mm512_maskz_div_pd(_mm512_cmp_pd_mask(count, one, _CMP_GT_OQ), count, _mm512_sub_pd(count, one));
  else scale = _mm512_set1_pd(Scale(p, GroupStats{}, batch_std));
  for (int k = 0; k < 8; ++k) {
    const __m512d sk = Lane(scale, k);
    for (int v = 0; v < V; ++v) x[k][v] = _mm512_mul_pd(d[k][v], sk);
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
    Reduce8<V, true>(p, batch_std, x, nullptr, count, &mean, &std);
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
// Up to eight runs of 1..8 V rewards (masked loads and stores; the missing lanes pad).
template <int V>
size_t RunsSimd(const GroupNormalizeProblem& p, double batch_std, const Run* runs, int count) {
  __m512d x[8][2], mean, std;
  __mmask16 live[8];
  int32_t n[8];
  uint32_t zero = 0;
  for (int k = 0; k < 8; ++k) {
    n[k] = k < count ? static_cast<int32_t>(runs[k].n) : 0;
    live[k] = static_cast<__mmask16>((1u << n[k]) - 1);
    const float* r = p.rewards + (k < count ? runs[k].start : 0);
    __mmask16 eq;
    if (V == 1) {
      const __m256 y = _mm256_maskz_loadu_ps(static_cast<__mmask8>(live[k]), r);
      x[k][0] = _mm512_cvtps_pd(y);
      eq = _mm256_mask_cmp_ps_mask(static_cast<__mmask8>(live[k]), y, _mm256_broadcastss_ps(_mm256_castps256_ps128(y)), _CMP_EQ_OQ);
    } else {
      const __m512 y = _mm512_maskz_loadu_ps(live[k], r);
      x[k][0] = simd::LowHalf(y), x[k][1] = simd::HighHalf(y);
      eq = _mm512_mask_cmp_ps_mask(live[k], y, _mm512_broadcastss_ps(_mm512_castps512_ps128(y)), _CMP_EQ_OQ);
    }
    zero |= static_cast<uint32_t>(n[k] > 0 && eq == live[k]) << k;  // NaN never equal: as the reference
  }
  // Built in registers: a vector load of the eight just-stored counts would stall store forwarding.
  const __m256i n8 = _mm256_setr_epi32(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]);
  Reduce8<V, false>(p, batch_std, x, live, _mm512_cvtepi32_pd(n8), &mean, &std);
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

// Non-decreasing ids (the usual GRPO batch: the answers to one prompt side by side, in runs of
// varying length, some ids perhaps absent): every group is one contiguous run, reduced and
// written as ContiguousGroups does, in one streaming pass. The elements are cut into chunks of
// kGrain; a chunk takes the groups whose run starts in it (reading on past its end if need be)
// and the empty groups that follow each of them, chunk 0 also those before ids[0]. Each group is
// reduced by one thread in the same order whatever the split. Returns the non-empty groups.

// First index in [i, B) whose id is not `id`, or B.
inline size_t RunEnd(const int32_t* ids, size_t i, size_t B, int32_t id) {
#if RLCORE_SCAN_SIMD
  const __m512i v = _mm512_set1_epi32(id);
  for (; i + 16 <= B; i += 16) {
    const __mmask16 ne = _mm512_cmpneq_epi32_mask(_mm512_loadu_si512(ids + i), v);
    if (ne) return i + static_cast<size_t>(__builtin_ctz(ne));
  }
#endif
  while (i < B && ids[i] == id) ++i;
  return i;
}

constexpr size_t kIdBlock = 1024;  // ids searched for run starts at a time

// Writes the offsets q - b of the run starts q in [b, e) (ids[q] != ids[q - 1]; 0 < b, e - b <=
// kIdBlock) to pos (kIdBlock + 16 entries) and returns their number. Branch-free: a run end found
// one id at a time (a load, a compare, a jump per group) costs more than the group itself.
inline size_t RunStarts(const int32_t* ids, size_t b, size_t e, uint32_t* pos) {
  size_t n = 0, q = b;
#if RLCORE_SCAN_SIMD
  __m512i at = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (; q < e; q += 16, at = _mm512_add_epi32(at, _mm512_set1_epi32(16))) {
    const __mmask16 in = e - q >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (e - q)) - 1);
    const __mmask16 m = _mm512_mask_cmpneq_epi32_mask(in, _mm512_maskz_loadu_epi32(in, ids + q), _mm512_maskz_loadu_epi32(in, ids + q - 1));
    // The register form of compress: the memory form is microcoded on some CPUs (AMD Zen 4).
    _mm512_storeu_si512(pos + n, _mm512_maskz_compress_epi32(m, at));
    n += static_cast<size_t>(__builtin_popcount(m));
  }
#endif
  for (; q < e; ++q) pos[n] = static_cast<uint32_t>(q - b), n += ids[q] != ids[q - 1];
  return n;
}

std::pair<double, size_t> Sorted(const GroupNormalizeProblem& p, double batch_std) {
  const size_t B = p.B, chunks = (B + kGrain - 1) / kGrain;
  const int32_t* ids = p.group_ids;
  std::atomic<size_t> nonempty{0}, zero{0};
  ParallelFor(chunks, 1, [&](size_t c0, size_t c1) {
    const size_t end = std::min(B, c1 * kGrain);
    size_t start = c0 * kGrain, ne = 0;
    if (start == 0) EmptyGroups(p, 0, static_cast<size_t>(ids[0]));
    else start = RunEnd(ids, start, B, ids[start - 1]);  // the run going on from before belongs to an earlier chunk
    if (start >= end) return;
    RunBatch batch(p, batch_std);
    auto run = [&](size_t i, size_t j) {  // group ids[i] is [i, j), then the empty ones up to ids[j]
      const size_t g = static_cast<size_t>(ids[i]);
      batch.Add(g, i, j - i);
      ++ne;
      EmptyGroups(p, g + 1, j < B ? static_cast<size_t>(ids[j]) : p.num_groups);
    };
    uint32_t pos[kIdBlock + 16];
    for (size_t b = start + 1; b < end; b += kIdBlock) {
      const size_t n = RunStarts(ids, b, std::min(end, b + kIdBlock), pos);
      for (size_t k = 0; k < n; ++k) run(start, b + pos[k]), start = b + pos[k];
    }
    run(start, RunEnd(ids, end, B, ids[start]));  // the last run may go on past the chunk
    nonempty += ne, zero += batch.Finish();
  });
  return {static_cast<double>(nonempty.load()), zero.load()};
}

// Smallest and largest id, and whether the ids are non-decreasing (a vectorised reduction over
// fixed chunks, in parallel, each chunk also comparing its first id with the last one before it:
// the check reads as much memory as a pass of the kernel).
struct IdSummary {
  int32_t lo, hi;
  bool sorted;
};

IdSummary IdRange(const int32_t* ids, size_t B) {
  const size_t chunks = (B + kGrain - 1) / kGrain;
  std::vector<IdSummary> part(chunks);
  ParallelFor(chunks, 8, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      const int32_t* x = ids + c * kGrain;
      const size_t n = std::min(kGrain, B - c * kGrain);
      int32_t lo = x[0], hi = x[0], down = c > 0 && x[-1] > x[0];
      for (size_t i = 1; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]), down |= x[i - 1] > x[i];
      part[c] = {lo, hi, down == 0};
    }
  });
  IdSummary r = part[0];
  for (const auto& q : part) r = {std::min(r.lo, q.lo), std::max(r.hi, q.hi), r.sorted && q.sorted};
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
    const auto [min_id, max_id, sorted] = IdRange(p.group_ids, p.B);
    p.ids_sorted = sorted;
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
  else if (p.ids_sorted) counts = Sorted(p, batch_std);
  else counts = Scattered(p, batch_std);
  p.summary[0] = static_cast<double>(counts.second);
  p.summary[1] = counts.first;
}

RLCORE_EXPORT(groupNormalize, GroupNormalizeBinding);

}  // namespace rlcore
