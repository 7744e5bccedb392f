// n-step bootstrapped returns (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement
// Learning", arXiv:1602.01783; rlax `n_step_bootstrapped_returns`), with Gymnasium's split of
// episode ends into termination and truncation:
//
//   G_t = Σ_{k<m} Γ_{t,k} r_{t+k} + Γ_{t,m} (1 - term_{t+m-1}) v'_{t+m-1},   Γ_{t,k} = Π_{j<k} γ_{t+j}
//
// where m = min(n, steps up to and including the first episode end at or after t, T - t) and
// v' is gae's next value (values[t+1], lastValues after the last step, V(final observation) at a
// truncated step, or nextValues). Not a scan: each G_t reads its own window of at most n steps,
// so rows are independent and split across threads whatever the shape; O(T·N·n).
#include "nstep_returns.h"

#include <algorithm>
#include <cstring>

#include "bootstrap_args.h"
#include "../core/select.h"
#include "../core/thread_pool.h"
#include "../../cuda/backend.h"
#include "bootstrap.h"

namespace rlcore {
namespace {

// x where `mask` is all ones, +0 where it is zero (bitwise, so an unselected NaN is dropped too).
inline double Masked(double x, uint64_t mask) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= mask;
  std::memcpy(&x, &bits, sizeof bits);
  return x;
}

// Returns of steps [t0, t1). Each window walks forward with a per-column mask `alive` (all
// ones, then 0 once the window has ended); masking (not multiplying by 0) keeps data beyond an
// episode end out of the sum even when it is Inf or NaN.
void NstepRows(const NstepReturnsProblem& p, size_t t0, size_t t1) {
  const size_t T = p.T, N = p.N;
  alignas(64) double acc[kScanColumns], disc[kScanColumns];
  alignas(64) uint64_t alive[kScanColumns];
  float gbuf[kScanColumns];
  for (size_t b0 = 0; b0 < N; b0 += kScanColumns) {
    const size_t b1 = std::min(N, b0 + kScanColumns), w = b1 - b0;
    for (size_t t = t0; t < t1; ++t) {
      for (size_t j = 0; j < w; ++j) acc[j] = 0.0, disc[j] = 1.0, alive[j] = ~uint64_t{0};
      const size_t m = std::min(p.n, T - t);
      for (size_t k = 0; k < m; ++k) {
        const size_t s = t + k, row = s * N + b0;
        const float* __restrict r = p.rewards + row;
        const uint8_t* __restrict term = bootstrap::Flags(p.terminated, N, s, b0);
        const uint8_t* __restrict trunc = bootstrap::Flags(p.truncated, N, s, b0);
        const bootstrap::Rows v = bootstrap::At(T, N, s, b0, p.values, p.next_values, p.last_values, p.final_values);
        const float* __restrict v_next = v.next;
        const float* __restrict v_final = v.final_obs;
        const float* __restrict g = p.gamma.Row(s, b0, w, gbuf);
        const uint8_t window_end = k + 1 == m ? 1 : 0;
        uint64_t any = 0;
        for (size_t j = 0; j < w; ++j) {
          const uint8_t end = term[j] | trunc[j] | window_end;
          // The bootstrap term Γ_{t,k+1} (1 - term) v' enters only at the window's end.
          const float boot = Select(end, Select(term[j], 0.f, Select(trunc[j], v_final[j], v_next[j])), 0.f);
          const double add = static_cast<double>(r[j]) + static_cast<double>(g[j]) * boot;
          acc[j] += Masked(disc[j] * add, alive[j]);
          alive[j] &= static_cast<uint64_t>(end) - 1;
          disc[j] *= static_cast<double>(g[j]);
          any |= alive[j];
        }
        if (!any) break;
      }
      float* out = p.returns + t * N + b0;
      for (size_t j = 0; j < w; ++j) out[j] = static_cast<float>(acc[j]);
    }
  }
}

// v'_s of column c (gae's next-value convention), read only where a window ends.
inline double NextValue(const NstepReturnsProblem& p, size_t s, size_t c, bool truncated) {
  const size_t i = s * p.N + c;
  if (p.next_values) return p.next_values[i];
  if (truncated) return p.final_values[i];  // present whenever truncated is (checked in the binding)
  if (s + 1 < p.T) return p.values[i + p.N];
  return p.last_values ? p.last_values[c] : 0.0;
}

// Few columns: the row-tile loop above would pay its per-row setup for one or two lanes, so
// walk each column's windows directly and stop each one at its end (scalar, well predicted).
void NstepNarrow(const NstepReturnsProblem& p, size_t t0, size_t t1) {
  const size_t T = p.T, N = p.N;
  for (size_t c = 0; c < N; ++c) {
    for (size_t t = t0; t < t1; ++t) {
      const size_t m = std::min(p.n, T - t);
      double acc = 0.0, disc = 1.0;
      for (size_t k = 0;; ++k) {
        const size_t s = t + k, i = s * N + c;
        const double g = p.gamma.At(s, c);
        acc += disc * static_cast<double>(p.rewards[i]);
        if (p.terminated && p.terminated[i]) break;
        const bool trunc = p.truncated && p.truncated[i];
        if (trunc || k + 1 == m) {
          acc += disc * g * NextValue(p, s, c, trunc);
          break;
        }
        disc *= g;
      }
      p.returns[t * N + c] = static_cast<float>(acc);
    }
  }
}

// nstepReturns(T, N, rewards, values, terminated?, truncated?, nextValues?, lastValues?,
//              finalValues?, gamma, n, outReturns, useCuda, async)
Napi::Value NstepReturnsBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nstepReturns";
  Napi::Env env = info.Env();
  NstepReturnsProblem p;
  const Shape tn = ReadBootstrapInputs(info, kKernel, p);
  const size_t TN = p.T * p.N;
  p.gamma = StepParamArg(info, 9, kKernel, "gamma", p.T, p.N, 0.0, 1.0);
  const double n = NumberArg(info, 10, kKernel, "n", 1.0, 1099511627776.0);
  if (static_cast<double>(static_cast<size_t>(n)) != n) {
    ThrowError(env, "ERR_RANGE", "nstepReturns: n must be an integer >= 1; received " + std::to_string(n));
  }
  p.n = static_cast<size_t>(n);
  p.returns = F32Arg(info, 11, kKernel, "out.returns", false, TN, tn).data;
  const bool use_cuda = BoolArg(info, 12), async = BoolArg(info, 13);
  CheckDevice(env, kKernel, use_cuda);
  CheckOutputAlias(env, kKernel, "out.returns", p.returns, p);
  return RunKernel(info, async, [p, use_cuda] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::NstepReturns(p);
#endif
    (void)use_cuda;
    NstepReturnsCpu(p);
  }, KeepArgs{2, 12});
}

}  // namespace

void NstepReturnsCpu(const NstepReturnsProblem& p) {
  // About 32k element-steps per chunk before threads are worth waking.
  const size_t per_row = p.N * std::min(p.n, p.T);
  const size_t grain = std::max<size_t>(1, (size_t{1} << 15) / per_row);
  ParallelFor(p.T, grain, [&p](size_t t0, size_t t1) {
    if (p.N < kNarrowColumns) NstepNarrow(p, t0, t1);  // scan.h's threshold for one-column paths
    else NstepRows(p, t0, t1);
  });
}

RLCORE_EXPORT(nstepReturns, NstepReturnsBinding);

}  // namespace rlcore
