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
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>

#include "bootstrap_args.h"
#include "../core/scan.h"
#include "../core/select.h"
#include "../core/thread_pool.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

// min(clip, x) that lets a NaN x through (an unclipped NaN ratio must not look like ρ̄).
inline double ClipRatio(double x, double clip) { return clip < x ? clip : x; }

// e^x for the importance ratios, branch-free so the row loops vectorise (std::exp is a libm
// call that GCC vectorises only under -ffast-math). x is clamped to [-700, 100]: every ratio
// is then a normal double, e^100 is above any threshold (<= FLT_MAX) so clipping is unchanged,
// and below e^-700 the ratio only scales a float result by < 1e-300. NaN passes through.
// x = k ln2 + r, |r| <= ln2/2, e^r by its degree-11 Taylor polynomial: relative error < 1e-14.
inline double RatioExp(float log_rho) {
  const double x0 = log_rho;
  const bool nan = !(x0 == x0);
  const double x = nan ? 0.0 : x0 < -700.0 ? -700.0 : x0 > 100.0 ? 100.0 : x0;
  constexpr double kLog2e = 1.4426950408889634, kLn2Hi = 0.6931471805598903, kLn2Lo = 5.497923018708371e-14;
  constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double k = (x * kLog2e + kRound) - kRound;
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  double poly = 1.0 / 39916800.0;
  poly = poly * r + 1.0 / 3628800.0;
  poly = poly * r + 1.0 / 362880.0;
  poly = poly * r + 1.0 / 40320.0;
  poly = poly * r + 1.0 / 5040.0;
  poly = poly * r + 1.0 / 720.0;
  poly = poly * r + 1.0 / 120.0;
  poly = poly * r + 1.0 / 24.0;
  poly = poly * r + 1.0 / 6.0;
  poly = poly * r + 0.5;
  poly = poly * r + 1.0;
  poly = poly * r + 1.0;
  const uint64_t bits = static_cast<uint64_t>(static_cast<int64_t>(k) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return nan ? x0 : poly * scale;
}

constexpr size_t kRatioBlock = 256;  // steps whose ratios the one-column paths compute at once

// e^{logρ} for one row.
inline void Ratios(const float* __restrict log_rho, size_t w, double* __restrict out) {
  for (size_t j = 0; j < w; ++j) out[j] = RatioExp(log_rho[j]);
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

  // Single column n, steps [t_lo, t_hi): the narrow-batch path (one long sequence), same
  // arithmetic as Rows. The ratios of a block of steps are computed first, in a loop that
  // vectorises; the scalar recurrence then reads them.
  template <bool kWrite>
  void Column(size_t n, size_t t_lo, size_t t_hi, double* s0, double* s1) const {
    const size_t N = p.N;
    const double clip_rho = p.clip_rho, clip_c = p.clip_c;
    double y = *s0, C = s1 ? *s1 : 1.0;
    const float last = p.last_values ? p.last_values[n] : 0.f;
    alignas(64) double ratio[kRatioBlock];
    for (size_t hi = t_hi; hi > t_lo;) {
      const size_t lo = hi - std::min(kRatioBlock, hi - t_lo);
      for (size_t t = lo; t < hi; ++t) ratio[t - lo] = RatioExp(p.log_rhos[t * N + n]);
      for (size_t t = hi; t-- > lo;) {
        const size_t i = t * N + n;
        const bool term = p.terminated && p.terminated[i];
        const bool trunc = p.truncated && p.truncated[i];
        float v_next = p.next_values ? p.next_values[i] : t + 1 < p.T ? p.values[i + N] : last;
        if (trunc && !p.next_values) v_next = p.final_values[i];
        const float g = p.gamma.At(t, n);
        const double td = static_cast<double>(p.rewards[i]) + static_cast<double>(term ? 0.f : g) * v_next -
                          static_cast<double>(p.values[i]);
        const double a = ClipRatio(ratio[t - lo], clip_rho) * td;
        const double c =
            static_cast<double>((term || trunc) ? 0.f : g * p.lambda.At(t, n)) * ClipRatio(ratio[t - lo], clip_c);
        y = a + c * y;
        if constexpr (kWrite) p.vs[i] = static_cast<float>(y + p.values[i]);
        else C *= c;
      }
      hi = lo;
    }
    *s0 = y;
    if constexpr (!kWrite) *s1 = C;
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

// pgAdvantages of steps [t0, t1) of column c: the narrow-batch path (few columns).
void PgAdvantageColumn(const VtraceProblem& p, size_t c, size_t t0, size_t t1) {
  const size_t N = p.N;
  const double clip_pg = p.clip_pg_rho;
  const float last = p.last_values ? p.last_values[c] : 0.f;
  alignas(64) double ratio[kRatioBlock];
  for (size_t lo = t0; lo < t1; lo += kRatioBlock) {
    const size_t hi = std::min(t1, lo + kRatioBlock);
    for (size_t t = lo; t < hi; ++t) ratio[t - lo] = RatioExp(p.log_rhos[t * N + c]);
    for (size_t t = lo; t < hi; ++t) {
      const size_t i = t * N + c;
      const bool term = p.terminated && p.terminated[i];
      const bool trunc = p.truncated && p.truncated[i];
      // ṽ_{t+1}: v_{t+1} inside an episode, else v'_t (0 after a termination).
      const float boot = term                    ? 0.f
                         : !trunc && t + 1 < p.T ? p.vs[i + N]
                         : p.next_values         ? p.next_values[i]
                         : trunc                 ? p.final_values[i]
                                                 : last;
      const double target = static_cast<double>(p.rewards[i]) + static_cast<double>(p.gamma.At(t, c)) * boot;
      p.pg_advantages[i] = static_cast<float>(ClipRatio(ratio[t - lo], clip_pg) * (target - p.values[i]));
    }
  }
}

// A clip threshold: a finite number > 0.
float ThresholdArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value v = i < info.Length() ? info[i] : env.Undefined();
  if (!v.IsNumber()) {
    ThrowError(env, "ERR_ARG", std::string(kernel) + ": " + name + " must be a number; received " +
                                   (v.IsUndefined() ? "undefined" : v.IsString() ? "a string" : "a non-number"));
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
  const Shape tn = ReadBootstrapInputs(info, kKernel, p);
  const size_t TN = p.T * p.N;
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
  for (const auto& [name, out] : {std::pair<const char*, float*>{"out.vs", p.vs}, {"out.pgAdvantages", p.pg_advantages}}) {
    CheckOutputAlias(env, kKernel, name, out, p);
    CheckNoOverlap(env, kKernel, name, out, bytes, "logRhos", p.log_rhos, bytes);
  }
  CheckNoOverlap(env, kKernel, "out.vs", p.vs, bytes, "out.pgAdvantages", p.pg_advantages, bytes);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::Vtrace(p);
#endif
    (void)use_cuda;
    VtraceCpu(p);
  }, KeepArgs{2, 17});
}

}  // namespace

void VtraceCpu(const VtraceProblem& p) {
  ReverseScan(VtraceScan{p}, p.T, p.N);
  const size_t grain = std::max<size_t>(1, (size_t{1} << 15) / p.N);
  ParallelFor(p.T, grain, [&p](size_t t0, size_t t1) {
    if (p.N >= kNarrowColumns) return PgAdvantageRows(p, t0, t1);
    for (size_t c = 0; c < p.N; ++c) PgAdvantageColumn(p, c, t0, t1);
  });
}

RLCORE_EXPORT(vtrace, VtraceBinding);

}  // namespace rlcore
