// Checks the CUDA kernel functors (cuda/*.cu, run on the host through cuda/test/*_host.cu) against
// the CPU kernels (native/kernels/*.cc) on random problems: every shape edge case, flags none /
// all / some, scalar / [T] / [T, N] step parameters, optional inputs present and absent. Needs
// nvcc but no GPU; the device-level scan itself is exercised by scripts/device-parity.mjs.
// Build and run: scripts/cuda-host-check.sh
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../native/kernels/discounted_returns.h"
#include "../../native/kernels/gae.h"
#include "../../native/kernels/lambda_returns.h"
#include "../../native/kernels/nstep_returns.h"
#include "../../native/kernels/token_gae.h"
#include "../../native/kernels/vtrace.h"
#include "../../native/llm/llm.h"
#include "../../native/replay/replay_buffer.h"

namespace rlcore::cuda {
void GaeOnHost(const GaeProblem& p);
void LambdaReturnsOnHost(const LambdaReturnsProblem& p);
void DiscountedReturnsOnHost(const DiscountedReturnsProblem& p);
void NstepReturnsOnHost(const NstepReturnsProblem& p);
void VtraceOnHost(const VtraceProblem& p);
void TokenGaeOnHost(const TokenGaeProblem& p);
void PolicyLossOnHost(const PolicyLossProblem& p);
void TokenKlOnHost(size_t M, const float* logp, const float* ref, const uint8_t* mask, KlEstimator kind, float* kl,
                   float* grad, double* stats);
void PreferenceLossOnHost(const PreferenceLossProblem& p);
void CplLossOnHost(const CplLossProblem& p);
}  // namespace rlcore::cuda

namespace {

using namespace rlcore;

std::mt19937 gen(42);
float Uniform(float lo = -1.f, float hi = 1.f) { return std::uniform_real_distribution<float>(lo, hi)(gen); }
std::vector<float> Floats(size_t n, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  for (float& x : v) x = Uniform(lo, hi);
  return v;
}
std::vector<uint8_t> Flags(size_t n, double p) {
  std::vector<uint8_t> v(n);
  for (uint8_t& x : v) x = Uniform(0.f, 1.f) < p ? 1 : 0;
  return v;
}

int failures = 0, comparisons = 0;
void Compare(const char* kernel, const char* output, size_t T, size_t N, const std::vector<float>& got,
             const std::vector<float>& want) {
  ++comparisons;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    if (!(std::fabs(got[i] - want[i]) <= 1e-5f + 1e-5f * std::fabs(want[i]))) {
      std::printf("FAIL %s %s T=%zu N=%zu: [%zu] cuda functor %.9g, cpu %.9g\n", kernel, output, T, N, i, got[i], want[i]);
      ++failures;
      return;
    }
  }
}

// kind 0: scalar, 1: [T], 2: [T, N].
struct Param {
  StepParam p;
  std::vector<float> values;
};
Param MakeParam(int kind, size_t T, size_t N, float scalar) {
  Param s;
  if (kind == 0) {
    s.p.scalar = scalar;
    return s;
  }
  s.values = Floats(kind == 1 ? T : T * N, 0.f, 1.f);
  s.p.values = s.values.data();
  s.p.length = s.values.size();
  s.p.stride_t = kind == 1 ? 1 : N;
  s.p.stride_n = kind == 1 ? 0 : 1;
  return s;
}

void CheckTokenGae(size_t T, size_t N, double p_flag, bool with_rewards) {
  for (int layout = 0; layout < 3; ++layout) {  // padded, padded + mask, packed
    TokenGaeProblem p;
    std::vector<int32_t> lengths(N);
    size_t total = T * N;
    if (layout == 2) {
      total = 0;
      for (int32_t& len : lengths) total += len = static_cast<int32_t>(Uniform(0.f, 1.f) * (T + 1));
      p.lengths = lengths.data();
    } else {
      p.L = T;
    }
    p.B = N;
    p.total = total;
    const auto mask = Flags(total, 1 - p_flag / 2);
    const auto terminal = Floats(N), rewards = Floats(total), values = Floats(total);
    if (layout == 1) p.mask = mask.data();
    p.rewards = with_rewards ? rewards.data() : nullptr;
    p.terminal_rewards = terminal.data();
    p.values = values.data();
    p.gamma = 0.99f;
    p.lambda = 0.9f;
    std::vector<float> a_cpu(total), g_cpu(total), a_cuda(total), g_cuda(total);
    p.advantages = a_cpu.data();
    p.returns = g_cpu.data();
    TokenGaeCpu(p);
    p.advantages = a_cuda.data();
    p.returns = g_cuda.data();
    cuda::TokenGaeOnHost(p);
    const char* name = layout == 0 ? "tokenGae padded" : layout == 1 ? "tokenGae masked" : "tokenGae packed";
    Compare(name, "advantages", T, N, a_cuda, a_cpu);
    Compare(name, "returns", T, N, g_cuda, g_cpu);
  }
}


// Statistics (float64): equal up to the order of float64 sums (tol 1e-9), or up to float32
// rounding of per-token terms where CPU and functor group the terms differently.
void CompareStats(const char* kernel, size_t T, size_t N, const double* got, const double* want, size_t count,
                  double tol = 1e-9) {
  ++comparisons;
  for (size_t i = 0; i < count; ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    if (!(std::fabs(got[i] - want[i]) <= tol + tol * std::fabs(want[i]))) {
      std::printf("FAIL %s stats T=%zu N=%zu: [%zu] cuda functor %.17g, cpu %.17g\n", kernel, T, N, i, got[i], want[i]);
      ++failures;
      return;
    }
  }
}

// The LLM losses: every kind, aggregation and KL estimator, optional inputs present and absent,
// masks none / some, per-token and per-sequence advantages.
void CheckLlm() {
  const size_t shapes[][2] = {{1, 1}, {1, 7}, {3, 5}, {4, 300}, {17, 33}, {2, 2000}, {64, 64}};
  int round = 0;
  for (const auto& shape : shapes) {
    const size_t B = shape[0], T = shape[1], n = B * T;
    for (int kind = 0; kind < 5; ++kind) {
      for (int variant = 0; variant < 8; ++variant, ++round) {
        const auto lp = Floats(n, -3.f, 0.f), old = Floats(n, -3.f, 0.f), ref = Floats(n, -3.f, 0.f);
        const auto roll = Floats(n, -3.f, 0.f), ent = Floats(n, 0.f, 2.f);
        auto adv = Floats((variant & 1) ? B : n);
        for (size_t i = 0; i < adv.size(); i += 5) adv[i] = 0.f;  // some zero advantages
        auto mask = Flags(n, 0.8);
        mask[0] = 1;
        PolicyLossProblem p;
        p.B = B, p.T = T, p.log_prob = lp.data(), p.old_log_prob = old.data(), p.advantages = adv.data();
        p.seq_advantages = adv.size() != n;
        p.mask = (variant & 2) ? mask.data() : nullptr;
        p.ref_log_prob = (variant & 4) ? ref.data() : nullptr;
        p.rollout_log_prob = (variant & 2) ? roll.data() : nullptr;
        p.entropy = (variant & 4) ? nullptr : ent.data();
        p.kind = static_cast<PolicyLossKind>(kind);
        p.agg = static_cast<LossAgg>(round % 4);
        p.kl_kind = static_cast<KlEstimator>(round % 3);
        p.clip_low = 0.2, p.clip_high = (variant & 1) ? 0.28 : 0.2, p.dual_clip = (variant & 2) ? 3.0 : 0.0;
        p.tis_cap = 1.5, p.kl_coef = 0.05, p.ent_coef = 0.01, p.norm_const = 37.0;
        p.cov_ratio = 0.05, p.cov_lb = 0.05, p.cov_ub = 2.0, p.kl_cov_coef = 0.7, p.seed = 11 + round;
        std::vector<float> g1(n), g2(n), h1(n), h2(n);
        double s1[kPolicyStats], s2[kPolicyStats];
        p.grad_entropy = p.entropy ? h1.data() : nullptr, p.grad_log_prob = g1.data(), p.stats = s1;
        PolicyLossCpu(p);
        p.grad_entropy = p.entropy ? h2.data() : nullptr, p.grad_log_prob = g2.data(), p.stats = s2;
        cuda::PolicyLossOnHost(p);
        Compare("policyLoss", "gradLogProb", T, B, g2, g1);
        Compare("policyLoss", "gradEntropy", T, B, h2, h1);
        // GSPO's loss: the CPU sums A·w per row and sign of A (one pass), the functor per token.
        CompareStats("policyLoss", T, B, s2, s1, kPolicyStats, p.kind == PolicyLossKind::kGspo ? 1e-6 : 1e-9);
      }
    }
    for (int kind = 0; kind < 3; ++kind) {  // tokenKl over all B·T tokens, with |d| beyond the clamp too
      const auto lp = Floats(n, -30.f, 0.f), ref = Floats(n, -30.f, 0.f);
      const auto mask = Flags(n, 0.7);
      for (int masked = 0; masked < 2; ++masked) {
        std::vector<float> v1(n), g1(n), v2(n), g2(n);
        double s1[2], s2[2];
        const uint8_t* m = masked ? mask.data() : nullptr;
        switch (static_cast<KlEstimator>(kind)) {  // the CPU kernel's per-token terms (kl.cc), masked
          case KlEstimator::kK1: KlTermsF<KlEstimator::kK1>(lp.data(), ref.data(), n, v1.data(), g1.data()); break;
          case KlEstimator::kK2: KlTermsF<KlEstimator::kK2>(lp.data(), ref.data(), n, v1.data(), g1.data()); break;
          case KlEstimator::kK3: KlTermsF<KlEstimator::kK3>(lp.data(), ref.data(), n, v1.data(), g1.data()); break;
        }
        double sum = 0.0, count = 0.0;
        for (size_t i = 0; i < n; ++i) {
          if (m && !m[i]) v1[i] = 0.f, g1[i] = 0.f;
          sum += v1[i], count += (!m || m[i]) ? 1 : 0;
        }
        s1[0] = count > 0 ? sum / count : 0.0, s1[1] = count;
        cuda::TokenKlOnHost(n, lp.data(), ref.data(), m, static_cast<KlEstimator>(kind), v2.data(), g2.data(), s2);
        Compare("tokenKl", "kl", T, B, v2, v1);
        Compare("tokenKl", "grad", T, B, g2, g1);
        CompareStats("tokenKl", T, B, s2, s1, 2);
      }
    }
    for (int kind = 0; kind < 3; ++kind) {  // preferenceLoss over n pairs
      const auto c = Floats(n, -50.f, 0.f), r = Floats(n, -50.f, 0.f), rc = Floats(n, -50.f, 0.f), rr = Floats(n, -50.f, 0.f);
      PreferenceLossProblem p;
      p.P = n, p.kind = static_cast<PreferenceKind>(kind), p.chosen = c.data(), p.rejected = r.data();
      p.ref_chosen = kind == 2 ? nullptr : rc.data(), p.ref_rejected = kind == 2 ? nullptr : rr.data();
      p.beta = 0.1, p.label_smoothing = kind == 0 ? 0.1 : 0.0, p.margin = kind == 2 ? 0.5 : 0.0;
      std::vector<float> gc1(n), gr1(n), gc2(n), gr2(n);
      double s1[5], s2[5];
      p.grad_chosen = gc1.data(), p.grad_rejected = gr1.data(), p.stats = s1;
      PreferenceLossCpu(p);
      p.grad_chosen = gc2.data(), p.grad_rejected = gr2.data(), p.stats = s2;
      cuda::PreferenceLossOnHost(p);
      Compare("preferenceLoss", "gradChosen", T, B, gc2, gc1);
      Compare("preferenceLoss", "gradRejected", T, B, gr2, gr1);
      CompareStats("preferenceLoss", T, B, s2, s1, 5);
    }
    {  // cplLoss: B pairs of segments of T steps
      const auto c = Floats(n, -3.f, 0.f), r = Floats(n, -3.f, 0.f);
      CplLossProblem p;
      p.P = B, p.L = T, p.chosen = c.data(), p.rejected = r.data(), p.alpha = 0.1, p.gamma = 0.99, p.lambda = 0.5;
      std::vector<float> gc1(n), gr1(n), gc2(n), gr2(n);
      double s1[3], s2[3];
      p.grad_chosen = gc1.data(), p.grad_rejected = gr1.data(), p.stats = s1;
      CplLossCpu(p);
      p.grad_chosen = gc2.data(), p.grad_rejected = gr2.data(), p.stats = s2;
      cuda::CplLossOnHost(p);
      Compare("cplLoss", "gradChosen", T, B, gc2, gc1);
      Compare("cplLoss", "gradRejected", T, B, gr2, gr1);
      CompareStats("cplLoss", T, B, s2, s1, 3);
    }
  }
}

// The device replay buffer (replay_host.cu runs its store on the host) against the CPU buffer:
// same inserts (parts larger than the capacity, env ids, final observations, extra fields), then
// after each step the serialized buffers (rows, links, leaves, episodes, cursor) are equal byte
// for byte, and uniform and prioritized draws (rows and weights), gathers (with -1 rows),
// priority updates (with duplicates), tree roots and episode draws are equal bit for bit.
void ReplayFail(const std::string& what) {
  std::printf("FAIL replay %s\n", what.c_str());
  ++failures;
}
template <class T>
void ReplayEqual(const std::string& what, const T* got, const T* want, size_t n) {
  ++comparisons;
  if (n > 0 && std::memcmp(got, want, n * sizeof(T)) != 0) ReplayFail(what);
}

void CheckReplay() {
  using replay::DType;
  using replay::Field;
  using replay::ReplayBuffer;
  const size_t capacities[] = {1, 7, 64, 65, 513, 3000};
  int round = 0;
  for (size_t capacity : capacities) {
    for (int variant = 0; variant < 4; ++variant, ++round) {
      const bool prioritized = variant & 1, extras = variant & 2;
      const size_t obs = 1 + static_cast<size_t>(round % 3) * 8, num_envs = 1 + static_cast<size_t>(round % 4);
      std::vector<Field> fields = {{"obs", DType::kF32, obs},       {"act", round % 2 ? DType::kI32 : DType::kF32, 2},
                                   {"rew", DType::kF32, 1},         {"next", DType::kF32, obs},
                                   {"term", DType::kU8, 1},         {"trunc", DType::kU8, 1}};
      if (extras) {
        fields.push_back({"logp", DType::kF32, 1});
        fields.push_back({"ids", DType::kU8, 5});
        fields.push_back({"opt", DType::kI32, 3});
      }
      const std::string tag = "capacity " + std::to_string(capacity) + " variant " + std::to_string(variant);
      ReplayBuffer cpu(capacity, fields, num_envs, prioritized, 0.6, 1e-6, 7 + round);
      ReplayBuffer dev(capacity, fields, num_envs, prioritized, 0.6, 1e-6, 7 + round, true);
      auto same_bytes = [&](const std::string& when) {
        const auto a = dev.Serialize(), b = cpu.Serialize();
        ++comparisons;
        if (a != b) ReplayFail(tag + ": serialized buffers differ " + when);
        if (dev.PrioritySum() != cpu.PrioritySum() || dev.PriorityMin() != cpu.PriorityMin()) {
          ReplayFail(tag + ": priority roots differ " + when);
        }
      };
      for (int step = 0; step < 12; ++step) {
        // Insert: default env ids (rows <= numEnvs) or random ones, sometimes more rows than the capacity.
        const bool ids = step % 3 != 0;
        const size_t rows = ids ? 1 + static_cast<size_t>(Uniform(0.f, 1.f) * (step == 5 ? 2.5f * capacity + 3 : 40.f))
                                : num_envs;
        std::vector<std::vector<uint8_t>> data(fields.size());
        replay::InsertBatch batch;
        batch.rows = rows;
        for (size_t f = 0; f < fields.size(); ++f) {
          data[f].resize(rows * fields[f].RowBytes());
          if (fields[f].dtype == DType::kU8) {
            for (auto& x : data[f]) x = f >= replay::kFixedFields ? static_cast<uint8_t>(Uniform(0.f, 255.f)) : Uniform(0.f, 1.f) < 0.15f;
          } else {
            std::vector<float> v = Floats(rows * fields[f].width);
            std::memcpy(data[f].data(), v.data(), v.size() * 4);
          }
          batch.fields.push_back(data[f].data());
        }
        std::vector<float> fin = Floats(rows * obs);
        std::vector<int32_t> env(rows);
        for (auto& e : env) e = static_cast<int32_t>(Uniform(0.f, 1.f) * num_envs) % static_cast<int32_t>(num_envs);
        if (step % 2) batch.final_obs = reinterpret_cast<const uint8_t*>(fin.data());
        if (ids) batch.env_ids = env.data();
        cpu.Add(batch);
        dev.Add(batch);
        same_bytes("after insert " + std::to_string(step));
        // Sample + gather, uniform and (when prioritized) proportional.
        for (int uniform = 0; uniform < 2; ++uniform) {
          const size_t B = step % 4 == 0 ? 1 : 1 + static_cast<size_t>(Uniform(0.f, 300.f));
          std::vector<int32_t> r1(B), r2(B);
          std::vector<float> w1(B), w2(B);
          cpu.Sample(B, uniform, 0.4 + 0.05 * step, r1.data(), w1.data());
          dev.Sample(B, uniform, 0.4 + 0.05 * step, r2.data(), w2.data());
          ReplayEqual(tag + ": sampled rows", r2.data(), r1.data(), B);
          ReplayEqual(tag + ": importance weights", w2.data(), w1.data(), B);
          if (B > 2) r1[B / 2] = -1;
          std::vector<std::vector<uint8_t>> o1(fields.size()), o2(fields.size());
          std::vector<uint8_t*> p1, p2;
          for (size_t f = 0; f < fields.size(); ++f) {
            const bool want = (f + static_cast<size_t>(step)) % 5 != 0;  // some fields not asked for
            o1[f].assign(B * fields[f].RowBytes(), 0xAB);
            o2[f].assign(B * fields[f].RowBytes(), 0xAB);
            p1.push_back(want ? o1[f].data() : nullptr);
            p2.push_back(want ? o2[f].data() : nullptr);
          }
          std::vector<float> d1(B), d2(B);
          cpu.Gather(r1.data(), B, p1, 1, 0.97, d1.data());
          dev.Gather(r1.data(), B, p2, 1, 0.97, d2.data());
          for (size_t f = 0; f < fields.size(); ++f) ReplayEqual(tag + ": gathered " + fields[f].name, o2[f].data(), o1[f].data(), o1[f].size());
          ReplayEqual(tag + ": discounts", d2.data(), d1.data(), B);
          if (!prioritized) break;
        }
        if (prioritized) {
          // Updates with duplicate rows (the last one wins) and zeros, then the trees and leaves.
          const size_t B = 1 + static_cast<size_t>(Uniform(0.f, 200.f));
          std::vector<int32_t> r(B);
          std::vector<float> p = Floats(B, 0.f, 5.f);
          for (auto& x : r) x = static_cast<int32_t>(Uniform(0.f, 1.f) * cpu.Size()) % static_cast<int32_t>(cpu.Size());
          if (B > 3) r[B - 1] = r[0], p[1] = 0.f;
          cpu.UpdatePriorities(r.data(), p.data(), B);
          dev.UpdatePriorities(r.data(), p.data(), B);
          same_bytes("after update " + std::to_string(step));
          std::vector<double> l1(B), l2(B);
          cpu.Priorities(r.data(), B, l1.data());
          dev.Priorities(r.data(), B, l2.data());
          ReplayEqual(tag + ": leaves", l2.data(), l1.data(), B);
        }
        if (cpu.NumEpisodes() > 0) {
          std::vector<int32_t> s1(9), s2(9), n1(9), n2(9);
          std::vector<float> g1(9), g2(9);
          cpu.SampleEpisodes(9, 0.5, s1.data(), n1.data(), g1.data());
          dev.SampleEpisodes(9, 0.5, s2.data(), n2.data(), g2.data());
          ReplayEqual(tag + ": episode starts", s2.data(), s1.data(), 9);
        }
      }
      // Load the CPU buffer's bytes onto the device: the same buffer, drawing the same rows.
      const auto bytes = cpu.Serialize();
      std::unique_ptr<ReplayBuffer> loaded(ReplayBuffer::Deserialize(bytes.data(), bytes.size(), true));
      ++comparisons;
      if (loaded->Serialize() != bytes) ReplayFail(tag + ": a loaded device buffer serializes differently");
      std::vector<int32_t> r1(64), r2(64);
      std::vector<float> w1(64), w2(64);
      cpu.Sample(64, false, 0.7, r1.data(), w1.data());
      loaded->Sample(64, false, 0.7, r2.data(), w2.data());
      ReplayEqual(tag + ": rows after load", r2.data(), r1.data(), 64);
      ReplayEqual(tag + ": weights after load", w2.data(), w1.data(), 64);
      try {  // CPU-only calls refuse, changing nothing
        std::vector<int32_t> rows(4);
        std::vector<uint8_t> mask(4);
        dev.SampleSequences(2, 2, true, rows.data(), mask.data());
        ReplayFail(tag + ": sequences on the device did not throw");
      } catch (const replay::ReplayError& e) {
        if (std::string(e.code) != "ERR_DEVICE") ReplayFail(tag + ": sequences on the device: " + e.code);
      }
    }
  }
}

}  // namespace

int main() {
  const size_t shapes[][2] = {{1, 1}, {1, 5}, {6, 1}, {7, 3}, {50, 9}, {300, 70}, {2000, 2}};
  int seed = 0;
  for (const auto& shape : shapes) {
    for (double p_flag : {0.0, 1.0, 0.1}) {
      for (int kind = 0; kind < 3; ++kind) {
        for (int given = 0; given < 4; ++given) {  // bit 0: nextValues, bit 1: terminated + lastValues
          const size_t T = shape[0], N = shape[1], TN = T * N;
          ++seed;
          const auto r = Floats(TN), v = Floats(TN), fin = Floats(TN), next = Floats(TN), last = Floats(N);
          const auto log_rhos = Floats(TN, -2.f, 2.f);
          const auto term = Flags(TN, p_flag), trunc = Flags(TN, p_flag / 2);
          const Param gamma = MakeParam(kind, T, N, 0.97f), lambda = MakeParam(kind, T, N, 0.9f);
          const uint8_t* term_p = (given & 2) ? term.data() : nullptr;
          const float* next_p = (given & 1) ? next.data() : nullptr;
          const float* last_p = (given & 2) ? last.data() : nullptr;
          {
            std::vector<float> a1(TN), g1(TN), a2(TN), g2(TN);
            GaeProblem p;
            p.T = T, p.N = N, p.rewards = r.data(), p.values = v.data(), p.terminated = term_p;
            p.truncated = trunc.data(), p.next_values = next_p, p.last_values = last_p, p.final_values = fin.data();
            p.gamma = gamma.p, p.lambda = lambda.p, p.advantages = a1.data(), p.returns = g1.data();
            GaeCpu(p);
            p.advantages = a2.data(), p.returns = g2.data();
            cuda::GaeOnHost(p);
            Compare("gae", "advantages", T, N, a2, a1);
            Compare("gae", "returns", T, N, g2, g1);
          }
          {
            std::vector<float> g1(TN), g2(TN);
            LambdaReturnsProblem p;
            p.T = T, p.N = N, p.rewards = r.data(), p.values = v.data(), p.terminated = term_p;
            p.truncated = trunc.data(), p.next_values = next_p, p.last_values = last_p, p.final_values = fin.data();
            p.gamma = gamma.p, p.lambda = lambda.p, p.returns = g1.data();
            LambdaReturnsCpu(p);
            p.returns = g2.data();
            cuda::LambdaReturnsOnHost(p);
            Compare("lambdaReturns", "returns", T, N, g2, g1);
          }
          {
            std::vector<float> g1(TN), g2(TN);
            DiscountedReturnsProblem p;
            p.T = T, p.N = N, p.rewards = r.data(), p.terminated = term_p, p.truncated = trunc.data();
            p.last_values = last_p, p.final_values = next_p ? fin.data() : nullptr, p.gamma = gamma.p;
            p.returns = g1.data();
            DiscountedReturnsCpu(p);
            p.returns = g2.data();
            cuda::DiscountedReturnsOnHost(p);
            Compare("discountedReturns", "returns", T, N, g2, g1);
          }
          {
            std::vector<float> g1(TN), g2(TN);
            NstepReturnsProblem p;
            p.T = T, p.N = N, p.n = 1 + seed % 6, p.rewards = r.data(), p.values = v.data(), p.terminated = term_p;
            p.truncated = trunc.data(), p.next_values = next_p, p.last_values = last_p, p.final_values = fin.data();
            p.gamma = gamma.p, p.returns = g1.data();
            NstepReturnsCpu(p);
            p.returns = g2.data();
            cuda::NstepReturnsOnHost(p);
            Compare("nstepReturns", "returns", T, N, g2, g1);
          }
          {
            std::vector<float> vs1(TN), pg1(TN), vs2(TN), pg2(TN);
            VtraceProblem p;
            p.T = T, p.N = N, p.rewards = r.data(), p.values = v.data(), p.terminated = term_p;
            p.truncated = trunc.data(), p.next_values = next_p, p.last_values = last_p, p.final_values = fin.data();
            p.log_rhos = log_rhos.data(), p.gamma = gamma.p, p.lambda = lambda.p;
            p.clip_rho = 1.f, p.clip_c = 0.9f, p.clip_pg_rho = 1.2f;
            p.vs = vs1.data(), p.pg_advantages = pg1.data();
            VtraceCpu(p);
            p.vs = vs2.data(), p.pg_advantages = pg2.data();
            cuda::VtraceOnHost(p);
            Compare("vtrace", "vs", T, N, vs2, vs1);
            Compare("vtrace", "pgAdvantages", T, N, pg2, pg1);
          }
          if (kind == 0) CheckTokenGae(T, N, p_flag, given & 1);
        }
      }
    }
  }
  CheckLlm();
  CheckReplay();
  std::printf("%d comparisons, %d failures\n", comparisons, failures);
  return failures == 0 ? 0 : 1;
}
