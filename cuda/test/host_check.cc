// Checks the CUDA kernel functors (cuda/*.cu, run on the host through cuda/test/*_host.cu) against
// the CPU kernels (native/kernels/*.cc) on random problems: every shape edge case, flags none /
// all / some, scalar / [T] / [T, N] step parameters, optional inputs present and absent. Needs
// nvcc but no GPU; the device-level scan itself is exercised by scripts/device-parity.mjs.
// Build and run: scripts/cuda-host-check.sh
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "../../native/kernels/discounted_returns.h"
#include "../../native/kernels/gae.h"
#include "../../native/kernels/lambda_returns.h"
#include "../../native/kernels/nstep_returns.h"
#include "../../native/kernels/token_gae.h"
#include "../../native/kernels/vtrace.h"

namespace rlcore::cuda {
void GaeOnHost(const GaeProblem& p);
void LambdaReturnsOnHost(const LambdaReturnsProblem& p);
void DiscountedReturnsOnHost(const DiscountedReturnsProblem& p);
void NstepReturnsOnHost(const NstepReturnsProblem& p);
void VtraceOnHost(const VtraceProblem& p);
void TokenGaeOnHost(const TokenGaeProblem& p);
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
  std::printf("%d comparisons, %d failures\n", comparisons, failures);
  return failures == 0 ? 0 : 1;
}
