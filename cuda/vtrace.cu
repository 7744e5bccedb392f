// V-trace on the GPU, with the semantics of native/kernels/vtrace.cc (Espeholt et al. 2018,
// arXiv:1802.01561; rlax `vtrace_td_error_and_advantage`):
//
//   ρ_t  = min(ρ̄, e^{logρ_t}),   c_t = λ_t min(c̄, e^{logρ_t})
//   δ_t  = ρ_t (r_t + γ_t (1 - term_t) v'_t - V(s_t))
//   v_t - V(s_t) = δ_t + γ_t (1 - done_t) c_t (v_{t+1} - V(s_{t+1})),   zero after step T-1
//   pg_t = min(ρ̄_pg, e^{logρ_t}) (r_t + γ_t (1 - term_t) ṽ_{t+1} - V(s_t))
//
// vs comes from the reverse affine scan of cuda/scan.cuh; pgAdvantages from an elementwise pass
// that reads the finished vs[t+1] (ṽ_{t+1} = vs_{t+1} inside an episode, v'_t at its end or at
// the last step). The (1 - term) and (1 - done) factors are selects (NaN or Inf in a later episode
// never reaches an earlier one): c_t = 0 at an episode end, where the scan restarts (scan.cuh).
#include <cuda_runtime.h>

#include "../native/kernels/vtrace.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "inputs.cuh"
#include "scan.cuh"

namespace rlcore::cuda {
namespace {

// min(clip, x) that lets a NaN x through (an unclipped NaN ratio must not look like ρ̄).
__host__ __device__ __forceinline__ double ClipRatio(double x, double clip) { return clip < x ? clip : x; }

// e^{logρ} (float64), 0 below -87.33654 as on the CPU (RatioExp in native/kernels/vtrace.cc: a ratio
// under FLT_MIN is 0, so that c = 0 there and the scan cuts, as at an exact 0).
__host__ __device__ __forceinline__ double Ratio(float log_rho) { return log_rho < -87.33654f ? 0.0 : exp(static_cast<double>(log_rho)); }

struct VtraceArgs {
  const float* rewards;
  const float* log_rhos;
  const uint8_t* terminated;
  const uint8_t* truncated;
  NextValues next;
  StepParam gamma, lambda;
  double clip_rho, clip_c, clip_pg_rho;
  float* vs;
  float* pg_advantages;
};

struct VtraceOp {
  VtraceArgs p;
  __host__ __device__ double Boundary(size_t) const { return 0.0; }
  __host__ __device__ void Coefs(size_t t, size_t n, double& a, double& c) const {
    const size_t i = t * p.next.N + n;
    const bool term = FlagAt(p.terminated, i), trunc = FlagAt(p.truncated, i);
    // Selects, not products with 0 (episode isolation, see native/kernels/vtrace.cc): v' is not
    // read at a termination, and c = 0 exactly at every episode end (a NaN ratio included).
    const float boot = term ? 0.f : p.next.At(t, n, i, trunc);
    const float g = p.gamma.At(t, n);
    const double ratio = Ratio(Ldg(p.log_rhos + i));
    const double td = static_cast<double>(Ldg(p.rewards + i)) + static_cast<double>(g) * boot -
                      static_cast<double>(Ldg(p.next.values + i));
    a = ClipRatio(ratio, p.clip_rho) * td;
    c = (term || trunc) ? 0.0 : static_cast<double>(g * p.lambda.At(t, n)) * ClipRatio(ratio, p.clip_c);
  }
  __host__ __device__ void Write(size_t t, size_t n, double y) const {
    const size_t i = t * p.next.N + n;
    p.vs[i] = static_cast<float>(y + Ldg(p.next.values + i));
  }
};

// pgAdvantages of element i = t * N + n; reads the finished vs[t + 1].
__host__ __device__ __forceinline__ float PgAdvantageAt(const VtraceArgs& p, size_t i) {
  const size_t T = p.next.T, N = p.next.N;
  const size_t t = i / N, n = i % N;
  const bool term = FlagAt(p.terminated, i), trunc = FlagAt(p.truncated, i);
  // Inside an episode the target bootstraps from vs_{t+1}; at the last step from v'.
  float boot = 0.f;
  if (!term) {
    if (trunc) boot = p.next.At(t, n, i, true);
    else boot = t + 1 < T ? p.vs[i + N] : p.next.Next(t, n, i);
  }
  const double ratio = Ratio(Ldg(p.log_rhos + i));
  const double target = static_cast<double>(Ldg(p.rewards + i)) + static_cast<double>(p.gamma.At(t, n)) * boot;
  return static_cast<float>(ClipRatio(ratio, p.clip_pg_rho) * (target - Ldg(p.next.values + i)));
}

__global__ void __launch_bounds__(256) PgAdvantageKernel(VtraceArgs p) {
  const size_t TN = p.next.T * p.next.N;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < TN;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    p.pg_advantages[i] = PgAdvantageAt(p, i);
  }
}

void Launch(const VtraceArgs& args, cudaStream_t s) {
  const size_t T = args.next.T, N = args.next.N;
  ReverseScan(VtraceOp{args}, T, N, s);
  PgAdvantageKernel<<<GridFor(T * N, 256), 256, 0, s>>>(args);
  RLCORE_CUDA_CHECK_LAUNCH("PgAdvantageKernel");
}

BenchResult VtraceBench(size_t T, size_t N, int iters) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = T * N;
  DeviceBuffer rewards(TN * 4, s), values(TN * 4, s), log_rhos(TN * 4, s), terminated(TN, s), last(N * 4, s),
      vs(TN * 4, s), pg(TN * 4, s);
  FillUniform(rewards.as<float>(), TN, 1, -1.f, 1.f, s);
  FillUniform(values.as<float>(), TN, 2, -1.f, 1.f, s);
  FillUniform(log_rhos.as<float>(), TN, 5, -0.5f, 0.5f, s);
  FillFlags(terminated.as<uint8_t>(), TN, 3, 0.01f, s);
  FillUniform(last.as<float>(), N, 4, -1.f, 1.f, s);
  VtraceArgs args{};
  args.rewards = rewards.as<float>();
  args.log_rhos = log_rhos.as<float>();
  args.terminated = terminated.as<uint8_t>();
  args.next = NextValues{T, N, values.as<float>(), nullptr, last.as<float>(), nullptr};
  args.gamma.scalar = 0.99f;
  args.lambda.scalar = 1.f;
  args.clip_rho = args.clip_c = args.clip_pg_rho = 1.0;
  args.vs = vs.as<float>();
  args.pg_advantages = pg.as<float>();
  BenchResult r;
  r.ms = TimeLaunches([&] { Launch(args, s); }, iters, s);
  r.elements = static_cast<double>(TN);
  r.bytes = static_cast<double>(TN) * (4 + 4 + 4 + 1 + 4 + 4);  // read r, v, logρ, term; write vs, pg
  r.path = scan::ReverseScanPath(T, N) + " + elementwise";
  return r;
}

}  // namespace

void Vtrace(const VtraceProblem& p) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t TN = p.T * p.N;
  DeviceBuffer rewards = ToDevice(p.rewards, TN, s), log_rhos = ToDevice(p.log_rhos, TN, s),
               terminated = ToDevice(p.terminated, TN, s), truncated = ToDevice(p.truncated, TN, s),
               vs(TN * sizeof(float), s), pg(TN * sizeof(float), s);
  NextValueInputs next(p.T, p.N, p.values, p.next_values, p.last_values, p.final_values, p.truncated, s);
  DeviceStepParam gamma(p.gamma, s), lambda(p.lambda, s);
  VtraceArgs args{rewards.as<float>(), log_rhos.as<float>(), terminated.as<uint8_t>(), truncated.as<uint8_t>(),
                  next.view, gamma.param, lambda.param, p.clip_rho, p.clip_c, p.clip_pg_rho, vs.as<float>(),
                  pg.as<float>()};
  Launch(args, s);
  ToHost(p.vs, vs, TN, s);
  ToHost(p.pg_advantages, pg, TN, s);
  stream.Sync();
}

RLCORE_CUDA_BENCH(vtrace, VtraceBench);

}  // namespace rlcore::cuda
