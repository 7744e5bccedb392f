// Categorical distribution over A actions from unnormalised logits z (optionally masked):
//
//   log π(j) = z_j − m − log Σ_k exp(z_k − m),  m = max_k z_k   (stable log-softmax; illegal
//              actions are left out of the max and the sum: they get probability 0)
//   H        = −Σ_j π(j) log π(j)
//   ∂ log π(a) / ∂z_j = 1[j = a] − π(j)
//   ∂ H / ∂z_j        = −π(j) (log π(j) + H)
//
// The backward pass writes g_lp · ∂log π(a)/∂z + g_H · ∂H/∂z, so an actor-critic policy gradient
// (PPO, A2C) is one call with the upstream gradients that a loss kernel returns.
#include "categorical.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "../core/binding.h"
#include "args.h"
#include "batch.h"
#include "fastmath.h"

namespace rlcore {

void CategoricalCpu(const CategoricalProblem& p) {
  const size_t A = p.A;
  // Rows are processed in chunks of ~4096 elements: per-row max, then one flat (vectorised)
  // exp over the chunk, then per-row sums (float64) and the element-wise outputs.
  const size_t chunk_rows = std::max<size_t>(1, 4096 / A);
  ForRowBlocks(p.B, A * 4, [&](size_t, size_t r0, size_t r1) {
    // Sized by the rows this block has, not the chunk's capacity: a rollout step samples a few
    // rows, and zeroing 2048-row buffers for them cost more than the sampling.
    const size_t rows_cap = std::min(chunk_rows, r1 - r0);
    std::vector<float> t(rows_cap * A), e(t.size()), et(t.size());
    std::vector<double> sum(rows_cap), log_sum(rows_cap), entropy(rows_cap);
    std::vector<float> sum_f(rows_cap), log_sum_f(rows_cap);
    for (size_t c0 = r0; c0 < r1; c0 += chunk_rows) {
      const size_t c1 = std::min(r1, c0 + chunk_rows), n = (c1 - c0) * A;
      const float* z = p.logits + c0 * A;
      const uint8_t* m = p.mask ? p.mask + c0 * A : nullptr;
      // Masked logits become −∞ in t before the max (and e = 0 after the exp).
      const float* zm = z;
      if (m) {
        for (size_t i = 0; i < n; ++i) t[i] = m[i] ? z[i] : -std::numeric_limits<float>::infinity();
        zm = t.data();
      }
      for (size_t r = 0; r < c1 - c0; ++r) {
        const float mx = MaxF(zm + r * A, A);
        for (size_t j = 0; j < A; ++j) t[r * A + j] = zm[r * A + j] - mx;
      }
      for (size_t i = 0; i < n; ++i) e[i] = ExpF(t[i]);
      if (m)
        for (size_t i = 0; i < n; ++i) e[i] = m[i] ? e[i] : 0.f;
      // et = e·t (0 where masked: t = −∞ there) for H = log S − Σ_j e_j t_j / S, S = Σ_j e_j.
      for (size_t i = 0; i < n; ++i) et[i] = e[i] > 0.f ? e[i] * t[i] : 0.f;
      const size_t rows = c1 - c0;
      for (size_t r = 0; r < rows; ++r) {
        sum[r] = SumF64(&e[r * A], A);
        entropy[r] = SumF64(&et[r * A], A) / sum[r];
        sum_f[r] = static_cast<float>(sum[r]);
      }
      // S in [1, A]: a float32 log is exact enough, and a flat pass of it vectorises.
      for (size_t r = 0; r < rows; ++r) log_sum_f[r] = LogF(sum_f[r]);
      for (size_t r = 0; r < rows; ++r) {
        log_sum[r] = log_sum_f[r];
        entropy[r] = log_sum[r] - entropy[r];
      }
      for (size_t r = 0; r < c1 - c0; ++r) {
        const size_t b = c0 + r;
        const float* er = &e[r * A];
        const float* tr = &t[r * A];
        const double ls = log_sum[r], H = entropy[r];
        size_t a = 0;
        if (p.sample) {
          RandomStream rs(p.seed, b);
          const double u = rs.Uniform() * sum[r];  // compare against the unnormalised mass
          double c = 0.0;
          size_t last_legal = 0;
          bool found = false;
          for (size_t j = 0; j < A; ++j) {
            if (m && !m[r * A + j]) continue;
            last_legal = j;
            c += er[j];
            if (!found && u < c) {
              a = j;
              found = true;
            }
          }
          if (!found) a = last_legal;  // u above the rounded cumulative sum
          p.sampled[b] = static_cast<int32_t>(a);
        } else if (p.actions) {
          a = static_cast<size_t>(p.actions[b]);
        }
        if (p.log_prob) p.log_prob[b] = static_cast<float>(tr[a] - ls);
        if (p.entropy) p.entropy[b] = static_cast<float>(H);
        if (p.grad_logits) {
          const float g_lp = p.grad_log_prob.At(b, 0), g_h = p.grad_entropy.At(b, 0);
          const float inv = static_cast<float>(1.0 / sum[r]), c = static_cast<float>(H - ls);
          float* g = p.grad_logits + b * A;
          // π_j = e_j / S, log π_j + H = t_j − log S + H; masked j have e_j = 0 → exactly 0.
          for (size_t j = 0; j < A; ++j) {
            const float pj = er[j] * inv;
            g[j] = er[j] > 0.f ? -pj * (g_lp + g_h * (tr[j] + c)) : 0.f;
          }
          g[a] += g_lp;
        }
      }
    }
  });
}

namespace {

// categorical(B, A, logits, mask?, actions?, seed?, gradLogProb?, gradEntropy?, outActions?,
//             outLogProb?, outEntropy?, outGradLogits?, useCuda, async)
// Sample mode: outActions given (then actions must be absent and seed given).
Napi::Value CategoricalBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "categorical";
  Napi::Env env = info.Env();
  CategoricalProblem p;
  p.B = SizeArg(info, 0, kKernel, "B");
  p.A = SizeArg(info, 1, kKernel, "A");
  if (p.A > 0x7fffffff) ThrowError(env, "ERR_SHAPE", "categorical: A must be below 2^31");
  const size_t BA = ElementsArg(env, kKernel, p.B, p.A);
  const std::string ba = ShapeText("[B, A]", {p.B, p.A}), b1 = ShapeText("[B]", {p.B});
  p.logits = F32Arg(info, 2, kKernel, "logits", false, BA, ba).data;
  p.mask = U8Arg(info, 3, kKernel, "mask", true, BA, ba).data;
  p.actions = I32Arg(info, 4, kKernel, "actions", true, p.B, b1).data;
  ArrayArg<int32_t> sampled = I32Arg(info, 8, kKernel, "out.actions", true, p.B, b1);
  p.sample = static_cast<bool>(sampled);
  p.sampled = sampled.data;
  if (p.sample == (p.actions != nullptr)) {
    ThrowError(env, "ERR_ARG", "categorical: give either actions (to score) or out.actions (to sample), not both");
  }
  if (p.sample) p.seed = SeedArg(info, 5, kKernel);
  p.grad_log_prob = RowGradArg(info, 6, kKernel, "gradLogProb", p.B);
  p.grad_entropy = RowGradArg(info, 7, kKernel, "gradEntropy", p.B);
  p.log_prob = F32Arg(info, 9, kKernel, "out.logProb", true, p.B, b1).data;
  p.entropy = F32Arg(info, 10, kKernel, "out.entropy", true, p.B, b1).data;
  p.grad_logits = F32Arg(info, 11, kKernel, "out.gradLogits", true, BA, ba).data;
  const bool use_cuda = BoolArg(info, 12), async = BoolArg(info, 13);
  CheckDevice(env, kKernel, use_cuda);
  const size_t fb = p.B * sizeof(float);
  const Region outs[] = {{"out.actions", p.sampled, p.sampled ? p.B * 4 : 0},
                         {"out.logProb", p.log_prob, p.log_prob ? fb : 0},
                         {"out.entropy", p.entropy, p.entropy ? fb : 0},
                         {"out.gradLogits", p.grad_logits, p.grad_logits ? BA * 4 : 0}};
  const Region ins[] = {{"logits", p.logits, BA * 4},
                        {"mask", p.mask, p.mask ? BA : 0},
                        {"actions", p.actions, p.actions ? p.B * 4 : 0},
                        {"gradLogProb", p.grad_log_prob.values, p.grad_log_prob.length * 4},
                        {"gradEntropy", p.grad_entropy.values, p.grad_entropy.length * 4}};
  CheckRegions(env, kKernel, outs, ins);
  // Data checks before anything is written.
  if (p.actions) CheckIndices(env, kKernel, "actions", p.actions, p.B, p.A);
  if (p.mask) {
    for (size_t b = 0; b < p.B; ++b) {
      const uint8_t* m = p.mask + b * p.A;
      bool any = false;
      for (size_t j = 0; j < p.A; ++j) any |= m[j] != 0;
      if (!any) {
        std::ostringstream msg;
        msg << "categorical: mask row " << b << " has no legal action (at least one nonzero entry expected)";
        ThrowError(env, "ERR_RANGE", msg.str());
      }
      if (p.actions && !m[p.actions[b]]) {
        std::ostringstream msg;
        msg << "categorical: actions[" << b << "] = " << p.actions[b] << " is masked out (it has probability 0)";
        ThrowError(env, "ERR_RANGE", msg.str());
      }
    }
  }
  // These element-wise kernels read host arrays; they run on the CPU for either device.
  const auto actions_copy = AsyncIndexCopy(async, p.actions, p.B);  // see AsyncIndexCopy
  if (actions_copy) p.actions = actions_copy->data();
  return RunKernel(info, async, [p, actions_copy] { CategoricalCpu(p); }, KeepArgs{2, 12});
}

}  // namespace

RLCORE_EXPORT(categorical, CategoricalBinding);

}  // namespace rlcore
