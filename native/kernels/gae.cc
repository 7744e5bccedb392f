// Generalized Advantage Estimation (Schulman et al., 2016, "High-Dimensional Continuous Control
// Using Generalized Advantage Estimation", arXiv:1506.02438), with Gymnasium's split of episode
// ends into termination and truncation:
//
//   v'_t  = V(s_{t+1})          (at a truncated step: V of the final observation)
//   δ_t   = r_t + γ_t (1 - term_t) v'_t - V(s_t)
//   A_t   = δ_t + γ_t λ_t (1 - done_t) A_{t+1},   done_t = term_t | trunc_t,   A_T = 0
//   G_t   = A_t + V(s_t)                          (value targets)
#include "gae.h"

#include "../core/binding.h"
#include "../core/scan.h"
#include "../../cuda/backend.h"

namespace rlcore {
namespace {

// Optional inputs are replaced by rows of zeros so the tile loop has no branches.
alignas(64) const uint8_t kNoFlags[kTileColumns] = {};
alignas(64) const float kZeros[kTileColumns] = {};

struct GaeScan {
  const GaeProblem& p;
  double Boundary(size_t) const { return 0.0; }
  void Coefs(size_t t0, size_t t1, size_t n0, size_t n1, double* a, double* c) const {
    const size_t N = p.N, w = n1 - n0;
    float gbuf[kTileColumns], lbuf[kTileColumns];
    for (size_t t = t0; t < t1; ++t) {
      const size_t row = t * N + n0;
      const float* r = p.rewards + row;
      const float* v = p.values + row;
      const uint8_t* term = p.terminated ? p.terminated + row : kNoFlags;
      const uint8_t* trunc = p.truncated ? p.truncated + row : kNoFlags;
      const float* v_next = p.next_values ? p.next_values + row
                            : t + 1 < p.T ? p.values + row + N
                            : p.last_values ? p.last_values + n0 : kZeros;
      // With nextValues given, truncated steps already carry V(final observation).
      const float* v_final = (p.final_values && !p.next_values) ? p.final_values + row : v_next;
      const float* g = p.gamma.Row(t, n0, w, gbuf);
      const float* l = p.lambda.Row(t, n0, w, lbuf);
      double* ar = a + (t - t0) * w;
      double* cr = c + (t - t0) * w;
      for (size_t j = 0; j < w; ++j) {
        const float boot = trunc[j] ? v_final[j] : v_next[j];
        const float live = term[j] ? 0.f : 1.f;
        const float cont = (term[j] | trunc[j]) ? 0.f : 1.f;
        ar[j] = static_cast<double>(r[j]) + static_cast<double>(g[j] * live) * boot - v[j];
        cr[j] = static_cast<double>(g[j] * l[j] * cont);
      }
    }
  }
  void Write(size_t t0, size_t t1, size_t n0, size_t n1, const double* y) const {
    const size_t w = n1 - n0;
    for (size_t t = t0; t < t1; ++t) {
      const size_t row = t * p.N + n0;
      const double* yr = y + (t - t0) * w;
      float* adv = p.advantages + row;
      float* ret = p.returns ? p.returns + row : nullptr;
      const float* v = p.values + row;
      for (size_t j = 0; j < w; ++j) adv[j] = static_cast<float>(yr[j]);
      if (ret)
        for (size_t j = 0; j < w; ++j) ret[j] = static_cast<float>(yr[j] + v[j]);
    }
  }
};

// gae(T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?, finalValues?,
//     gamma, lambda, outAdvantages, outReturns?, useCuda, async)
Napi::Value GaeBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "gae";
  Napi::Env env = info.Env();
  GaeProblem p;
  p.T = SizeArg(info, 0, kKernel, "T");
  p.N = SizeArg(info, 1, kKernel, "N");
  const size_t TN = p.T * p.N;
  const std::string tn = ShapeText("[T, N]", {p.T, p.N});
  p.rewards = F32Arg(info, 2, kKernel, "rewards", false, TN, tn).data;
  p.values = F32Arg(info, 3, kKernel, "values", false, TN, tn).data;
  p.terminated = U8Arg(info, 4, kKernel, "terminated", true, TN, tn).data;
  p.truncated = U8Arg(info, 5, kKernel, "truncated", true, TN, tn).data;
  p.next_values = F32Arg(info, 6, kKernel, "nextValues", true, TN, tn).data;
  p.last_values = F32Arg(info, 7, kKernel, "lastValues", true, p.N, ShapeText("[N]", {p.N})).data;
  p.final_values = F32Arg(info, 8, kKernel, "finalValues", true, TN, tn).data;
  if (p.truncated && !p.next_values && !p.final_values) {
    ThrowError(env, "ERR_ARG", "gae: truncated steps need finalValues (V of the final observation) or nextValues");
  }
  p.gamma = StepParamArg(info, 9, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  p.lambda = StepParamArg(info, 10, kKernel, "lambda", p.T, p.N, 0.0, 1.0);
  ArrayArg<float> adv = F32Arg(info, 11, kKernel, "out.advantages", false, TN, tn);
  ArrayArg<float> ret = F32Arg(info, 12, kKernel, "out.returns", true, TN, tn);
  p.advantages = adv.data;
  p.returns = ret.data;
  const bool use_cuda = BoolArg(info, 13), async = BoolArg(info, 14);
  CheckDevice(env, kKernel, use_cuda);
  const size_t bytes = TN * sizeof(float);
  const void* inputs[] = {p.rewards, p.values, p.next_values, p.final_values, p.terminated, p.truncated};
  const size_t input_bytes[] = {bytes, bytes, bytes, bytes, TN, TN};
  const char* input_names[] = {"rewards", "values", "nextValues", "finalValues", "terminated", "truncated"};
  for (size_t k = 0; k < 6; ++k) {
    CheckNoOverlap(env, kKernel, "out.advantages", p.advantages, bytes, input_names[k], inputs[k], input_bytes[k]);
    CheckNoOverlap(env, kKernel, "out.returns", p.returns, ret ? bytes : 0, input_names[k], inputs[k], input_bytes[k]);
  }
  CheckNoOverlap(env, kKernel, "out.advantages", p.advantages, bytes, "out.returns", p.returns, ret ? bytes : 0);
  std::vector<Napi::Value> keep;
  for (size_t k = 2; k <= 12; ++k) keep.push_back(info[k]);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::Gae(p);
#endif
    (void)use_cuda;
    GaeCpu(p);
  }, std::move(keep));
}

}  // namespace

void GaeCpu(const GaeProblem& p) { ReverseScan(GaeScan{p}, p.T, p.N); }

RLCORE_EXPORT(gae, GaeBinding);

}  // namespace rlcore
