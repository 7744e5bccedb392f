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
#include <cmath>
#include <sstream>
#include <utility>
#include <vector>

#include "../core/binding.h"
#include "../core/rng.h"
#include "../core/select.h"
#include "../core/thread_pool.h"
#include "../dist/args.h"
#include "../dist/fastmath.h"
#include "llm.h"

namespace rlcore {
namespace {

constexpr size_t kChunk = 1024;

// Calls fn(block, b0, b1) over fixed row blocks (on the pool when large enough).
template <class F>
void ForLlmBlocks(size_t B, size_t T, const F& fn) {
  const size_t rpb = LlmRowsPerBlock(T), blocks = (B + rpb - 1) / rpb;
  auto run = [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k) fn(k, k * rpb, std::min(B, (k + 1) * rpb));
  };
  if (blocks == 1 || B * T < (size_t{1} << 15)) {
    run(0, blocks);
  } else {
    ParallelFor(blocks, 1, run);
  }
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

// Tokens chosen by Clip-Cov / KL-Cov (1 = selected); returns how many. The covariance is read
// first: only the few tokens inside Clip-Cov's window need their ratio.
size_t CovSelect(const PolicyLossProblem& p, double N, double mean_a, double mean_lp, std::vector<uint8_t>& sel) {
  const size_t B = p.B, T = p.T;
  const size_t k = std::max<size_t>(1, static_cast<size_t>(std::floor(p.cov_ratio * N)));
  sel.assign(B * T, 0);
  auto adv = [&](size_t i) { return static_cast<double>(p.seq_advantages ? p.advantages[i / T] : p.advantages[i]); };
  auto cov = [&](size_t i) { return (adv(i) - mean_a) * (static_cast<double>(p.log_prob[i]) - mean_lp); };
  if (p.kind == PolicyLossKind::kClipCov) {
    // Candidates: inside (lb, ub) and not already clipped by PPO (as in the paper's code).
    std::vector<size_t> cand;
    const double lo = 1.0 - p.clip_low, hi = 1.0 + p.clip_high;
    for (size_t i = 0; i < B * T; ++i) {
      if (p.mask && !p.mask[i]) continue;
      const double c = cov(i);
      if (!(c > p.cov_lb && c < p.cov_ub)) continue;
      const double a = adv(i), r = ExpF(p.log_prob[i] - p.old_log_prob[i]);
      const double rc = std::min(std::max(r, lo), hi);
      if (-a * rc > -a * r) continue;
      cand.push_back(i);
    }
    const size_t take = std::min(k, cand.size());
    RandomStream rs(p.seed, 0);
    for (size_t i = 0; i < take; ++i) {  // partial Fisher–Yates on a seeded Philox stream
      const size_t j = i + rs.Below(static_cast<uint32_t>(cand.size() - i));
      std::swap(cand[i], cand[j]);
      sel[cand[i]] = 1;
    }
    return take;
  }
  // KL-Cov: the k largest covariances (ties: lower index first), by one scan with a min-heap of
  // the best k: O(N log k), and most tokens are rejected by one comparison with the heap's top.
  using Item = std::pair<double, size_t>;
  auto better = [](const Item& a, const Item& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::vector<Item> heap;
  heap.reserve(k);
  for (size_t i = 0; i < B * T; ++i) {
    if (p.mask && !p.mask[i]) continue;
    const Item it{cov(i), i};
    if (heap.size() < k) {
      heap.push_back(it);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(it, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = it;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  for (const Item& it : heap) sel[it.second] = 1;
  return heap.size();
}

// Per-block partial sums.
enum Part : size_t {
  kPol, kKlW, kHW, kLow, kHigh, kDual, kApprox, kRatio, kKlTok, kHTok, kTis, kZeroAdv, kWidth
};

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
      if (cov_kind) {
        for (size_t t = 0; t < T; ++t) {
          const size_t i = b * T + t;
          if (p.mask && !p.mask[i]) continue;
          sa += p.seq_advantages ? p.advantages[b] : p.advantages[i], sl += p.log_prob[i];
        }
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

  const float lo = static_cast<float>(1.0 - p.clip_low), hi = static_cast<float>(1.0 + p.clip_high);
  const float dual = static_cast<float>(p.dual_clip), cap = static_cast<float>(p.tis_cap);
  const float kl_cov = static_cast<float>(p.kl_cov_coef);
  const bool gspo = p.kind == PolicyLossKind::kGspo;
  std::vector<double> part(nb * kWidth, 0.0);
  ForLlmBlocks(B, T, [&](size_t k, size_t b0, size_t b1) {
    double acc[kWidth] = {};
    // Per-token terms in vectorisable float passes over L1-sized chunks; float64 sums.
    float lr[kChunk], r[kChunk], a[kChunk], wt[kChunk], l[kChunk], g[kChunk], f1[kChunk], f2[kChunk], f3[kChunk];
    float kv[kChunk], kg[kChunk], ratio_e[kChunk];
    uint8_t mk[kChunk], sl[kChunk];
    for (size_t b = b0; b < b1; ++b) {
      const size_t n_b = len[b];
      double w = 0.0;
      switch (p.agg) {
        case LossAgg::kTokenMean: w = 1.0 / N; break;
        case LossAgg::kSeqMeanTokenMean: w = n_b > 0 ? 1.0 / (S * static_cast<double>(n_b)) : 0.0; break;
        case LossAgg::kSeqMeanTokenSum: w = 1.0 / S; break;
        case LossAgg::kTokenSumNorm: w = 1.0 / p.norm_const; break;
      }
      const float wf = static_cast<float>(w), klw = static_cast<float>(p.kl_coef * w), hw = static_cast<float>(-p.ent_coef * w);
      // GSPO: the sequence ratio s_b from the mean token log-ratio (capped at 10, as in verl).
      double seq_lr = 0.0;
      bool seq_lr_capped = false;
      if (gspo && n_b > 0) {
        for (size_t t = 0; t < T; ++t) {
          const size_t i = b * T + t;
          if (!p.mask || p.mask[i]) seq_lr += static_cast<double>(p.log_prob[i]) - p.old_log_prob[i];
        }
        seq_lr /= static_cast<double>(n_b);
        seq_lr_capped = seq_lr > 10.0;
        seq_lr = seq_lr_capped ? 10.0 : seq_lr;
      }
      const float s_b = static_cast<float>(std::exp(seq_lr));
      double gspo_g = 0.0, row_pol = 0.0, row_abs_adv = 0.0;
      for (size_t c0 = 0; c0 < T; c0 += kChunk) {
        const size_t n = std::min(kChunk, T - c0), base = b * T + c0;
        const float* LP = p.log_prob + base;
        const float* OL = p.old_log_prob + base;
        if (p.mask) {
          std::copy(p.mask + base, p.mask + base + n, mk);
        } else {
          std::fill(mk, mk + n, uint8_t{1});
        }
        if (cov_kind) {
          std::copy(sel.begin() + static_cast<std::ptrdiff_t>(base), sel.begin() + static_cast<std::ptrdiff_t>(base + n), sl);
        }
        if (p.seq_advantages) {
          std::fill(a, a + n, p.advantages[b]);
        } else {
          std::copy(p.advantages + base, p.advantages + base + n, a);
        }
        // exp in their own passes: GCC vectorises ExpF alone, not fused with the selects below.
        for (size_t j = 0; j < n; ++j) lr[j] = LP[j] - OL[j];
        for (size_t j = 0; j < n; ++j) r[j] = ExpF(lr[j]);
        std::copy(r, r + n, ratio_e);
        if (p.rollout_log_prob) {
          const float* RL = p.rollout_log_prob + base;
          for (size_t j = 0; j < n; ++j) wt[j] = OL[j] - RL[j];
          for (size_t j = 0; j < n; ++j) wt[j] = ExpF(wt[j]);
          for (size_t j = 0; j < n; ++j) wt[j] = wt[j] < cap ? wt[j] : cap;
        } else {
          std::fill(wt, wt + n, 1.0f);
        }
        // ℓ and g (∂ℓ/∂logp, or ∂ℓ/∂s_b for GSPO) per token; f1, f2, f3: low / high / dual flags.
        switch (p.kind) {
          case PolicyLossKind::kCispo:
            for (size_t j = 0; j < n; ++j) {
              const float rl = r[j] < lo ? lo : r[j];
              const float wgt = rl > hi ? hi : rl;
              l[j] = -wgt * a[j] * LP[j], g[j] = -wgt * a[j];
              f1[j] = r[j] < lo ? 1.0f : 0.0f, f2[j] = r[j] > hi ? 1.0f : 0.0f, f3[j] = 0.0f;
            }
            break;
          case PolicyLossKind::kKlCov:
            for (size_t j = 0; j < n; ++j) {
              const float sg = (lr[j] > 0.0f ? 1.0f : 0.0f) - (lr[j] < 0.0f ? 1.0f : 0.0f);
              const float on = Select(sl[j], kl_cov, 0.0f);
              l[j] = -a[j] * r[j] + on * __builtin_fabsf(lr[j]), g[j] = -a[j] * r[j] + on * sg;
              f1[j] = 0.0f, f2[j] = 0.0f, f3[j] = 0.0f;
            }
            break;
          default:  // ppo, clipCov, gspo
            for (size_t j = 0; j < n; ++j) {
              const float rr = gspo ? s_b : r[j];
              const float rl = rr < lo ? lo : rr;
              const float rc = rl > hi ? hi : rl;
              const float l1 = -a[j] * rr, l2 = -a[j] * rc;
              const bool clipped = l2 > l1;
              float lv = clipped ? l2 : l1, gv = clipped ? 0.0f : (gspo ? -a[j] : l1);
              f1[j] = (clipped && rr < lo) ? 1.0f : 0.0f, f2[j] = (clipped && rr > hi) ? 1.0f : 0.0f;
              const float l3 = -a[j] * dual;
              const bool dc = dual > 0.0f && a[j] < 0.0f && lv > l3;
              lv = dc ? l3 : lv, gv = dc ? 0.0f : gv;
              f3[j] = dc ? 1.0f : 0.0f;
              l[j] = lv, g[j] = gv;
            }
            if (p.kind == PolicyLossKind::kClipCov) {
              for (size_t j = 0; j < n; ++j) l[j] = sl[j] ? 0.0f : l[j], g[j] = sl[j] ? 0.0f : g[j];
            }
        }
        if (p.ref_log_prob) {
          const float* RF = p.ref_log_prob + base;
          for (size_t j = 0; j < n; ++j) KlTermF(p.kl_kind, LP[j], RF[j], &kv[j], &kg[j]);
        } else {
          std::fill(kv, kv + n, 0.0f), std::fill(kg, kg + n, 0.0f);
        }
        // Masking and the gradient, one simple select loop each (they vectorise that way).
        float* GO = p.grad_log_prob + base;
        for (size_t j = 0; j < n; ++j) g[j] = Select(mk[j], g[j] * wt[j], 0.0f);
        for (size_t j = 0; j < n; ++j) kg[j] = Select(mk[j], kg[j], 0.0f);
        if (gspo) {  // the ratio term is added per sequence below
          for (size_t j = 0; j < n; ++j) GO[j] = klw * kg[j];
        } else {
          for (size_t j = 0; j < n; ++j) GO[j] = wf * g[j] + klw * kg[j];
        }
        if (gspo) std::fill(r, r + n, s_b);
        for (size_t j = 0; j < n; ++j) {
          const uint8_t on = mk[j];
          l[j] = Select(on, l[j] * wt[j], 0.0f);
          f1[j] = Select(on, f1[j], 0.0f), f2[j] = Select(on, f2[j], 0.0f), f3[j] = Select(on, f3[j], 0.0f);
          kv[j] = Select(on, kv[j], 0.0f), wt[j] = Select(on, wt[j], 0.0f);
          r[j] = Select(on, r[j], 0.0f), a[j] = Select(on, __builtin_fabsf(a[j]), 0.0f);
        }
        // approxKl per token: (r − 1) − log r from the ratio already computed (series near r = 1).
        for (size_t j = 0; j < n; ++j) lr[j] = Select(mk[j], K3FromExp(lr[j], ratio_e[j]), 0.0f);
        if (p.grad_entropy) {
          float* GE = p.grad_entropy + base;
          for (size_t j = 0; j < n; ++j) GE[j] = Select(mk[j], hw, 0.0f);
        }
        row_pol += SumF64(l, n);
        if (gspo) gspo_g += SumF64(g, n);
        acc[kLow] += SumF64(f1, n), acc[kHigh] += SumF64(f2, n), acc[kDual] += SumF64(f3, n);
        acc[kApprox] += SumF64(lr, n), acc[kRatio] += SumF64(r, n), acc[kTis] += SumF64(wt, n);
        row_abs_adv += SumF64(a, n);
        if (p.ref_log_prob) {
          const double ks = SumF64(kv, n);
          acc[kKlW] += w * ks, acc[kKlTok] += ks;
        }
        if (p.entropy) {
          const float* H = p.entropy + base;
          for (size_t j = 0; j < n; ++j) kv[j] = Select(mk[j], H[j], 0.0f);
          const double hs = SumF64(kv, n);
          acc[kHW] += w * hs, acc[kHTok] += hs;
        }
      }
      acc[kPol] += w * row_pol;
      if (gspo && n_b > 0 && !seq_lr_capped) {
        // ∂s_b/∂log π_θ(b, t) = s_b / n_b for every response token of the sequence.
        const float add = static_cast<float>(w * gspo_g * s_b / static_cast<double>(n_b));
        float* GO = p.grad_log_prob + b * T;
        const uint8_t* M = p.mask ? p.mask + b * T : nullptr;
        for (size_t t = 0; t < T; ++t) GO[t] += (!M || M[t]) ? add : 0.0f;
      }
      acc[kZeroAdv] += (n_b > 0 && row_abs_adv == 0.0) ? 1 : 0;
    }
    std::copy(acc, acc + kWidth, &part[k * kWidth]);
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
  if (p.mask) {  // data-dependent: checked before anything is written
    size_t valid = 0;
    for (size_t i = 0; i < n; ++i) valid += p.mask[i] != 0;
    if (valid == 0) ThrowError(env, "ERR_SHAPE", std::string(kKernel) + ": mask selects no response token " + bt.Text());
  }
  return RunKernel(info, async, [p] { PolicyLossCpu(p); }, KeepArgs{2, 27});
}

}  // namespace

RLCORE_EXPORT(policyLoss, PolicyLossBinding);

}  // namespace rlcore
