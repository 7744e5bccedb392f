// Token-level policy losses on the GPU, with the semantics of native/llm/policy_loss.cc (see there
// for the formulas: ppo with clip-higher and dual clip, cispo, gspo, clipCov, klCov, truncated IS,
// the KL and entropy terms and the four aggregations), the same 16 statistics and gradients.
//
//   1. RowStatsKernel, one block per row: response tokens n_b, and the masked sums the
//      covariance means (Σ A, Σ log π) and GSPO's sequence ratio (Σ log π − log π_old) need.
//   2. clipCov / klCov only: CovKeyKernel marks Clip-Cov's candidates or writes KL-Cov's
//      covariance per token; the selection itself (a seeded partial Fisher–Yates over the few
//      candidates, or the top k) runs on the host, as in the CPU kernel, and the selection goes
//      back to the device.
//   3. MainKernel, one block per row: every per-token term (PolicyOp::Token), the row's float64
//      sums, and GSPO's gradient through s_b added once the row's sum is known.
//
// Reductions are float64, per row in a fixed order by thread index, then over rows by one block:
// deterministic, but not the CPU's order, so sums agree to float64 rounding; per-token values are
// the CPU's float32 formulas (llm.cuh), equal to float32 rounding (nvcc may fuse multiply-adds).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "../native/core/rng.h"
#include "../native/llm/cov_select.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "llm.cuh"

namespace rlcore::cuda {
namespace {

// RowStatsKernel's per-row sums.
enum RowSum : int { kRowTokens, kRowAdv, kRowLogp, kRowLogRatio, kRowWidth };
// MainKernel's per-row outputs (summed over rows for the statistics).
enum RowOut : int {
  kOutPolW, kOutKlW, kOutHW, kOutLow, kOutHigh, kOutDual, kOutApprox, kOutRatio, kOutKl, kOutH, kOutTis,
  kOutZeroAdv, kOutWidth
};
// Per-token sums inside MainKernel.
enum TokSum : int { kPol, kKl, kH, kApprox, kRatio, kTis, kLow, kHigh, kDual, kNonzero, kGspoG, kTokWidth };

/// What one row of MainKernel needs besides the token arrays.
struct RowCtx {
  double w;           // aggregation weight
  float wf, klw, hw;  // w, β_KL w, −c_H w as float32
  float s_b;          // GSPO sequence ratio
  bool gspo_grad;     // GSPO: the gradient through s_b flows (n_b > 0, log s_b not capped)
};

/// The problem with device (or, in cuda/test, host) pointers, and every per-token formula.
struct PolicyOp {
  size_t B, T;
  const float *logp, *old_logp, *adv;  // adv: [B, T], or [B] when seq_adv
  bool seq_adv;
  const uint8_t* mask;  // null: all
  const float *ref, *rollout, *entropy;  // optional
  const uint8_t* sel;   // Clip-Cov / KL-Cov selection, or null
  PolicyLossKind kind;
  LossAgg agg;
  KlEstimator kl_kind;
  float lo, hi, dual, cap, kl_cov;     // 1 − ε_low, 1 + ε_high, c, C, κ (float32, as the CPU)
  double clip_low, clip_high, cov_lb, cov_ub, kl_coef, ent_coef, norm_const;
  float* grad;          // [B, T]
  float* grad_entropy;  // [B, T] or null

  __host__ __device__ __forceinline__ bool On(size_t i) const { return mask == nullptr || Ldg(mask + i) != 0; }
  __host__ __device__ __forceinline__ float Adv(size_t b, size_t i) const { return Ldg(adv + (seq_adv ? b : i)); }

  /// Pass 1 for token i.
  __host__ __device__ __forceinline__ void RowStats(size_t i, bool cov, bool gspo, double (&v)[kRowWidth]) const {
    if (!On(i)) return;
    v[kRowTokens] += 1.0;
    if (cov) {
      v[kRowLogp] += static_cast<double>(Ldg(logp + i));
      if (!seq_adv) v[kRowAdv] += static_cast<double>(Ldg(adv + i));
    }
    if (gspo) v[kRowLogRatio] += static_cast<double>(Ldg(logp + i) - Ldg(old_logp + i));
  }

  /// The row's weight and GSPO ratio from pass 1 (n_b tokens, Σ log-ratio) and the totals N, S.
  __host__ __device__ __forceinline__ RowCtx Row(double n_b, double log_ratio_sum, double N, double S) const {
    double w = 0.0;
    switch (agg) {
      case LossAgg::kTokenMean: w = 1.0 / N; break;
      case LossAgg::kSeqMeanTokenMean: w = n_b > 0 ? 1.0 / (S * n_b) : 0.0; break;
      case LossAgg::kSeqMeanTokenSum: w = 1.0 / S; break;
      case LossAgg::kTokenSumNorm: w = 1.0 / norm_const; break;
    }
    double seq_lr = 0.0;
    bool capped = false;
    if (kind == PolicyLossKind::kGspo && n_b > 0) {  // capped at 10, as in verl
      seq_lr = log_ratio_sum / n_b;
      capped = seq_lr > 10.0;
      seq_lr = capped ? 10.0 : seq_lr;
    }
    return RowCtx{w, static_cast<float>(w), static_cast<float>(kl_coef * w), static_cast<float>(-ent_coef * w),
                  static_cast<float>(exp(seq_lr)), kind == PolicyLossKind::kGspo && n_b > 0 && !capped};
  }

  /// Clip-Cov: token i is a candidate (masked, cov in (lb, ub), not already clipped by PPO).
  __host__ __device__ __forceinline__ bool ClipCovCandidate(size_t b, size_t i, double mean_a, double mean_lp) const {
    if (!On(i)) return false;
    const float lp = Ldg(logp + i);
    const double a = Adv(b, i), c = (a - mean_a) * (static_cast<double>(lp) - mean_lp);
    const double r = llm::Exp(lp - Ldg(old_logp + i));
    const double dlo = 1.0 - clip_low, dhi = 1.0 + clip_high;
    const double rl = r < dlo ? dlo : r, rc = rl > dhi ? dhi : rl;
    return (c > cov_lb) & (c < cov_ub) & !(-a * rc > -a * r);
  }
  /// KL-Cov's key: the centred covariance (A − mean A)(log π − mean log π).
  __host__ __device__ __forceinline__ double Cov(size_t b, size_t i, double mean_a, double mean_lp) const {
    return (static_cast<double>(Adv(b, i)) - mean_a) * (static_cast<double>(Ldg(logp + i)) - mean_lp);
  }

  /// Every term of token i of row b (TokenTerms and the KL / entropy / TIS parts of the CPU's
  /// main pass): writes grad[i] (without GSPO's row term) and grad_entropy[i], adds to v.
  __host__ __device__ __forceinline__ void Token(size_t b, size_t i, const RowCtx& c, double (&v)[kTokWidth]) const {
    const bool on = On(i);
    const float lp = Ldg(logp + i), ol = Ldg(old_logp + i), a = Adv(b, i);
    const float lr = lp - ol;
    float k3;
    const float r = llm::ExpK3(lr, &k3);
    const bool selected = sel != nullptr && Ldg(sel + i) != 0;
    float lv, gv, rr = r;
    bool fl = false, fh = false, fd = false;
    if (kind == PolicyLossKind::kCispo) {
      const float rl = r < lo ? lo : r;
      const float wgt = rl > hi ? hi : rl;
      lv = -wgt * a * lp, gv = -wgt * a;
      fl = r < lo, fh = r > hi;
    } else if (kind == PolicyLossKind::kKlCov) {
      const float sg = (lr > 0.0f ? 1.0f : 0.0f) - (lr < 0.0f ? 1.0f : 0.0f);
      const float pen = selected ? kl_cov : 0.0f;
      lv = -a * r + pen * fabsf(lr), gv = -a * r + pen * sg;
    } else {  // ppo, clipCov, gspo
      const bool gspo = kind == PolicyLossKind::kGspo;
      rr = gspo ? c.s_b : r;
      const float rl = rr < lo ? lo : rr;
      const float rc = rl > hi ? hi : rl;
      const float l1 = -a * rr, l2 = -a * rc;
      const bool clipped = l2 > l1;
      lv = clipped ? l2 : l1, gv = clipped ? 0.0f : (gspo ? -a : l1);
      fl = clipped && rr < lo, fh = clipped && rr > hi;
      const float l3 = -a * dual;
      fd = dual > 0.0f && a < 0.0f && lv > l3;
      lv = fd ? l3 : lv, gv = fd ? 0.0f : gv;
      if (kind == PolicyLossKind::kClipCov && selected) lv = 0.0f, gv = 0.0f;
    }
    if (rollout) {  // truncated importance weight min(π_old / π_rollout, C), detached
      float wt = llm::Exp(ol - Ldg(rollout + i));
      wt = wt < cap ? wt : cap;
      lv *= wt, gv *= wt;
      v[kTis] += on ? wt : 0.0f;
    }
    float g = 0.0f;
    if (kind == PolicyLossKind::kGspo) {
      v[kGspoG] += on ? gv : 0.0f;
    } else {
      g = c.wf * (on ? gv : 0.0f);
    }
    if (ref) {
      float kv, kg;
      llm::KlTerm(kl_kind, lp, Ldg(ref + i), &kv, &kg);
      v[kKl] += on ? kv : 0.0f;
      g += c.klw * (on ? kg : 0.0f);
    }
    grad[i] = g;
    if (entropy) v[kH] += on ? Ldg(entropy + i) : 0.0f;
    if (grad_entropy) grad_entropy[i] = on ? c.hw : 0.0f;
    if (!on) return;
    v[kPol] += lv, v[kApprox] += k3, v[kRatio] += rr;
    v[kLow] += fl ? 1 : 0, v[kHigh] += fh ? 1 : 0, v[kDual] += fd ? 1 : 0, v[kNonzero] += a != 0.0f ? 1 : 0;
  }

  /// GSPO: ∂s_b/∂log π_θ(b, t) = s_b / n_b for every response token, times the row's Σ ∂ℓ/∂s_b.
  __host__ __device__ __forceinline__ float GspoAdd(const RowCtx& c, double g_sum, double n_b) const {
    return static_cast<float>(c.w * g_sum * c.s_b / n_b);
  }

  /// The row's outputs from its token sums.
  __host__ __device__ __forceinline__ void RowOutputs(const RowCtx& c, double n_b, const double (&v)[kTokWidth],
                                                      double* out) const {
    out[kOutPolW] = c.w * v[kPol], out[kOutKlW] = c.w * v[kKl], out[kOutHW] = c.w * v[kH];
    out[kOutLow] = v[kLow], out[kOutHigh] = v[kHigh], out[kOutDual] = v[kDual];
    out[kOutApprox] = v[kApprox], out[kOutRatio] = v[kRatio], out[kOutKl] = v[kKl], out[kOutH] = v[kH];
    out[kOutTis] = v[kTis];
    out[kOutZeroAdv] = (n_b > 0 && v[kNonzero] == 0) ? 1 : 0;
  }
};

/// Host: Clip-Cov's random choice (a partial Fisher–Yates over the candidates in index order on
/// the seeded Philox stream (seed, 0)) or KL-Cov's k largest keys (ties: lower index first), as
/// in the CPU kernel; sets sel and returns how many are selected.
size_t SelectCov(PolicyLossKind kind, size_t n, double N, double cov_ratio, uint64_t seed, const uint8_t* candidate,
                 const double* key, const uint8_t* mask, std::vector<uint8_t>& sel) {
  const size_t k = std::max<size_t>(1, static_cast<size_t>(std::floor(cov_ratio * N)));
  sel.assign(n, 0);
  if (kind == PolicyLossKind::kClipCov) {
    std::vector<size_t> cand;
    for (size_t i = 0; i < n; ++i)
      if (candidate[i]) cand.push_back(i);
    return PickRandomCandidates(cand, k, seed, sel.data());
  }
  return PickLargest(n, k, mask, [key](size_t i) { return key[i]; }, sel.data());
}

/// Host: the 16 statistics from the totals of pass 1 (N, S) and of the main pass.
void FinishStats(const PolicyLossProblem& p, double N, double S, size_t n_sel, const double (&t)[kOutWidth]) {
  double* s = p.stats;
  s[1] = t[kOutPolW];
  s[2] = p.ref_log_prob ? t[kOutKlW] : 0.0;
  s[3] = p.entropy ? t[kOutHW] : 0.0;
  s[0] = s[1] + p.kl_coef * s[2] - p.ent_coef * s[3];
  s[4] = t[kOutLow] / N, s[5] = t[kOutHigh] / N, s[6] = t[kOutDual] / N;
  s[7] = t[kOutApprox] / N, s[8] = t[kOutRatio] / N;
  s[9] = p.ref_log_prob ? t[kOutKl] / N : 0.0;
  s[10] = p.entropy ? t[kOutH] / N : 0.0;
  s[11] = p.rollout_log_prob ? t[kOutTis] / N : 1.0;
  s[12] = static_cast<double>(n_sel) / N;
  s[13] = t[kOutZeroAdv] / S;
  s[14] = N, s[15] = S;
}

/// The op over the problem's scalars and the given (device or host) arrays.
PolicyOp MakeOp(const PolicyLossProblem& p, const float* logp, const float* old_logp, const float* adv,
                const uint8_t* mask, const float* ref, const float* rollout, const float* entropy, float* grad,
                float* grad_entropy) {
  PolicyOp op{};
  op.B = p.B, op.T = p.T;
  op.logp = logp, op.old_logp = old_logp, op.adv = adv, op.seq_adv = p.seq_advantages, op.mask = mask;
  op.ref = ref, op.rollout = rollout, op.entropy = entropy, op.sel = nullptr;
  op.kind = p.kind, op.agg = p.agg, op.kl_kind = p.kl_kind;
  op.lo = static_cast<float>(1.0 - p.clip_low), op.hi = static_cast<float>(1.0 + p.clip_high);
  op.dual = static_cast<float>(p.dual_clip), op.cap = static_cast<float>(p.tis_cap);
  op.kl_cov = static_cast<float>(p.kl_cov_coef);
  op.clip_low = p.clip_low, op.clip_high = p.clip_high, op.cov_lb = p.cov_lb, op.cov_ub = p.cov_ub;
  op.kl_coef = p.kl_coef, op.ent_coef = p.ent_coef, op.norm_const = p.norm_const;
  op.grad = grad, op.grad_entropy = grad_entropy;
  return op;
}

__host__ __device__ __forceinline__ bool IsCov(PolicyLossKind k) { return k == PolicyLossKind::kClipCov || k == PolicyLossKind::kKlCov; }

__global__ void __launch_bounds__(llm::kThreads) RowStatsKernel(PolicyOp op, double* rows) {
  const size_t b = blockIdx.x, T = op.T;
  const bool cov = IsCov(op.kind), gspo = op.kind == PolicyLossKind::kGspo;
  double v[kRowWidth] = {0.0, 0.0, 0.0, 0.0};
  for (size_t t = threadIdx.x; t < T; t += llm::kThreads) op.RowStats(b * T + t, cov, gspo, v);
  llm::BlockSum<kRowWidth>(v);
  if (threadIdx.x == 0) {
    if (cov && op.seq_adv) v[kRowAdv] = static_cast<double>(Ldg(op.adv + b)) * v[kRowTokens];
    for (int k = 0; k < kRowWidth; ++k) rows[b * kRowWidth + k] = v[k];
  }
}

__global__ void CovKeyKernel(PolicyOp op, const double* totals, uint8_t* candidate, double* key) {
  const double N = totals[kRowTokens], mean_a = totals[kRowAdv] / N, mean_lp = totals[kRowLogp] / N;
  const size_t n = op.B * op.T;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t b = i / op.T;
    if (candidate) candidate[i] = op.ClipCovCandidate(b, i, mean_a, mean_lp) ? 1 : 0;
    if (key) key[i] = op.Cov(b, i, mean_a, mean_lp);
  }
}

__global__ void __launch_bounds__(llm::kThreads) MainKernel(PolicyOp op, const double* rows, const double* totals,
                                                            double* out) {
  const size_t b = blockIdx.x, T = op.T;
  const double n_b = rows[b * kRowWidth + kRowTokens];
  const RowCtx c = op.Row(n_b, rows[b * kRowWidth + kRowLogRatio], totals[kRowTokens], totals[kRowWidth]);
  double v[kTokWidth];
  for (int k = 0; k < kTokWidth; ++k) v[k] = 0.0;
  for (size_t t = threadIdx.x; t < T; t += llm::kThreads) op.Token(b, b * T + t, c, v);
  llm::BlockSum<kTokWidth>(v);
  if (c.gspo_grad) {  // each thread adds to the tokens it wrote
    const float add = op.GspoAdd(c, v[kGspoG], n_b);
    for (size_t t = threadIdx.x; t < T; t += llm::kThreads)
      if (op.On(b * T + t)) op.grad[b * T + t] += add;
  }
  if (threadIdx.x == 0) op.RowOutputs(c, n_b, v, out + b * kOutWidth);
}

/// totals[kRowWidth]: S (non-empty rows), after the row sums.
__global__ void NonEmptyRowsKernel(const double* rows, size_t B, double* totals) {
  double v[1] = {0.0};
  for (size_t b = threadIdx.x; b < B; b += llm::kThreads) v[0] += rows[b * kRowWidth + kRowTokens] > 0 ? 1.0 : 0.0;
  llm::BlockSum<1>(v);
  if (threadIdx.x == 0) totals[kRowWidth] = v[0];
}

/// Device buffers for one call (or one benchmark).
struct Work {
  DeviceBuffer rows, totals, out, out_totals, candidate, key, sel;
  Work(size_t B, size_t n, bool cov, PolicyLossKind kind, cudaStream_t s)
      : rows(B * kRowWidth * 8, s),
        totals((kRowWidth + 1) * 8, s),
        out(B * kOutWidth * 8, s),
        out_totals(kOutWidth * 8, s),
        candidate(cov && kind == PolicyLossKind::kClipCov ? n : 0, s),
        key(cov && kind == PolicyLossKind::kKlCov ? n * 8 : 0, s),
        sel(cov ? n : 0, s) {}
};

void LaunchRowStats(const PolicyOp& op, Work& w, cudaStream_t s) {
  RowStatsKernel<<<llm::FixedBlocks(op.B, 1), llm::kThreads, 0, s>>>(op, w.rows.as<double>());
  RLCORE_CUDA_CHECK_LAUNCH("policyLoss row stats");
  llm::SumRows<kRowWidth>(w.rows.as<double>(), op.B, w.totals.as<double>(), s);
  NonEmptyRowsKernel<<<1, llm::kThreads, 0, s>>>(w.rows.as<double>(), op.B, w.totals.as<double>());
  RLCORE_CUDA_CHECK_LAUNCH("policyLoss rows");
}

void LaunchMain(const PolicyOp& op, Work& w, cudaStream_t s) {
  MainKernel<<<llm::FixedBlocks(op.B, 1), llm::kThreads, 0, s>>>(op, w.rows.as<double>(), w.totals.as<double>(),
                                                                   w.out.as<double>());
  RLCORE_CUDA_CHECK_LAUNCH("policyLoss main pass");
  llm::SumRows<kOutWidth>(w.out.as<double>(), op.B, w.out_totals.as<double>(), s);
}

BenchResult PolicyLossBench(size_t T, size_t N, int iters) {
  // N responses of T tokens: PPO with clip-higher, a mask, per-token advantages and a k3 KL term.
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t n = T * N;
  DeviceBuffer lp(n * 4, s), ol(n * 4, s), adv(n * 4, s), mask(n, s), ref(n * 4, s), grad(n * 4, s);
  FillUniform(lp.as<float>(), n, 1, -3.f, 0.f, s);
  FillUniform(ol.as<float>(), n, 2, -3.f, 0.f, s);
  FillUniform(adv.as<float>(), n, 3, -1.f, 1.f, s);
  FillFlags(mask.as<uint8_t>(), n, 4, 0.9f, s);
  FillUniform(ref.as<float>(), n, 5, -3.f, 0.f, s);
  PolicyLossProblem p;
  p.B = N, p.T = T, p.clip_high = 0.28, p.kl_coef = 0.01;
  const PolicyOp op = MakeOp(p, lp.as<float>(), ol.as<float>(), adv.as<float>(), mask.as<uint8_t>(), ref.as<float>(),
                             nullptr, nullptr, grad.as<float>(), nullptr);
  Work w(N, n, false, p.kind, s);
  BenchResult r;
  r.ms = TimeLaunches([&] { LaunchRowStats(op, w, s), LaunchMain(op, w, s); }, iters, s);
  r.elements = static_cast<double>(n);
  r.bytes = static_cast<double>(n) * (4 + 4 + 4 + 1 + 4 + 4) + static_cast<double>(n) * (4 + 4 + 1);  // + pass 1
  r.path = "block per row, two passes";
  return r;
}

}  // namespace

void PolicyLoss(const PolicyLossProblem& p) {
  const size_t B = p.B, T = p.T, n = B * T;
  const bool cov = IsCov(p.kind);
  if (n == 0) {  // no tokens: the CPU kernel's statistics of empty sums
    const double zero[kOutWidth] = {};
    return FinishStats(p, 0.0, 0.0, 0, zero);
  }
  Stream stream;
  const cudaStream_t s = stream.get();
  DeviceBuffer lp = ToDevice(p.log_prob, n, s), ol = ToDevice(p.old_log_prob, n, s),
               adv = ToDevice(p.advantages, p.seq_advantages ? B : n, s), mask = ToDevice(p.mask, n, s),
               ref = ToDevice(p.ref_log_prob, n, s), rollout = ToDevice(p.rollout_log_prob, n, s),
               ent = ToDevice(p.entropy, n, s), grad(n * 4, s), grad_ent(p.grad_entropy ? n * 4 : 0, s);
  PolicyOp op = MakeOp(p, lp.as<float>(), ol.as<float>(), adv.as<float>(), mask.as<uint8_t>(), ref.as<float>(),
                       rollout.as<float>(), ent.as<float>(), grad.as<float>(), grad_ent.as<float>());
  Work w(B, n, cov, p.kind, s);
  LaunchRowStats(op, w, s);
  double tot[kRowWidth + 1];
  ToHost(tot, w.totals, kRowWidth + 1, s);
  size_t n_sel = 0;
  if (cov) {
    CovKeyKernel<<<GridFor(n, llm::kThreads), llm::kThreads, 0, s>>>(op, w.totals.as<double>(), w.candidate.as<uint8_t>(),
                                                                      w.key.as<double>());
    RLCORE_CUDA_CHECK_LAUNCH("policyLoss covariance");
    std::vector<uint8_t> candidate(p.kind == PolicyLossKind::kClipCov ? n : 0), sel;
    std::vector<double> key(p.kind == PolicyLossKind::kKlCov ? n : 0);
    ToHost(candidate.empty() ? nullptr : candidate.data(), w.candidate, n, s);
    ToHost(key.empty() ? nullptr : key.data(), w.key, n, s);
    stream.Sync();
    n_sel = SelectCov(p.kind, n, tot[kRowTokens], p.cov_ratio, p.seed, candidate.data(), key.data(), p.mask, sel);
    RLCORE_CUDA_CHECK(cudaMemcpyAsync(w.sel.as<void>(), sel.data(), n, cudaMemcpyHostToDevice, s));
    op.sel = w.sel.as<uint8_t>();
    LaunchMain(op, w, s);
    stream.Sync();  // sel (host) is copied before it goes out of scope
  } else {
    LaunchMain(op, w, s);
  }
  double t[kOutWidth];
  ToHost(p.grad_log_prob, grad, n, s);
  ToHost(p.grad_entropy, grad_ent, n, s);
  ToHost(t, w.out_totals, kOutWidth, s);
  stream.Sync();
  FinishStats(p, tot[kRowTokens], tot[kRowWidth], n_sel, t);
}

RLCORE_CUDA_BENCH(policy_loss, PolicyLossBench);

}  // namespace rlcore::cuda
