// Group-relative advantages (GRPO and relatives) on the GPU, with the semantics of
// native/kernels/group_normalize.cc: A_i = (r_i - μ_g) s_g with the per-group scale s_g of the
// mode (grpo: 1/(σ_g + eps), mean: 1, batchStd: 1/(σ_batch + eps), rloo: n_g/(n_g - 1), 0 for a
// group of one); a group whose rewards are all equal is flagged in zero_groups.
//
// Contiguous groups (groupSize): one warp per group, reading it coalesced, deterministic.
// Scattered groups (groupIds): float64 atomics accumulate sums and counts, then squared
// deviations from the group means (two passes, as on the CPU); the order of the atomic
// additions varies, so results may differ from run to run in the last bits.
#include <cuda_runtime.h>

#include <cmath>

#include "../native/kernels/group_normalize.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "moments.cuh"

namespace rlcore::cuda {
namespace {

struct GroupArgs {
  size_t B, num_groups, group_size;
  const int32_t* group_ids;  // or null (contiguous groups of group_size)
  const float* rewards;
  GroupMode mode;
  double eps, batch_std;
  bool unbiased;
  float* advantages;
  uint8_t* zero_groups;
  float* group_mean;  // or null
  float* group_std;   // or null
};

__device__ __forceinline__ double Scale(const GroupArgs& p, const DeviceMoments& m) {
  switch (p.mode) {
    case GroupMode::kGrpo: return 1.0 / (MomentsStd(m, p.unbiased) + p.eps);
    case GroupMode::kMean: return 1.0;
    case GroupMode::kBatchStd: return 1.0 / (p.batch_std + p.eps);
    case GroupMode::kRloo: return m.count > 1.0 ? m.count / (m.count - 1.0) : 0.0;
  }
  return 0.0;
}

__device__ __forceinline__ double WarpSum(double v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// One warp per contiguous group of G rewards.
__global__ void __launch_bounds__(256) ContiguousKernel(GroupArgs p) {
  const size_t G = p.group_size;
  const int lane = threadIdx.x & 31;
  const size_t warps = static_cast<size_t>(gridDim.x) * (blockDim.x / 32);
  for (size_t g = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / 32; g < p.num_groups; g += warps) {
    const float* r = p.rewards + g * G;
    double sum = 0.0;
    float lo = r[0], hi = r[0];
    for (size_t i = lane; i < G; i += 32) {
      const float v = __ldg(r + i);
      sum += v;
      lo = fminf(lo, v);
      hi = fmaxf(hi, v);
    }
    sum = WarpSum(sum);
    for (int offset = 16; offset > 0; offset /= 2) {
      lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, offset));
      hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, offset));
    }
    const double count = static_cast<double>(G), mean = sum / count;
    double m2 = 0.0;
    for (size_t i = lane; i < G; i += 32) {
      const double d = static_cast<double>(__ldg(r + i)) - mean;
      m2 += d * d;
    }
    m2 = WarpSum(m2);
    const DeviceMoments m{count, mean, m2};
    const double scale = Scale(p, m);
    float* a = p.advantages + g * G;
    for (size_t i = lane; i < G; i += 32) a[i] = static_cast<float>((static_cast<double>(__ldg(r + i)) - mean) * scale);
    if (lane == 0) {
      p.zero_groups[g] = lo == hi ? 1 : 0;
      if (p.group_mean) p.group_mean[g] = static_cast<float>(mean);
      if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd(m, p.unbiased));
    }
  }
}

// Scattered groups: per-group accumulators in device memory.
struct GroupAccumulators {
  double* sum;    // [G] sums, then means
  double* count;  // [G]
  double* m2;     // [G]
  float* lo;      // [G]
  float* hi;      // [G]
};

// Float min / max through integer atomics on the IEEE bit pattern (non-negative floats order like
// signed ints; negative ones in reverse, like unsigned ints).
__device__ __forceinline__ void AtomicMinFloat(float* addr, float v) {
  if (!signbit(v)) atomicMin(reinterpret_cast<int*>(addr), __float_as_int(v));
  else atomicMax(reinterpret_cast<unsigned*>(addr), __float_as_uint(v));
}
__device__ __forceinline__ void AtomicMaxFloat(float* addr, float v) {
  if (!signbit(v)) atomicMax(reinterpret_cast<int*>(addr), __float_as_int(v));
  else atomicMin(reinterpret_cast<unsigned*>(addr), __float_as_uint(v));
}

__global__ void InitKernel(GroupAccumulators acc, size_t G) {
  for (size_t g = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; g < G;
       g += static_cast<size_t>(gridDim.x) * blockDim.x) {
    acc.sum[g] = acc.count[g] = acc.m2[g] = 0.0;
    acc.lo[g] = INFINITY;
    acc.hi[g] = -INFINITY;
  }
}

__global__ void SumKernel(GroupArgs p, GroupAccumulators acc) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < p.B;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int32_t g = __ldg(p.group_ids + i);
    const float r = __ldg(p.rewards + i);
    atomicAdd(acc.sum + g, static_cast<double>(r));
    atomicAdd(acc.count + g, 1.0);
    AtomicMinFloat(acc.lo + g, r);
    AtomicMaxFloat(acc.hi + g, r);
  }
}

__global__ void MeanKernel(GroupAccumulators acc, size_t G) {
  for (size_t g = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; g < G;
       g += static_cast<size_t>(gridDim.x) * blockDim.x) {
    acc.sum[g] = acc.count[g] > 0.0 ? acc.sum[g] / acc.count[g] : 0.0;
  }
}

__global__ void DeviationKernel(GroupArgs p, GroupAccumulators acc) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < p.B;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int32_t g = __ldg(p.group_ids + i);
    const double d = static_cast<double>(__ldg(p.rewards + i)) - acc.sum[g];
    atomicAdd(acc.m2 + g, d * d);
  }
}

// Per group: scale (into m2's slot once read), flags, means, stds; counts non-empty groups.
__global__ void FinishGroupsKernel(GroupArgs p, GroupAccumulators acc, double* nonempty) {
  for (size_t g = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; g < p.num_groups;
       g += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const DeviceMoments m{acc.count[g], acc.sum[g], acc.m2[g]};
    p.zero_groups[g] = (m.count > 0.0 && acc.lo[g] == acc.hi[g]) ? 1 : 0;
    if (p.group_mean) p.group_mean[g] = static_cast<float>(m.mean);
    if (p.group_std) p.group_std[g] = static_cast<float>(MomentsStd(m, p.unbiased));
    acc.m2[g] = Scale(p, m);
    if (m.count > 0.0) atomicAdd(nonempty, 1.0);
  }
}

__global__ void ScatteredWriteKernel(GroupArgs p, GroupAccumulators acc) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < p.B;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int32_t g = __ldg(p.group_ids + i);
    p.advantages[i] = static_cast<float>((static_cast<double>(__ldg(p.rewards + i)) - acc.sum[g]) * acc.m2[g]);
  }
}

// Runs on device arrays; returns (through *nonempty, device) the number of non-empty groups for
// scattered groups. batch_std must already be in p.
void Launch(const GroupArgs& p, double* nonempty, cudaStream_t s) {
  if (p.group_ids == nullptr) {
    ContiguousKernel<<<GridFor(p.num_groups * 32, 256), 256, 0, s>>>(p);
    RLCORE_CUDA_CHECK_LAUNCH("ContiguousKernel");
    return;
  }
  const size_t G = p.num_groups;
  DeviceBuffer sums(G * 8, s), counts(G * 8, s), m2(G * 8, s), lo(G * 4, s), hi(G * 4, s);
  const GroupAccumulators acc{sums.as<double>(), counts.as<double>(), m2.as<double>(), lo.as<float>(), hi.as<float>()};
  InitKernel<<<GridFor(G, 256), 256, 0, s>>>(acc, G);
  RLCORE_CUDA_CHECK_LAUNCH("InitKernel");
  SumKernel<<<GridFor(p.B, 256), 256, 0, s>>>(p, acc);
  RLCORE_CUDA_CHECK_LAUNCH("SumKernel");
  MeanKernel<<<GridFor(G, 256), 256, 0, s>>>(acc, G);
  RLCORE_CUDA_CHECK_LAUNCH("MeanKernel");
  DeviationKernel<<<GridFor(p.B, 256), 256, 0, s>>>(p, acc);
  RLCORE_CUDA_CHECK_LAUNCH("DeviationKernel");
  RLCORE_CUDA_CHECK(cudaMemsetAsync(nonempty, 0, sizeof(double), s));
  FinishGroupsKernel<<<GridFor(G, 256), 256, 0, s>>>(p, acc, nonempty);
  RLCORE_CUDA_CHECK_LAUNCH("FinishGroupsKernel");
  ScatteredWriteKernel<<<GridFor(p.B, 256), 256, 0, s>>>(p, acc);
  RLCORE_CUDA_CHECK_LAUNCH("ScatteredWriteKernel");
}

BenchResult GroupNormalizeBench(size_t T, size_t N, int iters) {
  // B = T * N rewards in T contiguous groups of N (grpo).
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t B = T * N;
  DeviceBuffer rewards(B * 4, s), adv(B * 4, s), zero(T, s);
  FillUniform(rewards.as<float>(), B, 1, 0.f, 1.f, s);
  GroupArgs p{};
  p.B = B;
  p.num_groups = T;
  p.group_size = N;
  p.rewards = rewards.as<float>();
  p.mode = GroupMode::kGrpo;
  p.eps = 1e-6;
  p.unbiased = true;
  p.advantages = adv.as<float>();
  p.zero_groups = zero.as<uint8_t>();
  BenchResult r;
  r.ms = TimeLaunches([&] { Launch(p, nullptr, s); }, iters, s);
  r.elements = static_cast<double>(B);
  r.bytes = static_cast<double>(B) * (4 + 4) + static_cast<double>(T);  // read r; write adv, zero flags
  r.path = "contiguous, warp per group of " + std::to_string(N);
  return r;
}

}  // namespace

void GroupNormalize(const GroupNormalizeProblem& p) {
  Stream stream;
  const cudaStream_t s = stream.get();
  DeviceBuffer rewards = ToDevice(p.rewards, p.B, s), ids = ToDevice(p.group_ids, p.B, s), adv(p.B * 4, s),
               zero(p.num_groups, s), mean(p.group_mean ? p.num_groups * 4 : 0, s),
               std_(p.group_std ? p.num_groups * 4 : 0, s), scratch(sizeof(DeviceMoments) + sizeof(double), s);
  double batch_std = 0.0;
  if (p.mode == GroupMode::kBatchStd) {
    DeviceMoments m{};
    ComputeMoments(rewards.as<float>(), nullptr, p.B, scratch.as<DeviceMoments>(), s);
    RLCORE_CUDA_CHECK(cudaMemcpyAsync(&m, scratch.as<void>(), sizeof m, cudaMemcpyDeviceToHost, s));
    stream.Sync();
    batch_std = MomentsStd(m, p.unbiased);
  }
  GroupArgs args{p.B, p.num_groups, p.group_size, ids.as<int32_t>(), rewards.as<float>(), p.mode, p.eps, batch_std,
                 p.unbiased, adv.as<float>(), zero.as<uint8_t>(), mean.as<float>(), std_.as<float>()};
  double* nonempty = reinterpret_cast<double*>(scratch.as<char>() + sizeof(DeviceMoments));
  Launch(args, nonempty, s);
  double groups_nonempty = static_cast<double>(p.num_groups);
  ToHost(p.advantages, adv, p.B, s);
  ToHost(p.zero_groups, zero, p.num_groups, s);
  ToHost(p.group_mean, mean, p.num_groups, s);
  ToHost(p.group_std, std_, p.num_groups, s);
  if (p.group_ids) RLCORE_CUDA_CHECK(cudaMemcpyAsync(&groups_nonempty, nonempty, sizeof(double), cudaMemcpyDeviceToHost, s));
  stream.Sync();
  double zero_groups = 0.0;
  for (size_t g = 0; g < p.num_groups; ++g) zero_groups += p.zero_groups[g];
  p.summary[0] = zero_groups;
  p.summary[1] = groups_nonempty;
}

RLCORE_CUDA_BENCH(group_normalize, GroupNormalizeBench);

}  // namespace rlcore::cuda
