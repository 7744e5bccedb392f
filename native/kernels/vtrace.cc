// V-trace (Espeholt et al. 2018, "IMPALA: Scalable Distributed Deep-RL with Importance Weighted
// Actor-Learner Architectures", arXiv:1802.01561; rlax `vtrace_td_error_and_advantage`), with
// Gymnasium's split of episode ends into termination and truncation:
//
//   ρ_t  = min(ρ̄, e^{logρ_t}),   c_t = λ_t min(c̄, e^{logρ_t})
//   δ_t  = ρ_t (r_t + γ_t (1 - term_t) v'_t - V(s_t))           (v' as in gae)
//   v_t - V(s_t) = δ_t + γ_t (1 - done_t) c_t (v_{t+1} - V(s_{t+1})),   zero after step T-1
//   pg_t = min(ρ̄_pg, e^{logρ_t}) (r_t + γ_t (1 - term_t) ṽ_{t+1} - V(s_t))
//
// with ṽ_{t+1} = v_{t+1} inside an episode and v'_t at an episode end or the last step.
// vs comes from the reverse scan; pgAdvantages from a second elementwise pass that reads
// vs[t+1], because the time-chunked scan runs chunks concurrently and a chunk's last row
// needs the next chunk's first.
#include "vtrace.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "../core/binding.h"
#include "../core/scan.h"
#include "../core/select.h"
#include "../core/thread_pool.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

// min(clip, x) that lets a NaN x through (an unclipped NaN ratio must not look like ρ̄).
inline double ClipRatio(double x, double clip) { return clip < x ? clip : x; }

// e^{logρ} for one row (std::exp does not vectorise without -ffast-math; the rest does).
inline void Ratios(const float* log_rho, size_t w, double* out) {
  for (size_t j = 0; j < w; ++j) out[j] = std::exp(static_cast<double>(log_rho[j]));
}

struct VtraceScan {
  const VtraceProblem& p;
  double Boundary(size_t) const { return 0.0; }

  template <bool kWrite>
  void Rows(size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, double* s1) const {
    const size_t N = p.N, w = n1 - n0;
    float gbuf[kScanColumns], lbuf[kScanColumns];
    alignas(64) double ratio[kScanColumns];
    const double clip_rho = p.clip_rho, clip_c = p.clip_c;
    for (size_t t = t_hi; t-- > t_lo;) {
      const size_t row = t * N + n0;
      const float* __restrict r = p.rewards + row;
      const float* __restrict v = p.values + row;
      const uint8_t* __restrict term = bootstrap::Flags(p.terminated, N, t, n0);
      const uint8_t* __restrict trunc = bootstrap::Flags(p.truncated, N, t, n0);
      const bootstrap::Rows next = bootstrap::At(p.T, N, t, n0, p.values, p.next_values, p.last_values, p.final_values);
      const float* __restrict v_next = next.next;
      const float* __restrict v_final = next.final_obs;
      const float* __restrict g = p.gamma.Row(t, n0, w, gbuf);
      const float* __restrict l = p.lambda.Row(t, n0, w, lbuf);
      float* __restrict vs = p.vs + row;
      Ratios(p.log_rhos + row, w, ratio);
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        const float boot = Select(trunc[j], v_final[j], v_next[j]);
        const float g_live = Select(term[j], 0.f, g[j]);
        const float g_lambda = Select(term[j] | trunc[j], 0.f, g[j] * l[j]);
        const double td = static_cast<double>(r[j]) + static_cast<double>(g_live) * boot - static_cast<double>(v[j]);
        const double a = ClipRatio(ratio[j], clip_rho) * td;
        const double c = static_cast<double>(g_lambda) * ClipRatio(ratio[j], clip_c);
        const double y = ScanApply<kWrite>(a, c, s0, s1, j);
        if constexpr (kWrite) vs[j] = static_cast<float>(y + v[j]);
      }
    }
  }
};

// pgAdvantages of steps [t0, t1), all columns; reads the finished vs.
void PgAdvantageRows(const VtraceProblem& p, size_t t0, size_t t1) {
  const size_t N = p.N;
  float gbuf[kScanColumns];
  alignas(64) double ratio[kScanColumns];
  const double clip_pg = p.clip_pg_rho;
  for (size_t b0 = 0; b0 < N; b0 += kScanColumns) {
    const size_t w = std::min(N - b0, kScanColumns);
    for (size_t t = t0; t < t1; ++t) {
      const size_t row = t * N + b0;
      const float* __restrict r = p.rewards + row;
      const float* __restrict v = p.values + row;
      const uint8_t* __restrict term = bootstrap::Flags(p.terminated, N, t, b0);
      const uint8_t* __restrict trunc = bootstrap::Flags(p.truncated, N, t, b0);
      const bootstrap::Rows next = bootstrap::At(p.T, N, t, b0, p.values, p.next_values, p.last_values, p.final_values);
      // Inside an episode the target bootstraps from v_{t+1}; at the last step from v'.
      const float* __restrict vs_next = t + 1 < p.T ? p.vs + row + N : next.next;
      const float* __restrict v_final = next.final_obs;
      const float* __restrict g = p.gamma.Row(t, b0, w, gbuf);
      Ratios(p.log_rhos + row, w, ratio);
      float* __restrict pg = p.pg_advantages + row;
#pragma GCC ivdep
      for (size_t j = 0; j < w; ++j) {
        const float boot = Select(term[j], 0.f, Select(trunc[j], v_final[j], vs_next[j]));
        const double target = static_cast<double>(r[j]) + static_cast<double>(g[j]) * boot;
        pg[j] = static_cast<float>(ClipRatio(ratio[j], clip_pg) * (target - v[j]));
      }
    }
  }
}

// A clip threshold: a finite number > 0.
float ThresholdArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value v = i < info.Length() ? info[i] : env.Undefined();
  if (!v.IsNumber()) {
    ThrowError(env, "ERR_ARG", std::string(kernel) + ": " + name + " must be a number; received a " +
                                   (v.IsUndefined() ? "undefined" : v.IsString() ? "string" : "non-number"));
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d > 0 && d <= std::numeric_limits<float>::max())) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must be finite and > 0 (at most 3.4e38, float32); received " << d;
    ThrowError(env, "ERR_RANGE", msg.str());
  }
  return static_cast<float>(d);
}

// vtrace(T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?, finalValues?,
//        logRhos, gamma, lambda, clipRhoThreshold, clipCThreshold, clipPgRhoThreshold,
//        outVs, outPgAdvantages, useCuda, async)
Napi::Value VtraceBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "vtrace";
  Napi::Env env = info.Env();
  VtraceProblem p;
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
    ThrowError(env, "ERR_ARG", "vtrace: truncated steps need finalValues (V of the final observation) or nextValues");
  }
  p.log_rhos = F32Arg(info, 9, kKernel, "logRhos", false, TN, tn).data;
  p.gamma = StepParamArg(info, 10, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  p.lambda = StepParamArg(info, 11, kKernel, "lambda", p.T, p.N, 0.0, 1.0);
  p.clip_rho = ThresholdArg(info, 12, kKernel, "clipRhoThreshold");
  p.clip_c = ThresholdArg(info, 13, kKernel, "clipCThreshold");
  p.clip_pg_rho = ThresholdArg(info, 14, kKernel, "clipPgRhoThreshold");
  ArrayArg<float> vs = F32Arg(info, 15, kKernel, "out.vs", false, TN, tn);
  ArrayArg<float> pg = F32Arg(info, 16, kKernel, "out.pgAdvantages", false, TN, tn);
  p.vs = vs.data;
  p.pg_advantages = pg.data;
  const bool use_cuda = BoolArg(info, 17), async = BoolArg(info, 18);
  CheckDevice(env, kKernel, use_cuda);
  const size_t bytes = TN * sizeof(float);
  const void* inputs[] = {p.rewards, p.values,     p.next_values, p.final_values,
                          p.log_rhos, p.terminated, p.truncated,   p.last_values};
  const size_t input_bytes[] = {bytes, bytes, bytes, bytes, bytes, TN, TN, p.N * sizeof(float)};
  const char* input_names[] = {"rewards", "values",     "nextValues", "finalValues",
                               "logRhos", "terminated", "truncated",  "lastValues"};
  for (size_t k = 0; k < 8; ++k) {
    CheckNoOverlap(env, kKernel, "out.vs", p.vs, bytes, input_names[k], inputs[k], input_bytes[k]);
    CheckNoOverlap(env, kKernel, "out.pgAdvantages", p.pg_advantages, bytes, input_names[k], inputs[k],
                   input_bytes[k]);
  }
  CheckNoOverlap(env, kKernel, "out.vs", p.vs, bytes, "out.pgAdvantages", p.pg_advantages, bytes);
  std::vector<Napi::Value> keep;
  for (size_t k = 2; k <= 16; ++k) keep.push_back(info[k]);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::Vtrace(p);
#endif
    (void)use_cuda;
    VtraceCpu(p);
  }, std::move(keep));
}

}  // namespace

void VtraceCpu(const VtraceProblem& p) {
  ReverseScan(VtraceScan{p}, p.T, p.N);
  const size_t grain = std::max<size_t>(1, (size_t{1} << 15) / p.N);
  ParallelFor(p.T, grain, [&p](size_t t0, size_t t1) { PgAdvantageRows(p, t0, t1); });
}

RLCORE_EXPORT(vtrace, VtraceBinding);

}  // namespace rlcore
