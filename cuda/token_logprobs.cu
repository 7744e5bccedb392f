// Token log-probs, entropies and the backward pass to the logits on the GPU, with the semantics
// of native/llm/token_logprobs.cc (z = logits / τ; lse, log π(target), H = lse − Σ p z; dL/dz =
// g (1[v = t] − p) − h p (log p + H)). One block per row: each thread keeps an online
// log-sum-exp triple (max m, S = Σ e^{z−m}, W = Σ e^{z−m}(z − m)) over its strided part of the
// row (float4 loads when V % 4 = 0), then the block merges the triples (shuffles, then shared
// memory). The softmax is never stored: the forward reads the row once, the backward reads it
// once more and writes the gradient. Reductions run in float32 per thread (the CPU kernel sums
// in float64), so results agree to float32 rounding, not bit for bit.
#include <cuda_runtime.h>

#include <cfloat>
#include <cmath>

#include "../native/llm/llm.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"

namespace rlcore::cuda {
namespace {

constexpr int kThreads = 256;

struct Lse {
  float m, s, w;
};

__device__ __forceinline__ Lse Merge(Lse a, Lse b) {
  if (b.s == 0.f) return a;
  if (a.s == 0.f) return b;
  if (b.m > a.m) {
    const Lse t = a;
    a = b, b = t;
  }
  const float d = b.m - a.m;  // ≤ 0
  const float sc = __expf(d);
  return Lse{a.m, a.s + sc * b.s, a.w + sc * (b.w + d * b.s)};
}

__device__ __forceinline__ void Push(Lse& a, float z) {
  if (z == -INFINITY) return;  // masked vocabulary
  if (a.s == 0.f) {
    a = Lse{z, 1.f, 0.f};
  } else if (z > a.m) {
    const float d = a.m - z, sc = __expf(d);
    a.w = sc * (a.w + d * a.s);
    a.s = a.s * sc + 1.f;
    a.m = z;
  } else {
    const float d = z - a.m, e = __expf(d);
    a.s += e, a.w += e * d;
  }
}

__device__ Lse BlockMerge(Lse v) {
  __shared__ Lse part[kThreads / 32];
  for (int o = 16; o > 0; o /= 2) {
    const Lse other{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o),
                    __shfl_xor_sync(0xffffffffu, v.w, o)};
    v = Merge(v, other);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kThreads / 32 ? part[lane] : Lse{0.f, 0.f, 0.f};
    for (int o = 16; o > 0; o /= 2) {
      const Lse other{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o),
                      __shfl_xor_sync(0xffffffffu, v.w, o)};
      v = Merge(v, other);
    }
    if (lane == 0) part[0] = v;
  }
  __syncthreads();
  return part[0];
}

struct Args {
  size_t M, V;
  const float* logits;
  const int32_t* targets;
  float inv_temp;
  float* log_prob;  // [M] (forward)
  float* entropy;   // [M]
  float* lse;       // [M]
  const float* grad_log_prob;  // [M] or null (backward)
  const float* grad_entropy;   // [M] or null
  float* grad_logits;          // [M, V]
};

__global__ void __launch_bounds__(kThreads) ForwardKernel(Args p) {
  for (size_t m = blockIdx.x; m < p.M; m += gridDim.x) {
    const float* x = p.logits + m * p.V;
    Lse acc{0.f, 0.f, 0.f};
    if ((p.V & 3) == 0) {
      const float4* x4 = reinterpret_cast<const float4*>(x);
      for (size_t i = threadIdx.x; i < p.V / 4; i += kThreads) {
        const float4 q = __ldg(x4 + i);
        Push(acc, q.x * p.inv_temp), Push(acc, q.y * p.inv_temp), Push(acc, q.z * p.inv_temp), Push(acc, q.w * p.inv_temp);
      }
    } else {
      for (size_t i = threadIdx.x; i < p.V; i += kThreads) Push(acc, __ldg(x + i) * p.inv_temp);
    }
    const Lse r = BlockMerge(acc);
    if (threadIdx.x == 0) {
      const float log_s = logf(r.s);
      p.log_prob[m] = (x[p.targets[m]] * p.inv_temp - r.m) - log_s;
      p.entropy[m] = log_s - r.w / r.s;
      p.lse[m] = r.m + log_s;
    }
    __syncthreads();  // part[] is reused by the next row
  }
}

__device__ __forceinline__ float Grad(float x, float inv_temp, float lse, float H, float g, float h) {
  float lp = x * inv_temp - lse;
  lp = lp < -100.f ? -100.f : lp;
  const float pr = lp < -87.f ? 0.f : __expf(lp);
  return -inv_temp * pr * (g + h * (lp + H));
}

__global__ void __launch_bounds__(kThreads) BackwardKernel(Args p) {
  // Grid: (blocks over the row, rows; rows beyond 65535 by a grid-stride loop). Each thread
  // writes 4 consecutive gradients per step.
  const size_t stride = static_cast<size_t>(gridDim.x) * kThreads;
  for (size_t m = blockIdx.y; m < p.M; m += gridDim.y) {
    const float* x = p.logits + m * p.V;
    float* out = p.grad_logits + m * p.V;
    const float lse = p.lse[m], H = p.entropy[m];
    const float g = p.grad_log_prob ? p.grad_log_prob[m] : 0.f, h = p.grad_entropy ? p.grad_entropy[m] : 0.f;
    const int32_t t = p.targets[m];
    if ((p.V & 3) == 0) {
      const float4* x4 = reinterpret_cast<const float4*>(x);
      float4* o4 = reinterpret_cast<float4*>(out);
      for (size_t i = blockIdx.x * static_cast<size_t>(kThreads) + threadIdx.x; i < p.V / 4; i += stride) {
        const float4 q = __ldg(x4 + i);
        float4 r{Grad(q.x, p.inv_temp, lse, H, g, h), Grad(q.y, p.inv_temp, lse, H, g, h),
                 Grad(q.z, p.inv_temp, lse, H, g, h), Grad(q.w, p.inv_temp, lse, H, g, h)};
        const size_t v0 = 4 * i;
        if (static_cast<size_t>(t) - v0 < 4) (&r.x)[t - v0] += p.inv_temp * g;
        o4[i] = r;
      }
    } else {
      for (size_t v = blockIdx.x * static_cast<size_t>(kThreads) + threadIdx.x; v < p.V; v += stride) {
        out[v] = Grad(__ldg(x + v), p.inv_temp, lse, H, g, h) + (v == static_cast<size_t>(t) ? p.inv_temp * g : 0.f);
      }
    }
  }
}

void LaunchForward(const Args& a, cudaStream_t s) {
  ForwardKernel<<<GridFor(a.M, 1, 1u << 16), kThreads, 0, s>>>(a);
  RLCORE_CUDA_CHECK_LAUNCH("tokenLogProbs forward");
}

void LaunchBackward(const Args& a, cudaStream_t s) {
  const size_t per_block = static_cast<size_t>(kThreads) * 4 * 8;  // 8 float4 steps per thread
  const dim3 grid(static_cast<unsigned>((a.V + per_block - 1) / per_block), static_cast<unsigned>(a.M < 65535 ? a.M : 65535));
  BackwardKernel<<<grid, kThreads, 0, s>>>(a);
  RLCORE_CUDA_CHECK_LAUNCH("tokenLogProbs backward");
}

BenchResult TokenLogProbsBench(size_t T, size_t N, int iters) {
  // T rows over a vocabulary of N: the forward (read the logits once).
  Stream stream;
  const cudaStream_t s = stream.get();
  DeviceBuffer logits(T * N * 4, s), targets(T * 4, s), lp(T * 4, s), ent(T * 4, s), lse(T * 4, s);
  FillUniform(logits.as<float>(), T * N, 1, -6.f, 6.f, s);
  RLCORE_CUDA_CHECK(cudaMemsetAsync(targets.as<void>(), 0, T * 4, s));
  Args a{T, N, logits.as<float>(), targets.as<int32_t>(), 1.f, lp.as<float>(), ent.as<float>(), lse.as<float>(),
         nullptr, nullptr, nullptr};
  BenchResult r;
  r.ms = TimeLaunches([&] { LaunchForward(a, s); }, iters, s);
  r.elements = static_cast<double>(T * N);
  r.bytes = static_cast<double>(T * N) * 4 + static_cast<double>(T) * 16;
  r.path = "block per row, online log-sum-exp";
  return r;
}

}  // namespace

void TokenLogProbs(const TokenLogProbsProblem& p) {
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t M = p.M, V = p.V;
  DeviceBuffer logits = ToDevice(p.logits, M * V, s), targets = ToDevice(p.targets, M, s);
  DeviceBuffer lp(M * 4, s), ent(M * 4, s), lse(M * 4, s);
  Args a{M, V, logits.as<float>(), targets.as<int32_t>(), static_cast<float>(p.inv_temp), lp.as<float>(),
         ent.as<float>(), lse.as<float>(), nullptr, nullptr, nullptr};
  if (p.grad_logits && p.saved_lse) {
    RLCORE_CUDA_CHECK(cudaMemcpyAsync(lse.as<void>(), p.saved_lse, M * 4, cudaMemcpyHostToDevice, s));
    if (p.saved_entropy) {
      RLCORE_CUDA_CHECK(cudaMemcpyAsync(ent.as<void>(), p.saved_entropy, M * 4, cudaMemcpyHostToDevice, s));
    } else {
      RLCORE_CUDA_CHECK(cudaMemsetAsync(ent.as<void>(), 0, M * 4, s));  // unused: gradEntropy is absent
    }
  } else {
    LaunchForward(a, s);
  }
  if (p.grad_logits) {
    DeviceBuffer gl = ToDevice(p.grad_log_prob, M, s), ge = ToDevice(p.grad_entropy, M, s), out(M * V * 4, s);
    a.grad_log_prob = gl.as<float>(), a.grad_entropy = ge.as<float>(), a.grad_logits = out.as<float>();
    LaunchBackward(a, s);
    ToHost(p.grad_logits, out, M * V, s);
    stream.Sync();
    return;
  }
  ToHost(p.log_prob, lp, M, s);
  ToHost(p.entropy, ent, M, s);
  ToHost(p.lse, lse, M, s);
  stream.Sync();
}

RLCORE_CUDA_BENCH(token_logprobs, TokenLogProbsBench);

}  // namespace rlcore::cuda
