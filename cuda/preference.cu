// Preference losses on the GPU, with the semantics of native/llm/preference.cc (float64 per pair,
// means over P pairs):
//
//   dpo  h = β [(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))],
//        ℓ = −(1 − ε) log σ(h) − ε log σ(−h)              (Rafailov et al. 2023, arXiv:2305.18290)
//   ipo  x = the same log-ratio difference, ℓ = (x − 1/(2β))²  (Azar et al. 2023, arXiv:2310.12036)
//   bt   h = r_w − r_l − m, ℓ as dpo with β = 1              (Bradley & Terry 1952)
//   cpl  S± = α Σ_t γ^t log π(a±_t | s±_t), ℓ = −log σ(S⁺ − λ S⁻)  (Hejna et al. 2024, arXiv:2310.13639)
//
// preferenceLoss: fixed blocks of kPairs pairs, one thread per pair. cplLoss: one warp per pair
// for S± (lanes take every 32nd step, then xor shuffles: a fixed order, not the CPU's sequential
// one, so sums agree to float64 rounding), then one thread per gradient element. γ^t is the
// CPU's running product, computed once on the host. Float64 partials per block, added in a
// fixed order by one block (deterministic).
#include <cuda_runtime.h>

#include <vector>

#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "llm.cuh"

namespace rlcore::cuda {
namespace {

constexpr size_t kPairs = 1024;         // preferenceLoss pairs per block
constexpr size_t kCplPairs = llm::kThreads / 32;  // cplLoss pairs per block (one per warp)

/// One pair of preferenceLoss: writes both gradients and adds (ℓ, correct, β·Δchosen, β·Δrejected).
struct PreferenceOp {
  PreferenceKind kind;
  double beta, eps, margin, inv_p;
  const float *chosen, *rejected, *ref_chosen, *ref_rejected;  // refs may be null (zeros)
  float *grad_chosen, *grad_rejected;
  __host__ __device__ __forceinline__ void Pair(size_t i, double (&acc)[4]) const {
    const double dc = static_cast<double>(Ldg(chosen + i)) - (ref_chosen ? Ldg(ref_chosen + i) : 0.0f);
    const double dr = static_cast<double>(Ldg(rejected + i)) - (ref_rejected ? Ldg(ref_rejected + i) : 0.0f);
    double l, dh, scale;
    if (kind == PreferenceKind::kIpo) {
      const double x = dc - dr, e = x - 1.0 / (2.0 * beta);
      l = e * e, dh = 2.0 * e, scale = 1.0;
      acc[1] += x > 0 ? 1 : 0;
      acc[2] += beta * dc, acc[3] += beta * dr;
    } else {
      scale = kind == PreferenceKind::kDpo ? beta : 1.0;
      const double h = scale * (dc - dr) - margin;
      l = (1.0 - eps) * llm::Softplus(-h) + eps * llm::Softplus(h);
      dh = -(1.0 - eps) * llm::Sigmoid(-h) + eps * llm::Sigmoid(h);
      acc[1] += h > 0 ? 1 : 0;
      acc[2] += scale * dc, acc[3] += scale * dr;
    }
    acc[0] += l;
    grad_chosen[i] = static_cast<float>(dh * scale * inv_p);
    grad_rejected[i] = static_cast<float>(-dh * scale * inv_p);
  }
};

/// preferenceLoss stats from the sums (ℓ, correct, chosen reward, rejected reward).
void PreferenceStats(const double (&t)[4], double inv_p, double* stats) {
  stats[0] = t[0] * inv_p, stats[1] = t[1] * inv_p, stats[2] = t[2] * inv_p, stats[3] = t[3] * inv_p;
  stats[4] = (t[2] - t[3]) * inv_p;
}

__global__ void __launch_bounds__(llm::kThreads) PreferenceKernel(PreferenceOp op, size_t P, double* part) {
  const size_t i0 = blockIdx.x * kPairs, i1 = i0 + kPairs < P ? i0 + kPairs : P;
  double v[4] = {0.0, 0.0, 0.0, 0.0};
  for (size_t i = i0 + threadIdx.x; i < i1; i += llm::kThreads) op.Pair(i, v);
  llm::BlockSum<4>(v);
  if (threadIdx.x == 0)
    for (int k = 0; k < 4; ++k) part[4 * blockIdx.x + k] = v[k];
}

/// cplLoss: the terms of one pair from S⁺ and S⁻ before the factor α; adds (ℓ, correct, margin)
/// and returns σ(λ S⁻ − S⁺), the gradient's scale.
struct CplOp {
  size_t L;
  double alpha, lambda, inv_p;
  const float *chosen, *rejected;
  const double* disc;  // [L] γ^t
  float *grad_chosen, *grad_rejected;
  __host__ __device__ __forceinline__ double Pair(double sp, double sn, double (&acc)[3]) const {
    sp *= alpha, sn *= alpha;
    const double z = lambda * sn - sp;  // ℓ = softplus(z)
    acc[0] += llm::Softplus(z);
    acc[1] += sp > sn ? 1 : 0, acc[2] += sp - sn;
    return llm::Sigmoid(z);
  }
  __host__ __device__ __forceinline__ void Grad(size_t i, size_t t, double s) const {
    const double d = disc[t];
    grad_chosen[i * L + t] = static_cast<float>(-s * alpha * d * inv_p);
    grad_rejected[i * L + t] = static_cast<float>(lambda * s * alpha * d * inv_p);
  }
};

void CplStats(const double (&t)[3], double inv_p, double* stats) {
  stats[0] = t[0] * inv_p, stats[1] = t[1] * inv_p, stats[2] = t[2] * inv_p;
}

/// γ^t by the CPU kernel's running product (the same float64 values).
std::vector<double> Discounts(size_t L, double gamma) {
  std::vector<double> d(L);
  double disc = 1;
  for (size_t t = 0; t < L; ++t, disc *= gamma) d[t] = disc;
  return d;
}

__global__ void __launch_bounds__(llm::kThreads) CplSumKernel(CplOp op, size_t P, double* scale, double* part) {
  const size_t i = blockIdx.x * kCplPairs + threadIdx.x / 32;
  const unsigned lane = threadIdx.x & 31;
  double sp = 0.0, sn = 0.0;
  if (i < P) {
    for (size_t t = lane; t < op.L; t += 32) {
      const double d = op.disc[t];
      sp += d * Ldg(op.chosen + i * op.L + t), sn += d * Ldg(op.rejected + i * op.L + t);
    }
  }
  for (int o = 16; o > 0; o /= 2) sp += __shfl_xor_sync(0xffffffffu, sp, o), sn += __shfl_xor_sync(0xffffffffu, sn, o);
  double v[3] = {0.0, 0.0, 0.0};
  if (i < P && lane == 0) scale[i] = op.Pair(sp, sn, v);
  llm::BlockSum<3>(v);
  if (threadIdx.x == 0)
    for (int k = 0; k < 3; ++k) part[3 * blockIdx.x + k] = v[k];
}

__global__ void CplGradKernel(CplOp op, size_t n, const double* scale) {
  for (size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<size_t>(gridDim.x) * blockDim.x)
    op.Grad(j / op.L, j % op.L, scale[j / op.L]);
}

void LaunchPreference(const PreferenceOp& op, size_t P, double* part, double* total, cudaStream_t s) {
  const unsigned blocks = llm::FixedBlocks(P, kPairs);
  PreferenceKernel<<<blocks, llm::kThreads, 0, s>>>(op, P, part);
  RLCORE_CUDA_CHECK_LAUNCH("preferenceLoss");
  llm::SumRows<4>(part, blocks, total, s);
}

void LaunchCpl(const CplOp& op, size_t P, double* scale, double* part, double* total, cudaStream_t s) {
  const unsigned blocks = llm::FixedBlocks(P, kCplPairs);
  CplSumKernel<<<blocks, llm::kThreads, 0, s>>>(op, P, scale, part);
  RLCORE_CUDA_CHECK_LAUNCH("cplLoss sums");
  CplGradKernel<<<GridFor(P * op.L, llm::kThreads), llm::kThreads, 0, s>>>(op, P * op.L, scale);
  RLCORE_CUDA_CHECK_LAUNCH("cplLoss gradient");
  llm::SumRows<3>(part, blocks, total, s);
}

BenchResult PreferenceLossBench(size_t T, size_t N, int iters) {
  // T·N pairs, DPO with references.
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t P = T * N;
  DeviceBuffer c(P * 4, s), r(P * 4, s), rc(P * 4, s), rr(P * 4, s), gc(P * 4, s), gr(P * 4, s),
      part(llm::FixedBlocks(P, kPairs) * 32, s), total(32, s);
  FillUniform(c.as<float>(), P, 1, -200.f, -50.f, s);
  FillUniform(r.as<float>(), P, 2, -200.f, -50.f, s);
  FillUniform(rc.as<float>(), P, 3, -200.f, -50.f, s);
  FillUniform(rr.as<float>(), P, 4, -200.f, -50.f, s);
  const PreferenceOp op{PreferenceKind::kDpo, 0.1, 0.0, 0.0, 1.0 / static_cast<double>(P), c.as<float>(), r.as<float>(),
                        rc.as<float>(), rr.as<float>(), gc.as<float>(), gr.as<float>()};
  BenchResult b;
  b.ms = TimeLaunches([&] { LaunchPreference(op, P, part.as<double>(), total.as<double>(), s); }, iters, s);
  b.elements = static_cast<double>(P);
  b.bytes = static_cast<double>(P) * 24;
  b.path = "thread per pair, float64";
  return b;
}

BenchResult CplLossBench(size_t T, size_t N, int iters) {
  // N pairs of segments of L = T steps.
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t P = N, L = T, n = P * L;
  const std::vector<double> disc = Discounts(L, 0.99);
  DeviceBuffer c(n * 4, s), r(n * 4, s), gc(n * 4, s), gr(n * 4, s), d_disc = ToDevice(disc.data(), L, s),
      scale(P * 8, s), part(llm::FixedBlocks(P, kCplPairs) * 24, s), total(24, s);
  FillUniform(c.as<float>(), n, 1, -3.f, 0.f, s);
  FillUniform(r.as<float>(), n, 2, -3.f, 0.f, s);
  const CplOp op{L, 0.1, 0.5, 1.0 / static_cast<double>(P), c.as<float>(), r.as<float>(), d_disc.as<double>(),
                 gc.as<float>(), gr.as<float>()};
  BenchResult b;
  b.ms = TimeLaunches([&] { LaunchCpl(op, P, scale.as<double>(), part.as<double>(), total.as<double>(), s); }, iters, s);
  b.elements = static_cast<double>(n);
  b.bytes = static_cast<double>(n) * 16;
  b.path = "warp per pair, then thread per element";
  stream.Sync();
  return b;
}

}  // namespace

void PreferenceLoss(const PreferenceLossProblem& p) {
  const double inv_p = 1.0 / static_cast<double>(p.P);
  if (p.P == 0) {
    const double zero[4] = {0.0, 0.0, 0.0, 0.0};
    return PreferenceStats(zero, inv_p, p.stats);
  }
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t P = p.P;
  DeviceBuffer c = ToDevice(p.chosen, P, s), r = ToDevice(p.rejected, P, s), rc = ToDevice(p.ref_chosen, P, s),
               rr = ToDevice(p.ref_rejected, P, s), gc(P * 4, s), gr(P * 4, s),
               part(llm::FixedBlocks(P, kPairs) * 32, s), total(32, s);
  const PreferenceOp op{p.kind, p.beta, p.label_smoothing, p.margin, inv_p, c.as<float>(), r.as<float>(),
                        rc.as<float>(), rr.as<float>(), gc.as<float>(), gr.as<float>()};
  LaunchPreference(op, P, part.as<double>(), total.as<double>(), s);
  double t[4];
  ToHost(p.grad_chosen, gc, P, s);
  ToHost(p.grad_rejected, gr, P, s);
  ToHost(t, total, 4, s);
  stream.Sync();
  PreferenceStats(t, inv_p, p.stats);
}

void CplLoss(const CplLossProblem& p) {
  const double inv_p = 1.0 / static_cast<double>(p.P);
  const size_t P = p.P, L = p.L, n = P * L;
  if (P == 0 || L == 0) {  // no steps: S± = 0 for every pair (and no gradient to write)
    double t[3] = {0.0, 0.0, 0.0};
    const CplOp op{L, p.alpha, p.lambda, inv_p, nullptr, nullptr, nullptr, nullptr, nullptr};
    for (size_t i = 0; i < P; ++i) op.Pair(0.0, 0.0, t);
    return CplStats(t, inv_p, p.stats);
  }
  Stream stream;
  const cudaStream_t s = stream.get();
  const std::vector<double> disc = Discounts(L, p.gamma);
  DeviceBuffer c = ToDevice(p.chosen, n, s), r = ToDevice(p.rejected, n, s), d_disc = ToDevice(disc.data(), L, s),
               gc(n * 4, s), gr(n * 4, s), scale(P * 8, s), part(llm::FixedBlocks(P, kCplPairs) * 24, s), total(24, s);
  const CplOp op{L, p.alpha, p.lambda, inv_p, c.as<float>(), r.as<float>(), d_disc.as<double>(), gc.as<float>(),
                 gr.as<float>()};
  LaunchCpl(op, P, scale.as<double>(), part.as<double>(), total.as<double>(), s);
  double t[3];
  ToHost(p.grad_chosen, gc, n, s);
  ToHost(p.grad_rejected, gr, n, s);
  ToHost(t, total, 3, s);
  stream.Sync();  // disc (host) outlives the copy
  CplStats(t, inv_p, p.stats);
}

RLCORE_CUDA_BENCH(preference_loss, PreferenceLossBench);
RLCORE_CUDA_BENCH(cpl_loss, CplLossBench);

}  // namespace rlcore::cuda
