// Per-token KL estimates of KL(π_θ ‖ π_ref) from sampled tokens, d = clamp(log π_ref − log π_θ,
// −20, 20): k1 = −d, k2 = ½ d², k3 = e^d − d − 1 ∈ [0, 10] (Schulman 2020, "Approximating KL
// Divergence"), with ∂k/∂log π_θ. Used as a loss term (policyLoss's klCoef) or, here, as a
// per-token reward penalty r_t − β k_t (PPO-style RLHF, Ouyang et al. 2022, arXiv:2203.02155).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../core/binding.h"
#include "../core/select.h"
#include "../core/thread_pool.h"
#include "../dist/args.h"
#include "llm.h"

namespace rlcore {
namespace {

constexpr size_t kKlBlock = 16384, kKlChunk = 1024;

// One fixed block of tokens: the estimates straight into the outputs (vectorised passes over an
// L1-sized chunk), masked in place, then float64 sums; returns {Σ k, count} over the block.
template <KlEstimator K>
void KlBlock(const float* lp, const float* ref, const uint8_t* mask, float* kl, float* grad, size_t c0, size_t c1,
             double* sum, double* count) {
  float scratch[kKlChunk];
  uint32_t flag[kKlChunk];
  double s = 0.0;
  size_t c = 0;
  for (size_t i = c0; i < c1; i += kKlChunk) {
    const size_t n = std::min(kKlChunk, c1 - i);
    float* v = kl + i;
    float* g = grad ? grad + i : scratch;
    KlTermsF<K>(lp + i, ref + i, n, v, g);
    if (mask) {
      // 32-bit flags keep the select loop one float vector wide (uint8 flags make GCC take 64
      // tokens per iteration and spill).
      const uint8_t* m = mask + i;
      uint32_t on = 0;
      for (size_t j = 0; j < n; ++j) flag[j] = m[j] != 0, on += flag[j];
      for (size_t j = 0; j < n; ++j) {
        const uint32_t keep = 0u - flag[j];
        uint32_t vb, gb;
        std::memcpy(&vb, &v[j], 4);
        std::memcpy(&gb, &g[j], 4);
        vb &= keep, gb &= keep;
        std::memcpy(&v[j], &vb, 4);
        std::memcpy(&g[j], &gb, 4);
      }
      c += on;
    } else {
      c += n;
    }
    s += SumF64(v, n);
  }
  *sum = s, *count = static_cast<double>(c);
}

template <KlEstimator K>
void TokenKlCpu(size_t M, const float* lp, const float* ref, const uint8_t* mask, float* kl, float* grad, double* stats) {
  // Fixed blocks of 16k tokens, float64 block sums added in block order: thread-count independent.
  const size_t blocks = (M + kKlBlock - 1) / kKlBlock;
  std::vector<double> part(blocks * 2);
  ForEachBlockDynamic(blocks, true, [&](size_t k) {
    KlBlock<K>(lp, ref, mask, kl, grad, k * kKlBlock, std::min(M, (k + 1) * kKlBlock), &part[2 * k], &part[2 * k + 1]);
  });
  double sum = 0.0, count = 0.0;
  for (size_t k = 0; k < blocks; ++k) sum += part[2 * k], count += part[2 * k + 1];
  stats[0] = count > 0.0 ? sum / count : 0.0;
  stats[1] = count;
}

// tokenKl(M, logProb, refLogProb, mask?, klKind, outKl, outGrad?, stats(Float64Array[2]), useCuda, async)
Napi::Value TokenKlBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "tokenKl";
  Napi::Env env = info.Env();
  const size_t M = SizeArg(info, 0, kKernel, "M");
  const Shape m1 = ShapeText("[M]", {M});
  const float* lp = F32Arg(info, 1, kKernel, "logProb", false, M, m1).data;
  const float* ref = F32Arg(info, 2, kKernel, "refLogProb", false, M, m1).data;
  const uint8_t* mask = U8Arg(info, 3, kKernel, "mask", true, M, m1).data;
  const double kind_d = NumberArg(info, 4, kKernel, "klKind", 0, 2);
  if (std::floor(kind_d) != kind_d) ThrowError(env, "ERR_ARG", "tokenKl: klKind must be an integer code");
  const KlEstimator kind = static_cast<KlEstimator>(static_cast<int>(kind_d));
  float* kl = F32Arg(info, 5, kKernel, "out.kl", false, M, m1).data;
  float* grad = F32Arg(info, 6, kKernel, "out.grad", true, M, m1).data;
  double* stats = F64Arg(info, 7, kKernel, "stats", false, 2, "[2]").data;
  const bool use_cuda = BoolArg(info, 8), async = BoolArg(info, 9);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = M * 4;
  const Region outs[] = {{"out.kl", kl, fb}, {"out.grad", grad, grad ? fb : 0}, {"stats", stats, 16}};
  const Region ins[] = {{"logProb", lp, fb}, {"refLogProb", ref, fb}, {"mask", mask, mask ? M : 0}};
  CheckRegions(env, kKernel, outs, ins);
  return RunKernel(
      info, async,
      [=] {
#ifdef RLCORE_WITH_CUDA
        if (use_cuda) return cuda::TokenKl(M, lp, ref, mask, kind, kl, grad, stats);
#endif
        switch (kind) {
          case KlEstimator::kK1: TokenKlCpu<KlEstimator::kK1>(M, lp, ref, mask, kl, grad, stats); break;
          case KlEstimator::kK2: TokenKlCpu<KlEstimator::kK2>(M, lp, ref, mask, kl, grad, stats); break;
          case KlEstimator::kK3: TokenKlCpu<KlEstimator::kK3>(M, lp, ref, mask, kl, grad, stats); break;
        }
      },
      KeepArgs{1, 8});
}

}  // namespace

RLCORE_EXPORT(tokenKl, TokenKlBinding);

}  // namespace rlcore
