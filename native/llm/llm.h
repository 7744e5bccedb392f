// Kernels for language-model post-training: everything after the logits. Each returns the loss,
// the statistics users log and the gradient with respect to its inputs in one pass. Plain data
// (napi-free). Reductions are float64 over blocks fixed by the shape alone, so results do not
// depend on the thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../core/thread_pool.h"
#include "../dist/fastmath.h"

namespace rlcore {

/// Rows per block for [B, T] token kernels: about 16k tokens, fixed by T alone (deterministic).
inline size_t LlmRowsPerBlock(size_t T) { return T >= 16384 ? 1 : 16384 / T; }

/// fn(k) for every block k in [0, blocks), on the pool when `parallel`, claimed one at a time
/// (ParallelClaim). Each block writes its own outputs and partial sums, so results do not depend
/// on which thread ran it.
template <class F>
void ForEachBlockDynamic(size_t blocks, bool parallel, const F& fn) {
  ParallelClaim(parallel ? static_cast<size_t>(NumThreads()) : 1, blocks, [&](size_t, size_t k) { fn(k); });
}

/// SumF64 of three arrays in one pass (same lane order per array as SumF64, so the same
/// results): three independent accumulator chains instead of three passes that each wait on
/// the latency of their one chain. Not inlined: inlined into the policy-loss pass, GCC pairs
/// lanes of different arrays into 128-bit scalar-load code (a third of that pass's time).
__attribute__((noinline)) inline void Sum3F64(const float* x, const float* y, const float* z, size_t n, double* sx, double* sy, double* sz) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0}, c[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t l = 0; l < 8; ++l) a[l] += static_cast<double>(x[i + l]);
    for (size_t l = 0; l < 8; ++l) b[l] += static_cast<double>(y[i + l]);
    for (size_t l = 0; l < 8; ++l) c[l] += static_cast<double>(z[i + l]);
  }
  double s0 = 0.0, s1 = 0.0, s2 = 0.0;
  for (; i < n; ++i) s0 += static_cast<double>(x[i]), s1 += static_cast<double>(y[i]), s2 += static_cast<double>(z[i]);
  for (size_t l = 0; l < 8; ++l) s0 += a[l], s1 += b[l], s2 += c[l];
  *sx = s0, *sy = s1, *sz = s2;
}

struct TokenLogProbsProblem {
  size_t M = 0, V = 0;
  const float* logits = nullptr;    // [M, V]
  const int32_t* targets = nullptr;  // [M] in [0, V)
  double inv_temp = 1.0;             // 1 / temperature
  // Forward outputs (any may be null).
  float* log_prob = nullptr;  // [M] log softmax(z)[target], z = logits / temperature
  float* entropy = nullptr;   // [M] −Σ p log p
  float* lse = nullptr;       // [M] log Σ exp z
  // Backward (grad_logits non-null): dL/dlogits from dL/dlog_prob and dL/dentropy.
  const float* grad_log_prob = nullptr;  // [M] or null (0)
  const float* grad_entropy = nullptr;   // [M] or null (0)
  float* grad_logits = nullptr;          // [M, V]
  const float* saved_lse = nullptr;      // [M] the forward's lse (then the row is read once), or null
  const float* saved_entropy = nullptr;  // [M] the forward's entropy (needed with saved_lse and grad_entropy)
};
/// Forward (log_prob / entropy / lse) and, when grad_logits is set, the backward pass.
void TokenLogProbsCpu(const TokenLogProbsProblem& p);

namespace cuda {
/// The same on the current CUDA device (cuda/token_logprobs.cu; defined in CUDA builds only):
/// host pointers in and out, like the other entry points of cuda/backend.h.
void TokenLogProbs(const TokenLogProbsProblem& p);
}  // namespace cuda

enum class PolicyLossKind : int { kPpo = 0, kCispo = 1, kGspo = 2, kClipCov = 3, kKlCov = 4 };
enum class LossAgg : int { kTokenMean = 0, kSeqMeanTokenMean = 1, kSeqMeanTokenSum = 2, kTokenSumNorm = 3 };
enum class KlEstimator : int { kK1 = 0, kK2 = 1, kK3 = 2 };

/// Per-token KL estimate of KL(π_θ ‖ π_ref) from d = clamp(ref − logp, −20, 20), and its
/// derivative with respect to logp: k1 = −d; k2 = ½ d²; k3 = e^d − d − 1 clamped to [0, 10]
/// (Schulman 2020, "Approximating KL Divergence"; k3 as in GRPO, Shao et al. 2024). Float32 and
/// branch-free so that loops over tokens vectorise; k3 uses its Taylor series for |d| < ¼ (no
/// cancellation in e^d − 1 − d), so it is never negative and accurate near π = π_ref.
inline float K3FromExp(float d, float e) {  // e = e^d
  const float series =
      d * d * (0.5f + d * (1.0f / 6 + d * (1.0f / 24 + d * (1.0f / 120 + d * (1.0f / 720 + d * (1.0f / 5040))))));
  const float direct = e - 1.0f - d;
  const float k = (d < 0.25f && d > -0.25f) ? series : direct;
  return k > 0.0f ? k : 0.0f;
}
inline float K3Series(float d) { return K3FromExp(d, ExpF(d)); }

/// e^x (ExpF's range reduction and polynomial) and, in *k3, e^x − 1 − x without cancellation: when
/// the reduction leaves n = 0 (|x| < ½ ln 2) then r = x exactly and e^x − 1 − x = r² P(r), the
/// polynomial part itself; otherwise e^x − 1 − x ≥ 0.06 and the direct difference is accurate.
/// Cheaper than K3FromExp's separate series where both values are needed (vectorises).
inline float ExpK3F(float x, float* k3) {
  const ExpPieces p = ExpSplitF(x);
  const float q = p.p * p.r * p.r;
  const float e = (q + p.r + 1.0f) * p.scale;
  *k3 = p.n == 0.0f ? q : e - 1.0f - x;
  return e;
}

/// ExpK3F(x) from xc = ClampExpArgF(x) (x itself enters e^x − 1 − x): the same results.
inline float ExpK3InRangeF(float xc, float x, float* k3) {
  const ExpPieces p = ExpSplitInRangeF(xc);
  const float q = p.p * p.r * p.r;
  const float e = (q + p.r + 1.0f) * p.scale;
  *k3 = p.n == 0.0f ? q : e - 1.0f - x;
  return e;
}
inline void KlTermF(KlEstimator kind, float logp, float ref, float* value, float* grad) {
  const float raw = ref - logp;
  const float inside = (raw > -20.0f && raw < 20.0f) ? 1.0f : 0.0f;  // beyond the clamp d is constant
  const float d = raw < -20.0f ? -20.0f : (raw > 20.0f ? 20.0f : raw);
  if (kind == KlEstimator::kK1) {
    *value = -d, *grad = inside;
  } else if (kind == KlEstimator::kK2) {
    *value = 0.5f * d * d, *grad = -d * inside;
  } else {
    const float k3 = K3Series(d);
    const float capped = k3 > 10.0f ? 1.0f : 0.0f;
    *value = k3 > 10.0f ? 10.0f : k3;
    *grad = -(d + k3) * inside * (1.0f - capped);  // −(e^d − 1)
  }
}

/// KlTermF for n tokens with a fixed estimator: value[j], grad[j] from logp[j], ref[j], in loops
/// that vectorise. k3 takes e^d − 1 − d from ExpK3F (its exact-reduction polynomial for
/// |d| < ½ ln 2 instead of KlTermF's Taylor series for |d| < ¼): equal within float32 rounding.
template <KlEstimator K>
inline void KlTermsF(const float* logp, const float* ref, size_t n, float* value, float* grad) {
  if (K == KlEstimator::kK3) {
    // Two passes over the L1-resident chunk: the clamp (into grad), then ExpK3InRangeF and the
    // caps; one fused loop with both sets of selects compiles to masked, specialised code. The
    // clamp's own gradient flag is not needed: |raw| ≥ 20 gives k3 ≥ 19 > 10, capped, gradient 0.
    for (size_t j = 0; j < n; ++j) {
      const float raw = ref[j] - logp[j];
      grad[j] = raw < -20.0f ? -20.0f : (raw > 20.0f ? 20.0f : raw);  // NaN stays NaN
    }
    for (size_t j = 0; j < n; ++j) {
      const float d = grad[j];
      float k3;
      ExpK3InRangeF(d, d, &k3);  // |d| ≤ 20: in range
      k3 = k3 > 0.0f ? k3 : 0.0f;
      const bool capped = k3 > 10.0f;
      value[j] = capped ? 10.0f : k3;
      grad[j] = capped ? 0.0f : -(d + k3);  // −(e^d − 1)
    }
    return;
  }
  for (size_t j = 0; j < n; ++j) grad[j] = ref[j] - logp[j];
  for (size_t j = 0; j < n; ++j) {
    const float raw = grad[j];
    const float inside = (raw > -20.0f && raw < 20.0f) ? 1.0f : 0.0f;
    const float d = raw < -20.0f ? -20.0f : (raw > 20.0f ? 20.0f : raw);
    if (K == KlEstimator::kK1) {
      value[j] = -d, grad[j] = inside;
    } else if (K == KlEstimator::kK2) {
      value[j] = 0.5f * d * d, grad[j] = -d * inside;
    } else {
      const float k3 = K3FromExp(d, value[j]);
      const float keep = k3 > 10.0f ? 0.0f : 1.0f;
      value[j] = k3 > 10.0f ? 10.0f : k3;
      grad[j] = -(d + k3) * inside * keep;
    }
  }
}

struct PolicyLossProblem {
  size_t B = 0, T = 0;
  const float* log_prob = nullptr;      // [B, T] log π_θ
  const float* old_log_prob = nullptr;  // [B, T] log π_old (the trainer's recomputation)
  const float* advantages = nullptr;    // [B, T] or [B]
  bool seq_advantages = false;          // advantages are [B]
  const uint8_t* mask = nullptr;        // [B, T] nonzero = response token; null = all
  const float* ref_log_prob = nullptr;  // [B, T] or null: no KL term
  const float* rollout_log_prob = nullptr;  // [B, T] or null: no truncated IS
  const float* entropy = nullptr;       // [B, T] or null
  PolicyLossKind kind = PolicyLossKind::kPpo;
  LossAgg agg = LossAgg::kTokenMean;
  KlEstimator kl_kind = KlEstimator::kK3;
  double clip_low = 0.2, clip_high = 0.2, dual_clip = 0.0, tis_cap = 2.0;
  double kl_coef = 0.0, ent_coef = 0.0, norm_const = 1.0;
  double cov_ratio = 2e-4, cov_lb = 1.0, cov_ub = 5.0, kl_cov_coef = 1.0;
  uint64_t seed = 0;
  float* grad_log_prob = nullptr;  // [B, T] out dL/dlogp (0 on masked tokens)
  float* grad_entropy = nullptr;   // [B, T] out dL/dH, or null
  double* stats = nullptr;         // [kPolicyStats] out
};
constexpr size_t kPolicyStats = 16;
void PolicyLossCpu(const PolicyLossProblem& p);

enum class PreferenceKind : int { kDpo = 0, kIpo = 1, kBradleyTerry = 2 };
struct PreferenceLossProblem {
  size_t P = 0;
  PreferenceKind kind = PreferenceKind::kDpo;
  const float* chosen = nullptr;        // [P] sequence log-prob (DPO/IPO) or reward (BT)
  const float* rejected = nullptr;      // [P]
  const float* ref_chosen = nullptr;    // [P] (DPO/IPO) or null (zeros)
  const float* ref_rejected = nullptr;  // [P]
  double beta = 0.1, label_smoothing = 0.0, margin = 0.0;
  float* grad_chosen = nullptr;    // [P]
  float* grad_rejected = nullptr;  // [P]
  double* stats = nullptr;         // [5] loss, accuracy, chosenReward, rejectedReward, margin
};
void PreferenceLossCpu(const PreferenceLossProblem& p);

struct CplLossProblem {
  size_t P = 0, L = 0;
  const float* chosen = nullptr;    // [P, L] action log-probs along the preferred segment
  const float* rejected = nullptr;  // [P, L]
  double alpha = 0.1, gamma = 1.0, lambda = 0.5;
  float* grad_chosen = nullptr;    // [P, L]
  float* grad_rejected = nullptr;  // [P, L]
  double* stats = nullptr;         // [3] loss, accuracy, margin
};
void CplLossCpu(const CplLossProblem& p);

}  // namespace rlcore
