// Token-level policy losses for language-model RL over [B, T] (B responses padded to T tokens,
// a mask marking response tokens), with per-token or per-sequence advantages A. With
// r = exp(log π_θ − log π_old) per token and aggregation weights w (below):
//
//   ppo      ℓ = max(−A r, −A clip(r, 1 − ε_low, 1 + ε_high)),  and for A < 0 with dual clip c:
//            ℓ = min(ℓ, −A c)          (clip-higher: DAPO, Yu et al. 2025, arXiv:2503.14476;
//                                       dual clip: Ye et al. 2020, arXiv:1912.09729)
//   cispo    ℓ = −sg[clip(r, 1 − ε_low, 1 + ε_high)] A log π_θ   (MiniMax-M1, arXiv:2506.13585)
//   gspo     s_b = exp(mean_t (log π_θ − log π_old)) per sequence, ℓ = max(−A s_b, −A clip(s_b, ·))
//            (Zheng et al. 2025, arXiv:2507.18071); ∂ℓ/∂log π_θ(b, t) flows through s_b
//   clipCov  ppo, with the gradient of k randomly drawn tokens whose centred covariance
//            cov = (A − mean A)(log π_θ − mean log π_θ) lies in (lb, ub) detached (ℓ = 0)
//   klCov    ℓ = −A r, plus κ |log r| on the k tokens of largest cov (Cui et al. 2025,
//            "The Entropy Mechanism of RL for Reasoning LMs", arXiv:2505.22617); k = max(1, ⌊ρ N⌋)
//
// Truncated importance sampling (rollouts from another engine, log π_rollout): every ℓ is scaled
// by the detached weight min(exp(log π_old − log π_rollout), C) (Yao et al. 2025, "Your
// efficient RL framework secretly brings you off-policy RL training").
//
//   L = Σ w ℓ + β_KL Σ w k(log π_θ, log π_ref) − c_H Σ w H
//
// with w per token from the aggregation mode (N valid tokens, S non-empty sequences, n_b tokens
// in sequence b, C a constant): tokenMean 1/N; seqMeanTokenMean 1/(S n_b); seqMeanTokenSum 1/S;
// tokenSumNorm 1/C (Dr. GRPO, Liu et al. 2025, arXiv:2503.20783). k is k1, k2 or k3 (llm.h).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <new>
#include <sstream>
#include <utility>
#include <vector>

#include "../core/binding.h"
#include "../core/rng.h"
#include "../core/select.h"
#include "../core/simd_scan.h"
#include "../core/thread_pool.h"
#include "../dist/args.h"
#include "../dist/fastmath.h"
#include "cov_select.h"
#include "llm.h"

namespace rlcore {
namespace {

constexpr size_t kChunk = 512;

// Calls fn(block, b0, b1) over fixed row blocks (on the pool when large enough).
template <class F>
void ForLlmBlocks(size_t B, size_t T, const F& fn) {
  const size_t rpb = LlmRowsPerBlock(T), blocks = (B + rpb - 1) / rpb;
  ForEachBlockDynamic(blocks, B * T >= (size_t{1} << 15),
                      [&](size_t k) { fn(k, k * rpb, std::min(B, (k + 1) * rpb)); });
}

size_t NumBlocks(size_t B, size_t T) {
  const size_t rpb = LlmRowsPerBlock(T);
  return (B + rpb - 1) / rpb;
}

void Sum(const std::vector<double>& part, size_t width, double* total) {
  for (size_t i = 0; i < width; ++i) total[i] = 0.0;
  for (size_t k = 0; k * width < part.size(); ++k)
    for (size_t i = 0; i < width; ++i) total[i] += part[k * width + i];
}

// Σ x[i] over the tokens with mask[i] != 0 (all when mask is null), float64 lanes like SumF64.
double MaskedSumF64(const float* x, const uint8_t* mask, size_t n) {
  if (!mask) return SumF64(x, n);
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t l = 0; l < 8; ++l) lane[l] += static_cast<double>(Select(mask[i + l], x[i + l], 0.0f));
  double s = 0.0;
  for (; i < n; ++i) s += static_cast<double>(Select(mask[i], x[i], 0.0f));
  for (size_t l = 0; l < 8; ++l) s += lane[l];
  return s;
}

// Tokens chosen by Clip-Cov / KL-Cov (1 = selected); returns how many. The covariance is read
// first: only the few tokens inside Clip-Cov's window need their ratio.
size_t CovSelect(const PolicyLossProblem& p, double N, double mean_a, double mean_lp, std::vector<uint8_t>& sel) {
  const size_t B = p.B, T = p.T;
  const size_t k = std::max<size_t>(1, static_cast<size_t>(std::floor(p.cov_ratio * N)));
  sel.assign(B * T, 0);
  auto adv = [&](size_t i) { return static_cast<double>(p.seq_advantages ? p.advantages[i / T] : p.advantages[i]); };
  auto cov = [&](size_t i) { return (adv(i) - mean_a) * (static_cast<double>(p.log_prob[i]) - mean_lp); };
  if (p.kind == PolicyLossKind::kClipCov) {
    // Candidates: inside (lb, ub) and not already clipped by PPO (as in the paper's code). Each
    // block lists its own in index order, in parallel; joined in block order the list is the
    // one a sequential scan makes. The window test is vectorised (float64) per chunk; only the
    // few tokens inside it need their ratio.
    const size_t rpb = LlmRowsPerBlock(T), nb = (B + rpb - 1) / rpb;
    std::vector<std::vector<size_t>> found(nb);
    std::atomic<bool> failed{false};
    const double lo = 1.0 - p.clip_low, hi = 1.0 + p.clip_high, lb = p.cov_lb, ub = p.cov_ub;
    ForLlmBlocks(B, T, [&](size_t blk, size_t b0, size_t b1) {
      uint32_t in[kChunk];
      float rf[kChunk], ab[kChunk];
      size_t idx[kChunk];
      std::vector<size_t>& out = found[blk];
      for (size_t i0 = b0 * T; i0 < b1 * T; i0 += kChunk) {
        const size_t n = std::min(kChunk, b1 * T - i0);
        const float *LP = p.log_prob + i0, *OL = p.old_log_prob + i0, *A = p.advantages + i0;
        if (p.seq_advantages) {
          for (size_t j = 0; j < n; ++j) ab[j] = p.advantages[(i0 + j) / T];
          A = ab;
        }
        for (size_t j = 0; j < n; ++j) rf[j] = ExpF(LP[j] - OL[j]);
        for (size_t j = 0; j < n; ++j) {  // branch-free, vectorised in float64
          const double a = A[j], c = (a - mean_a) * (static_cast<double>(LP[j]) - mean_lp);
          const double r = rf[j], rl = r < lo ? lo : r, rc = rl > hi ? hi : rl;
          in[j] = (c > lb) & (c < ub) & !(-a * rc > -a * r);
        }
        if (p.mask) {
          const uint8_t* M = p.mask + i0;
          for (size_t j = 0; j < n; ++j) in[j] &= M[j] != 0;
        }
        size_t cnt = 0;
        for (size_t j = 0; j < n; ++j) idx[cnt] = i0 + j, cnt += in[j];  // compaction without branches
        try {  // nothing may throw inside ParallelFor: report after it
          out.insert(out.end(), idx, idx + cnt);
        } catch (...) {
          failed.store(true);
          return;
        }
      }
    });
    if (failed.load()) throw std::bad_alloc();
    std::vector<size_t> cand;
    size_t total = 0;
    for (const auto& f : found) total += f.size();
    cand.reserve(total);
    for (const auto& f : found) cand.insert(cand.end(), f.begin(), f.end());
    return PickRandomCandidates(cand, k, p.seed, sel.data());
  }
  // KL-Cov: the k largest covariances.
  return PickLargest(B * T, k, p.mask, cov, sel.data());
}

// Per-block partial sums.
enum Part : size_t {
  kPol, kKlW, kHW, kLow, kHigh, kDual, kApprox, kRatio, kKlTok, kHTok, kTis, kZeroAdv, kWidth
};

struct MainPassArgs {
  double N = 0, S = 0;
  const uint32_t* len = nullptr;  // [B] response tokens per row
  const uint8_t* sel = nullptr;   // [B, T] Clip-Cov / KL-Cov selection
  float lo = 0, hi = 0, dual = 0, cap = 0, kl_cov = 0;
};

// Select on a 0/1 word (Select's uint8 flags would make GCC process 64 tokens per iteration and
// spill; 32-bit flags keep every operand one float vector wide).
inline float Select32(uint32_t on, float if_set, float if_clear) {
  uint32_t a, b;
  std::memcpy(&a, &if_set, sizeof a);
  std::memcpy(&b, &if_clear, sizeof b);
  const uint32_t bits = (a & (0u - on)) | (b & (on - 1u));
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

// Per-token terms of one chunk for objective K, in one loop that vectorises: l = ℓ·w_tis masked;
// the gradient GO = wf · ∂ℓ/∂log π · w_tis masked and rm the ratio, masked (GSPO: g = ∂ℓ/∂s_b ·
// w_tis, GO and rm untouched); ak the approxKl term (r − 1) − log r (masked); counts of low / high / dual clips and of
// tokens with A ≠ 0 (integers: exact, in any order). W (TIS weights) is read only when kTis.
template <PolicyLossKind K, bool kTis>
void TokenTerms(size_t n, const float* LP, const float* OL, const float* A, const uint32_t* M, const uint32_t* SL,
                const float* W, const MainPassArgs& c, float s_b, float wf, float* l, float* g, float* GO, float* ak,
                float* rm, float* xc, uint64_t* counts) {
  const float lo = c.lo, hi = c.hi, dual = c.dual, kl_cov = c.kl_cov;
  uint32_t low = 0, high = 0, dc_n = 0, nz = 0;
  for (size_t j = 0; j < n; ++j) xc[j] = ClampExpArgF(LP[j] - OL[j]);  // own loop: see ExpSplitInRangeF
  for (size_t j = 0; j < n; ++j) {
    const uint32_t on = M[j];
    const float lr = LP[j] - OL[j], a = A[j];
    float k3;
    const float r = ExpK3InRangeF(xc[j], lr, &k3);  // = ExpK3F(lr, &k3)
    float lv, gv, rr = r;
    uint32_t fl, fh, fd = 0;
    if (K == PolicyLossKind::kCispo) {
      const float rl = r < lo ? lo : r;
      const float wgt = rl > hi ? hi : rl;
      lv = -wgt * a * LP[j], gv = -wgt * a;
      fl = r < lo, fh = r > hi;
    } else if (K == PolicyLossKind::kKlCov) {
      const float sg = (lr > 0.0f ? 1.0f : 0.0f) - (lr < 0.0f ? 1.0f : 0.0f);
      const float pen = Select32(SL[j], kl_cov, 0.0f);
      lv = -a * r + pen * __builtin_fabsf(lr), gv = -a * r + pen * sg;
      fl = 0, fh = 0;
    } else {  // ppo, clipCov, gspo
      rr = K == PolicyLossKind::kGspo ? s_b : r;
      const float rl = rr < lo ? lo : rr;
      const float rc = rl > hi ? hi : rl;
      const float l1 = -a * rr, l2 = -a * rc;
      const bool clipped = l2 > l1;
      lv = clipped ? l2 : l1, gv = clipped ? 0.0f : (K == PolicyLossKind::kGspo ? -a : l1);
      fl = clipped & (rr < lo), fh = clipped & (rr > hi);  // & not &&: no branches
      const float l3 = -a * dual;
      const bool dc = (dual > 0.0f) & (a < 0.0f) & (lv > l3);
      lv = dc ? l3 : lv, gv = dc ? 0.0f : gv;
      fd = dc;
      if (K == PolicyLossKind::kClipCov) lv = Select32(SL[j], 0.0f, lv), gv = Select32(SL[j], 0.0f, gv);
    }
    if (kTis) lv *= W[j], gv *= W[j];
    l[j] = Select32(on, lv, 0.0f);
    if (K == PolicyLossKind::kGspo) {
      g[j] = Select32(on, gv, 0.0f);  // the ratio rr = s_b is summed per row instead
    } else {
      GO[j] = wf * Select32(on, gv, 0.0f), rm[j] = Select32(on, rr, 0.0f);
    }
    ak[j] = Select32(on, k3, 0.0f);
    low += on & fl, high += on & fh, dc_n += on & fd, nz += on & (a != 0.0f);
  }
  counts[0] += low, counts[1] += high, counts[2] += dc_n, counts[3] += nz;
}

// GSPO's per-token pass, before s_b is known: lm the masked log-ratio (for s_b), ak the approxKl
// term, ap / an the masked advantages (times w_tis) of the tokens with A > 0 / A < 0, and their
// counts. With one ratio s_b per row, a token's clip decision depends only on the sign of A, so
// the row's loss, gradient and clip counts follow from these sums (GspoRowTerms): one pass over
// the row instead of one for s_b and one for the terms.
template <bool kTis>
void GspoTokenTerms(size_t n, const float* LP, const float* OL, const float* A, const uint32_t* M, const float* W,
                    const float* xc, float* lm, float* ak, float* ap, float* an, uint64_t* counts) {
  uint32_t pos = 0, neg = 0;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t on = M[j];
    const float lr = LP[j] - OL[j], a = A[j];
    float k3;
    ExpK3InRangeF(xc[j], lr, &k3);
    const float aw = kTis ? a * W[j] : a;
    const uint32_t p1 = on & (a > 0.0f), n1 = on & (a < 0.0f);
    lm[j] = Select32(on, lr, 0.0f), ak[j] = Select32(on, k3, 0.0f);
    ap[j] = Select32(p1, aw, 0.0f), an[j] = Select32(n1, aw, 0.0f);
    pos += p1, neg += n1;
  }
  counts[3] += pos + neg, counts[4] += pos, counts[5] += neg;
}

#if RLCORE_SCAN_SIMD
// Hand-vectorised chunk kernels for GSPO and CISPO (AVX-512, 16 tokens per step): one loop that
// reads the uint8 mask directly, computes e^x and e^x − 1 − x once per token and adds every
// per-token term into float64 lanes, instead of the portable path's conversion, clamp, term and
// summing loops over chunk buffers (GCC does not fuse those well: see Sum3F64). The float64 sums
// keep SumF64's lanes (lane l adds tokens l, l + 8, l + 16, ... in order, then 0 + lane 0 + ... +
// lane 7), so for n a multiple of 8 the sums of exactly computed terms equal the portable path's;
// terms from e^x may differ from it in the last bit (FMAs are chosen here, not by the compiler).
struct ChunkSums {
  double a, b, c, d;       // four float64 sums (see each kernel)
  uint32_t n0, n1, n2;     // three token counts
};
inline double FoldLanes(__m512d v) {
  alignas(64) double l[8];
  _mm512_store_pd(l, v);
  double s = 0.0;
  for (size_t i = 0; i < 8; ++i) s += l[i];
  return s;
}
inline void AddF64(__m512d& acc, __m512 x) {  // tokens 0..7, then 8..15: SumF64's order per lane
  acc = _mm512_add_pd(acc, simd::LowHalf(x));
  acc = _mm512_add_pd(acc, simd::HighHalf(x));
}
inline uint32_t Count(__mmask16 m) { return static_cast<uint32_t>(__builtin_popcount(m)); }

// Loads of one step: lanes [j, j + 16) ∩ [0, n) (ld), the response tokens among them (on).
struct Step {
  __mmask16 ld, on;
  __m512 lp, lr, a;
};
inline Step LoadStep(size_t j, size_t n, const float* LP, const float* OL, const float* A, const uint8_t* M) {
  Step s;
  s.ld = n - j >= simd::kLanes ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1u);
  s.on = s.ld;
  if (M) {  // mask bytes past n are not read
    const __m128i m8 = _mm_maskz_loadu_epi8(s.ld, M + j);
    s.on = _mm_test_epi8_mask(m8, m8);
  }
  s.lp = _mm512_maskz_loadu_ps(s.ld, LP + j);
  s.lr = _mm512_sub_ps(s.lp, _mm512_maskz_loadu_ps(s.ld, OL + j));
  s.a = _mm512_maskz_loadu_ps(s.ld, A + j);
  return s;
}

// ExpK3F for 16 lanes: e^x (returned) and *k3 = e^x − 1 − x, with ClampExpArgF's clamps (operands
// ordered so that NaN stays NaN), ExpSplitInRangeF's reduction and polynomial.
inline __m512 ExpK3x16(__m512 lr, __m512* k3) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-87.33654f), lr));
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  const __m512 nn = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), magic), magic);
  __m512 r = _mm512_fnmadd_ps(nn, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(nn, _mm512_set1_ps(2.12194440e-4f), r);
  const __m512 pp = simd::ExpPoly16(r);
  const __m512 scale =
      _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(nn), _mm512_set1_epi32(127)), 23));
  const __m512 q = _mm512_mul_ps(_mm512_mul_ps(pp, r), r);
  const __m512 e = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(q, r), one), scale);
  const __mmask16 reduced0 = _mm512_cmp_ps_mask(nn, _mm512_setzero_ps(), _CMP_EQ_OQ);
  *k3 = _mm512_mask_blend_ps(reduced0, _mm512_sub_ps(_mm512_sub_ps(e, one), lr), q);
  return e;
}

// GspoTokenTerms and the sums of its outputs for one chunk: a = Σ lm, b = Σ ak, c = Σ ap,
// d = Σ an; n0 / n1 count the tokens with A > 0 / A < 0.
template <bool kTis>
ChunkSums GspoChunkSimd(size_t n, const float* LP, const float* OL, const float* A, const uint8_t* M,
                        const float* W) {
  const __m512 zero = _mm512_setzero_ps();
  __m512d slr = _mm512_setzero_pd(), sak = slr, sap = slr, san = slr;
  uint32_t pos = 0, neg = 0;
  for (size_t j = 0; j < n; j += simd::kLanes) {
    const Step s = LoadStep(j, n, LP, OL, A, M);
    __m512 k3;
    ExpK3x16(s.lr, &k3);
    const __m512 aw = kTis ? _mm512_mul_ps(s.a, _mm512_maskz_loadu_ps(s.ld, W + j)) : s.a;
    const __mmask16 p1 = s.on & _mm512_cmp_ps_mask(s.a, zero, _CMP_GT_OQ);
    const __mmask16 n1 = s.on & _mm512_cmp_ps_mask(s.a, zero, _CMP_LT_OQ);
    AddF64(slr, _mm512_maskz_mov_ps(s.on, s.lr));
    AddF64(sak, _mm512_maskz_mov_ps(s.on, k3));
    AddF64(sap, _mm512_maskz_mov_ps(p1, aw));
    AddF64(san, _mm512_maskz_mov_ps(n1, aw));
    pos += Count(p1), neg += Count(n1);
  }
  return {FoldLanes(slr), FoldLanes(sak), FoldLanes(sap), FoldLanes(san), pos, neg, 0};
}

// TokenTerms<kCispo> and the sums of its outputs for one chunk, with the gradient stored to GO
// (plain stores: streaming ones, 4 × 16 bytes on V8's 16-byte aligned rows, measured slower
// here): a = Σ l, b = Σ ak, c = Σ rm; n0 / n1 / n2 count the low and high clips and the tokens
// with A ≠ 0.
template <bool kTis>
ChunkSums CispoChunkSimd(size_t n, const float* LP, const float* OL, const float* A, const uint8_t* M,
                         const float* W, const MainPassArgs& c, float wf, float* GO) {
  const __m512 lo = _mm512_set1_ps(c.lo), hi = _mm512_set1_ps(c.hi), wv = _mm512_set1_ps(wf);
  __m512d sl = _mm512_setzero_pd(), sak = sl, srm = sl;
  uint32_t low = 0, high = 0, nz = 0;
  for (size_t j = 0; j < n; j += simd::kLanes) {
    const Step s = LoadStep(j, n, LP, OL, A, M);
    __m512 k3;
    const __m512 r = ExpK3x16(s.lr, &k3);
    const __m512 wgt = _mm512_min_ps(hi, _mm512_max_ps(lo, r));  // NaN stays NaN, like TokenTerms
    __m512 gv = _mm512_mul_ps(_mm512_xor_ps(wgt, _mm512_set1_ps(-0.0f)), s.a);  // −w A
    __m512 lv = _mm512_mul_ps(gv, s.lp);                                       // −w A log π_θ
    if (kTis) {
      const __m512 w = _mm512_maskz_loadu_ps(s.ld, W + j);
      lv = _mm512_mul_ps(lv, w), gv = _mm512_mul_ps(gv, w);
    }
    const __m512 go = _mm512_mul_ps(wv, _mm512_maskz_mov_ps(s.on, gv));
    _mm512_mask_storeu_ps(GO + j, s.ld, go);
    AddF64(sl, _mm512_maskz_mov_ps(s.on, lv));
    AddF64(sak, _mm512_maskz_mov_ps(s.on, k3));
    AddF64(srm, _mm512_maskz_mov_ps(s.on, r));
    low += Count(s.on & _mm512_cmp_ps_mask(r, lo, _CMP_LT_OQ));
    high += Count(s.on & _mm512_cmp_ps_mask(r, hi, _CMP_GT_OQ));
    nz += Count(s.on & _mm512_cmp_ps_mask(s.a, _mm512_setzero_ps(), _CMP_NEQ_UQ));
  }
  return {FoldLanes(sl), FoldLanes(sak), FoldLanes(srm), 0.0, low, high, nz};
}
#endif

// GSPO's surrogate for one row from GspoTokenTerms' sums (sp = Σ A w_tis over A > 0 with np
// tokens, sn and nn over A < 0): ℓ = max(−A s, −A clip(s)) is −A min(s, clip(s)) for A > 0 and
// −A max(s, clip(s)) (then the dual clip) for A < 0. Returns Σ ℓ; *g = Σ ∂ℓ/∂s_b.
double GspoRowTerms(const MainPassArgs& c, float s, double sp, double sn, uint64_t np, uint64_t nn, double* g,
                    uint64_t* counts) {
  const float rl = s < c.lo ? c.lo : s;
  const float rc = rl > c.hi ? c.hi : rl;
  const bool clip_p = rc < s, clip_n = rc > s;  // A > 0 clipped above 1 + ε_high, A < 0 below 1 − ε_low
  const float m_p = clip_p ? rc : s;
  float m_n = clip_n ? rc : s;
  const bool dc = c.dual > 0.0f && m_n > c.dual;
  m_n = dc ? c.dual : m_n;
  *g = (clip_p ? 0.0 : -sp) + (clip_n || dc ? 0.0 : -sn);
  counts[0] += clip_n ? nn : 0, counts[1] += clip_p ? np : 0, counts[2] += dc ? nn : 0;
  return -(sp * static_cast<double>(m_p) + sn * static_cast<double>(m_n));
}

// Whether GSPO writes its gradient rows with streaming stores: only when nothing is added to them
// in place (no KL term) and out of cache (simd::kStreamElements), where they skip the
// read-for-ownership of every output line (4 of the ~21 bytes a token moves).
bool StreamGrad(const PolicyLossProblem& p) {
  return RLCORE_SCAN_SIMD && !p.ref_log_prob && p.B * p.T >= simd::kStreamElements;
}

// GO[t] = v on the tokens with M[t] != 0 (all when M is null), 0 elsewhere, t < T.
void FillMaskedRow(float* GO, const uint8_t* M, size_t T, float v, bool stream) {
  size_t t = 0;
#if RLCORE_SCAN_SIMD
  const __m512 vv = _mm512_set1_ps(v);
  for (; t + simd::kLanes <= T; t += simd::kLanes)
    simd::Store16(GO + t, M ? _mm512_maskz_mov_ps(simd::Set16(M + t), vv) : vv, stream);
#else
  (void)stream;
#endif
  if (M) {
    for (; t < T; ++t) GO[t] = Select(M[t], v, 0.0f);
  } else {
    for (; t < T; ++t) GO[t] = v;
  }
}

// The main pass over rows [b0, b1) (one fixed block): every per-token term in L1-sized chunks,
// float64 sums per chunk, then per block.
template <PolicyLossKind K>
void MainPassBlock(const PolicyLossProblem& p, const MainPassArgs& c, size_t b0, size_t b1, double* acc) {
  constexpr bool kGspoK = K == PolicyLossKind::kGspo;
  const size_t T = p.T;
  const bool stream_grad = kGspoK && StreamGrad(p);
  // GSPO and CISPO with AVX-512: GspoChunkSimd / CispoChunkSimd instead of GspoTokenTerms /
  // TokenTerms and their sums (the portable path stays under test in the RLCORE_PORTABLE build).
  constexpr bool kSimdK = RLCORE_SCAN_SIMD != 0 && (kGspoK || K == PolicyLossKind::kCispo);
  constexpr bool kGspoSimd = kSimdK && kGspoK;
  float l[kChunk], g[kChunk], ak[kChunk], rm[kChunk], xc[kChunk], wt[kChunk], kv[kChunk], kg[kChunk], ab[kChunk];
  uint8_t ones8[kChunk];
  uint32_t mk[kChunk], sk[kChunk];
  std::fill(ones8, ones8 + kChunk, uint8_t{1});
  uint64_t counts[6] = {0, 0, 0, 0, 0, 0};  // low, high, dual, A ≠ 0; GSPO: A > 0, A < 0
  for (size_t b = b0; b < b1; ++b) {
    const size_t n_b = c.len[b];
    double w = 0.0;
    switch (p.agg) {
      case LossAgg::kTokenMean: w = 1.0 / c.N; break;
      case LossAgg::kSeqMeanTokenMean: w = n_b > 0 ? 1.0 / (c.S * static_cast<double>(n_b)) : 0.0; break;
      case LossAgg::kSeqMeanTokenSum: w = 1.0 / c.S; break;
      case LossAgg::kTokenSumNorm: w = 1.0 / p.norm_const; break;
    }
    const float wf = static_cast<float>(w), klw = static_cast<float>(p.kl_coef * w);
    const float hw = static_cast<float>(-p.ent_coef * w);
    if (p.seq_advantages) std::fill(ab, ab + std::min(kChunk, T), p.advantages[b]);
    double row_pol = 0.0, seq_lr = 0.0, gspo_sp = 0.0, gspo_sn = 0.0;
    const uint64_t nz_before = counts[3], pos_before = counts[4], neg_before = counts[5];
    for (size_t c0 = 0; c0 < T; c0 += kChunk) {
      const size_t n = std::min(kChunk, T - c0), base = b * T + c0;
      const float *LP = p.log_prob + base, *OL = p.old_log_prob + base;
      const float* A = p.seq_advantages ? ab : p.advantages + base;
      const uint8_t* M = p.mask ? p.mask + base : ones8;
      if (!kSimdK) for (size_t j = 0; j < n; ++j) mk[j] = M[j] != 0;
      if (c.sel) {
        const uint8_t* SL = c.sel + base;
        for (size_t j = 0; j < n; ++j) sk[j] = SL[j] != 0;
      }
      float* GO = p.grad_log_prob + base;
      if (p.rollout_log_prob) {
        const float* RL = p.rollout_log_prob + base;
        for (size_t j = 0; j < n; ++j) wt[j] = ExpF(OL[j] - RL[j]);
        for (size_t j = 0; j < n; ++j) wt[j] = wt[j] < c.cap ? wt[j] : c.cap, kv[j] = Select(M[j], wt[j], 0.0f);
        acc[kTis] += SumF64(kv, n);
      }
      if (kGspoSimd) {
#if RLCORE_SCAN_SIMD
        // The gradient is written after the row (it needs s_b). Streamed, it needs nothing now;
        // otherwise fetch its lines while this chunk computes instead of stalling on them in
        // that store-only loop.
        if (!stream_grad) for (size_t j = 0; j < n; j += 16) __builtin_prefetch(GO + j, 1);
        const ChunkSums cs = p.rollout_log_prob ? GspoChunkSimd<true>(n, LP, OL, A, p.mask ? M : nullptr, wt)
                                                : GspoChunkSimd<false>(n, LP, OL, A, p.mask ? M : nullptr, nullptr);
        seq_lr += cs.a, acc[kApprox] += cs.b, gspo_sp += cs.c, gspo_sn += cs.d;
        counts[3] += cs.n0 + cs.n1, counts[4] += cs.n0, counts[5] += cs.n1;
#endif
      } else if (kGspoK) {
        // The gradient is written after the row (it needs s_b): fetch its lines now, while this
        // chunk computes, instead of stalling on them in that store-only loop.
        for (size_t j = 0; j < n; j += 16) __builtin_prefetch(GO + j, 1);
        for (size_t j = 0; j < n; ++j) xc[j] = ClampExpArgF(LP[j] - OL[j]);  // own loop: see ExpSplitInRangeF
        if (p.rollout_log_prob) {
          GspoTokenTerms<true>(n, LP, OL, A, mk, wt, xc, l, ak, g, rm, counts);
        } else {
          GspoTokenTerms<false>(n, LP, OL, A, mk, nullptr, xc, l, ak, g, rm, counts);
        }
      } else if (kSimdK) {
#if RLCORE_SCAN_SIMD
        const ChunkSums cs = p.rollout_log_prob ? CispoChunkSimd<true>(n, LP, OL, A, p.mask ? M : nullptr, wt, c, wf, GO)
                                                : CispoChunkSimd<false>(n, LP, OL, A, p.mask ? M : nullptr, nullptr, c, wf, GO);
        row_pol += cs.a, acc[kApprox] += cs.b, acc[kRatio] += cs.c;
        counts[0] += cs.n0, counts[1] += cs.n1, counts[3] += cs.n2;
#endif
      } else if (p.rollout_log_prob) {
        TokenTerms<K, true>(n, LP, OL, A, mk, sk, wt, c, 0.0f, wf, l, g, GO, ak, rm, xc, counts);
      } else {
        TokenTerms<K, false>(n, LP, OL, A, mk, sk, nullptr, c, 0.0f, wf, l, g, GO, ak, rm, xc, counts);
      }
      if (p.ref_log_prob) {
        const float* RF = p.ref_log_prob + base;
        if (kGspoK) std::fill(GO, GO + n, 0.0f);  // GSPO's own term is written after the row
        switch (p.kl_kind) {
          case KlEstimator::kK1: KlTermsF<KlEstimator::kK1>(LP, RF, n, kv, kg); break;
          case KlEstimator::kK2: KlTermsF<KlEstimator::kK2>(LP, RF, n, kv, kg); break;
          case KlEstimator::kK3: KlTermsF<KlEstimator::kK3>(LP, RF, n, kv, kg); break;
        }
        for (size_t j = 0; j < n; ++j) kv[j] = Select(M[j], kv[j], 0.0f), GO[j] += klw * Select(M[j], kg[j], 0.0f);
        const double ks = SumF64(kv, n);
        acc[kKlW] += w * ks, acc[kKlTok] += ks;
      }
      if (p.entropy) {
        const float* H = p.entropy + base;
        for (size_t j = 0; j < n; ++j) kv[j] = Select(M[j], H[j], 0.0f);
        const double hs = SumF64(kv, n);
        acc[kHW] += w * hs, acc[kHTok] += hs;
      }
      double sl, sa, sr;
      if (kSimdK) {
        // summed above
      } else if (kGspoK) {
        seq_lr += SumF64(l, n);  // the row's log-ratio sum in SumF64's order, chunk by chunk
        Sum3F64(ak, g, rm, n, &sa, &sl, &sr);
        acc[kApprox] += sa, gspo_sp += sl, gspo_sn += sr;
      } else {
        Sum3F64(l, ak, rm, n, &sl, &sa, &sr);
        row_pol += sl, acc[kApprox] += sa, acc[kRatio] += sr;
      }
      if (p.grad_entropy) {
        float* GE = p.grad_entropy + base;
        for (size_t j = 0; j < n; ++j) GE[j] = Select(M[j], hw, 0.0f);
      }
    }
    if (kGspoK) {
      // The sequence ratio s_b from the mean token log-ratio (capped at 10, as in verl).
      seq_lr = n_b > 0 ? seq_lr / static_cast<double>(n_b) : 0.0;
      const bool seq_lr_capped = seq_lr > 10.0;
      const float s_b = static_cast<float>(std::exp(seq_lr_capped ? 10.0 : seq_lr));
      double gspo_g = 0.0;
      row_pol = GspoRowTerms(c, s_b, gspo_sp, gspo_sn, counts[4] - pos_before, counts[5] - neg_before, &gspo_g, counts);
      // ∂s_b/∂log π_θ(b, t) = s_b / n_b for every response token of the sequence. The masked
      // ratio sum is n_b s_b exactly (n_b < 2^29 copies of one float: exact in float64).
      acc[kRatio] += static_cast<double>(n_b) * static_cast<double>(s_b);
      const float add = n_b > 0 && !seq_lr_capped ? static_cast<float>(w * gspo_g * s_b / static_cast<double>(n_b)) : 0.0f;
      float* GO = p.grad_log_prob + b * T;
      const uint8_t* M = p.mask ? p.mask + b * T : nullptr;
      if (p.ref_log_prob) {  // the KL term's gradient is already there
        if (M) {
          for (size_t t = 0; t < T; ++t) GO[t] += Select(M[t], add, 0.0f);
        } else {
          for (size_t t = 0; t < T; ++t) GO[t] += add;
        }
      } else {
        FillMaskedRow(GO, M, T, add, stream_grad);
      }
    }
    acc[kPol] += w * row_pol;
    acc[kZeroAdv] += (n_b > 0 && counts[3] == nz_before) ? 1 : 0;
  }
  acc[kLow] = static_cast<double>(counts[0]), acc[kHigh] = static_cast<double>(counts[1]);
  acc[kDual] = static_cast<double>(counts[2]);
#if RLCORE_SCAN_SIMD
  simd::Fence(stream_grad);  // before the block's gradient is handed back to the caller's thread
#endif
}

}  // namespace

void PolicyLossCpu(const PolicyLossProblem& p) {
  const size_t B = p.B, T = p.T, nb = NumBlocks(B, T);
  const bool cov_kind = p.kind == PolicyLossKind::kClipCov || p.kind == PolicyLossKind::kKlCov;
  // Pass 1: tokens per row, and the means the covariance needs.
  std::vector<uint32_t> len(B);
  std::vector<double> part1(nb * 4);
  ForLlmBlocks(B, T, [&](size_t k, size_t b0, size_t b1) {
    double n = 0, s = 0, sa = 0, sl = 0;
    for (size_t b = b0; b < b1; ++b) {
      uint32_t c = static_cast<uint32_t>(T);
      if (p.mask) {
        c = 0;
        for (size_t t = 0; t < T; ++t) c += p.mask[b * T + t] != 0;
      }
      if (cov_kind) {  // masked sums in float64 lanes (vectorised), a fixed order per row
        const uint8_t* M = p.mask ? p.mask + b * T : nullptr;
        sl += MaskedSumF64(p.log_prob + b * T, M, T);
        sa += p.seq_advantages ? static_cast<double>(p.advantages[b]) * c : MaskedSumF64(p.advantages + b * T, M, T);
      }
      len[b] = c;
      n += c, s += c > 0 ? 1 : 0;
    }
    double* o = &part1[k * 4];
    o[0] = n, o[1] = s, o[2] = sa, o[3] = sl;
  });
  double tot1[4];
  Sum(part1, 4, tot1);
  const double N = tot1[0], S = tot1[1];
  std::vector<uint8_t> sel;
  const size_t n_sel = cov_kind ? CovSelect(p, N, tot1[2] / N, tot1[3] / N, sel) : 0;

  MainPassArgs m;
  m.N = N, m.S = S, m.len = len.data(), m.sel = cov_kind ? sel.data() : nullptr;
  m.lo = static_cast<float>(1.0 - p.clip_low), m.hi = static_cast<float>(1.0 + p.clip_high);
  m.dual = static_cast<float>(p.dual_clip), m.cap = static_cast<float>(p.tis_cap);
  m.kl_cov = static_cast<float>(p.kl_cov_coef);
  std::vector<double> part(nb * kWidth, 0.0);
  ForLlmBlocks(B, T, [&](size_t k, size_t b0, size_t b1) {
    double* acc = &part[k * kWidth];
    switch (p.kind) {
      case PolicyLossKind::kPpo: MainPassBlock<PolicyLossKind::kPpo>(p, m, b0, b1, acc); break;
      case PolicyLossKind::kCispo: MainPassBlock<PolicyLossKind::kCispo>(p, m, b0, b1, acc); break;
      case PolicyLossKind::kGspo: MainPassBlock<PolicyLossKind::kGspo>(p, m, b0, b1, acc); break;
      case PolicyLossKind::kClipCov: MainPassBlock<PolicyLossKind::kClipCov>(p, m, b0, b1, acc); break;
      case PolicyLossKind::kKlCov: MainPassBlock<PolicyLossKind::kKlCov>(p, m, b0, b1, acc); break;
    }
  });
  double t[kWidth];
  Sum(part, kWidth, t);
  double* s = p.stats;
  s[1] = t[kPol];
  s[2] = p.ref_log_prob ? t[kKlW] : 0.0;
  s[3] = p.entropy ? t[kHW] : 0.0;
  s[0] = s[1] + p.kl_coef * s[2] - p.ent_coef * s[3];
  s[4] = t[kLow] / N, s[5] = t[kHigh] / N, s[6] = t[kDual] / N;
  s[7] = t[kApprox] / N, s[8] = t[kRatio] / N;
  s[9] = p.ref_log_prob ? t[kKlTok] / N : 0.0;
  s[10] = p.entropy ? t[kHTok] / N : 0.0;
  s[11] = p.rollout_log_prob ? t[kTis] / N : 1.0;
  s[12] = static_cast<double>(n_sel) / N;
  s[13] = t[kZeroAdv] / S;
  s[14] = N, s[15] = S;
}

namespace {

int EnumArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, int count) {
  const double d = NumberArg(info, i, kernel, name, 0, count - 1);
  if (std::floor(d) != d) ThrowError(info.Env(), "ERR_ARG", std::string(kernel) + ": " + name + " must be an integer code");
  return static_cast<int>(d);
}

// policyLoss(B, T, logProb, oldLogProb, advantages, mask?, refLogProb?, rolloutLogProb?, entropy?,
//            kind, agg, klKind, clipLow, clipHigh, dualClip, tisCap, klCoef, entCoef, normConst,
//            covRatio, covLb, covUb, klCovCoef, seed, outGradLogProb, outGradEntropy?, stats, useCuda, async)
Napi::Value PolicyLossBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "policyLoss";
  Napi::Env env = info.Env();
  PolicyLossProblem p;
  p.B = SizeArg(info, 0, kKernel, "B");
  p.T = SizeArg(info, 1, kKernel, "T");
  const Shape bt = ShapeText("[B, T]", {p.B, p.T});
  const size_t n = CheckedProduct(env, kKernel, bt);
  p.log_prob = F32Arg(info, 2, kKernel, "logProb", false, n, bt).data;
  p.old_log_prob = F32Arg(info, 3, kKernel, "oldLogProb", false, n, bt).data;
  const ArrayArg<float> adv = F32Arg(info, 4, kKernel, "advantages", false, SIZE_MAX, bt);
  if (adv.length != n && adv.length != p.B) {
    std::ostringstream msg;
    msg << kKernel << ": advantages must have " << n << " ([B, T]) or " << p.B << " ([B]) elements; received "
        << adv.length;
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  p.advantages = adv.data;
  p.seq_advantages = adv.length != n;
  p.mask = U8Arg(info, 5, kKernel, "mask", true, n, bt).data;
  p.ref_log_prob = F32Arg(info, 6, kKernel, "refLogProb", true, n, bt).data;
  p.rollout_log_prob = F32Arg(info, 7, kKernel, "rolloutLogProb", true, n, bt).data;
  p.entropy = F32Arg(info, 8, kKernel, "entropy", true, n, bt).data;
  p.kind = static_cast<PolicyLossKind>(EnumArg(info, 9, kKernel, "kind", 5));
  p.agg = static_cast<LossAgg>(EnumArg(info, 10, kKernel, "agg", 4));
  p.kl_kind = static_cast<KlEstimator>(EnumArg(info, 11, kKernel, "klKind", 3));
  p.clip_low = NumberArg(info, 12, kKernel, "clipLow", 0.0, 1.0);
  p.clip_high = NumberArg(info, 13, kKernel, "clipHigh", 0.0, 1e30);
  p.dual_clip = NumberArg(info, 14, kKernel, "dualClip", 0.0, 1e30);
  if (p.dual_clip > 0.0 && p.dual_clip <= 1.0) {
    ThrowError(env, "ERR_RANGE", std::string(kKernel) + ": dualClip must be 0 (off) or > 1; received " + std::to_string(p.dual_clip));
  }
  p.tis_cap = NumberArg(info, 15, kKernel, "tisCap", 1e-12, 1e30);
  p.kl_coef = NumberArg(info, 16, kKernel, "klCoef", -1e30, 1e30);
  p.ent_coef = NumberArg(info, 17, kKernel, "entCoef", -1e30, 1e30);
  p.norm_const = NumberArg(info, 18, kKernel, "normConst", 1e-12, 1e30);
  p.cov_ratio = NumberArg(info, 19, kKernel, "covRatio", 1e-12, 1.0);
  p.cov_lb = NumberArg(info, 20, kKernel, "covLb", -1e30, 1e30);
  p.cov_ub = NumberArg(info, 21, kKernel, "covUb", p.cov_lb, 1e30);
  p.kl_cov_coef = NumberArg(info, 22, kKernel, "klCovCoef", -1e30, 1e30);
  p.seed = SeedArg(info, 23, kKernel);
  p.grad_log_prob = F32Arg(info, 24, kKernel, "out.gradLogProb", false, n, bt).data;
  p.grad_entropy = F32Arg(info, 25, kKernel, "out.gradEntropy", true, n, bt).data;
  p.stats = F64Arg(info, 26, kKernel, "stats", false, kPolicyStats, "[16]").data;
  const bool use_cuda = BoolArg(info, 27), async = BoolArg(info, 28);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = n * 4;
  const Region outs[] = {{"out.gradLogProb", p.grad_log_prob, fb},
                         {"out.gradEntropy", p.grad_entropy, p.grad_entropy ? fb : 0},
                         {"stats", p.stats, kPolicyStats * 8}};
  const Region ins[] = {{"logProb", p.log_prob, fb},
                        {"oldLogProb", p.old_log_prob, fb},
                        {"advantages", p.advantages, adv.length * 4},
                        {"mask", p.mask, p.mask ? n : 0},
                        {"refLogProb", p.ref_log_prob, p.ref_log_prob ? fb : 0},
                        {"rolloutLogProb", p.rollout_log_prob, p.rollout_log_prob ? fb : 0},
                        {"entropy", p.entropy, p.entropy ? fb : 0}};
  CheckRegions(env, kKernel, outs, ins);
  if (p.mask) {  // data-dependent: checked before anything is written; stops at the first token
    bool any = false;
    for (size_t i0 = 0; i0 < n && !any; i0 += 4096) {
      const size_t i1 = std::min(n, i0 + 4096);
      uint8_t acc = 0;
      for (size_t i = i0; i < i1; ++i) acc |= p.mask[i];  // vectorises (no early exit inside)
      any = acc != 0;
    }
    if (!any) ThrowError(env, "ERR_SHAPE", std::string(kKernel) + ": mask selects no response token " + bt.Text());
  }
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::PolicyLoss(p);
#endif
    (void)use_cuda;
    PolicyLossCpu(p);
  }, KeepArgs{2, 27});
}

}  // namespace

RLCORE_EXPORT(policyLoss, PolicyLossBinding);

}  // namespace rlcore
