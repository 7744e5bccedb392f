// GAE over token sequences on the GPU, with the semantics of native/kernels/token_gae.cc
// (Schulman et al. 2016, arXiv:1506.02438, as used for PPO on language models):
//
//   δ_t = r_t + [t = last] R + γ V_{t+1} - V_t,   V after the last token = 0
//   A_t = δ_t + γ λ A_{t+1},   A after the last token = 0,   G_t = A_t + V_t
//
// Every layout is scanned as ONE column of all tokens in memory order (packed: sequences back to
// back; padded: rows of L), so loads are coalesced whatever the lengths. A sequence's last token
// has c = 0 and the scan is segmented (cuda/scan.cuh), so sequences stay independent exactly as
// when the CPU scans them one by one. With a mask, "t+1" is the next valid token of the row: a
// first scan finds U_t (R at the last token, else γ V of the next valid token), a second one
// computes A with masked-out tokens passing A through (and getting A = G = 0).
#include <cuda_runtime.h>

#include <vector>

#include "../native/kernels/token_gae.h"
#include "backend.h"
#include "bench.cuh"
#include "common.cuh"
#include "inputs.cuh"
#include "scan.cuh"

namespace rlcore::cuda {
namespace {

// Where token i sits: its sequence and whether it is that sequence's last token.
struct TokenLayout {
  size_t B, L;                    // L > 0: padded rows of L tokens
  const unsigned long long* starts;  // packed: [B+1] first token of each sequence, starts[B] = total
  const float* terminal_rewards;  // [B] or null

  __host__ __device__ __forceinline__ void Locate(size_t i, size_t* b, bool* last) const {
    if (L) {
      *b = i / L;
      *last = i % L == L - 1;
      return;
    }
    // The sequence b with starts[b] <= i < starts[b + 1] (empty sequences are never found).
    size_t lo = 0, hi = B;
    while (hi - lo > 1) {
      const size_t mid = (lo + hi) / 2;
      if (Ldg(starts + mid) <= i) lo = mid;
      else hi = mid;
    }
    *b = lo;
    *last = i + 1 == Ldg(starts + lo + 1);
  }
  __host__ __device__ __forceinline__ double Terminal(size_t b) const {
    return terminal_rewards ? static_cast<double>(Ldg(terminal_rewards + b)) : 0.0;
  }
};

// Every token valid: a = r + (last ? R : γ V_{t+1}) - V, c = last ? 0 : γλ.
struct SequenceOp {
  TokenLayout layout;
  const float* rewards;  // or null
  const float* values;
  float* advantages;
  float* returns;  // or null
  double g, gl;
  __host__ __device__ double Boundary(size_t) const { return 0.0; }
  __host__ __device__ void Coefs(size_t i, size_t, double& a, double& c) const {
    size_t b;
    bool last;
    layout.Locate(i, &b, &last);
    const double next = last ? layout.Terminal(b) : g * Ldg(values + i + 1);
    a = (rewards ? static_cast<double>(Ldg(rewards + i)) : 0.0) + next - Ldg(values + i);
    c = last ? 0.0 : gl;
  }
  __host__ __device__ void Write(size_t i, size_t, double y) const {
    advantages[i] = static_cast<float>(y);
    if (returns) returns[i] = static_cast<float>(y + Ldg(values + i));
  }
};

// Masked rows, pass 1: U_t = m_{t+1} γ V_{t+1} + (1 - m_{t+1}) U_{t+1}, U_{L-1} = R, into advantages.
struct NextValueOp {
  TokenLayout layout;
  const float* values;
  const uint8_t* mask;
  float* advantages;
  double g;
  __host__ __device__ double Boundary(size_t) const { return 0.0; }
  __host__ __device__ void Coefs(size_t i, size_t, double& a, double& c) const {
    size_t b;
    bool last;
    layout.Locate(i, &b, &last);
    const bool on = !last && Ldg(mask + i + 1) != 0;
    a = last ? layout.Terminal(b) : on ? g * Ldg(values + i + 1) : 0.0;
    c = (last || on) ? 0.0 : 1.0;
  }
  __host__ __device__ void Write(size_t i, size_t, double y) const { advantages[i] = static_cast<float>(y); }
};

// Masked rows, pass 2: a = m (r + U - V), c = m ? γλ : 1 (0 at a row's last token); reads U_t
// from advantages[i] before it writes advantages[i] (see the Coefs/Write rule in scan.cuh).
struct MaskedOp {
  TokenLayout layout;
  const float* rewards;  // or null
  const float* values;
  const uint8_t* mask;
  float* advantages;
  float* returns;  // or null
  double gl;
  __host__ __device__ double Boundary(size_t) const { return 0.0; }
  __host__ __device__ void Coefs(size_t i, size_t, double& a, double& c) const {
    const bool on = Ldg(mask + i) != 0, last = i % layout.L == layout.L - 1;
    const double rt = rewards ? static_cast<double>(Ldg(rewards + i)) : 0.0;
    a = on ? rt + advantages[i] - Ldg(values + i) : 0.0;
    c = last ? 0.0 : on ? gl : 1.0;
  }
  __host__ __device__ void Write(size_t i, size_t, double y) const {
    const bool on = Ldg(mask + i) != 0;
    advantages[i] = on ? static_cast<float>(y) : 0.f;
    if (returns) returns[i] = on ? static_cast<float>(y + Ldg(values + i)) : 0.f;
  }
};

// The scans of token GAE over `total` tokens; scan(op, T, N) runs one (ReverseScan on a stream
// here, a host loop in cuda/test).
template <class Scan>
void TokenGaeScans(const TokenLayout& layout, size_t total, const float* rewards, const float* values,
                   const uint8_t* mask, float gamma, float lambda, float* advantages, float* returns, Scan&& scan) {
  if (total == 0) return;
  const double g = gamma, gl = static_cast<double>(gamma) * lambda;
  if (mask) {
    scan(NextValueOp{layout, values, mask, advantages, g}, total, 1);
    scan(MaskedOp{layout, rewards, values, mask, advantages, returns, gl}, total, 1);
  } else {
    scan(SequenceOp{layout, rewards, values, advantages, returns, g, gl}, total, 1);
  }
}

// Runs token GAE on device arrays.
void Run(const TokenLayout& layout, size_t total, const float* rewards, const float* values, const uint8_t* mask,
         float gamma, float lambda, float* advantages, float* returns, cudaStream_t s) {
  TokenGaeScans(layout, total, rewards, values, mask, gamma, lambda, advantages, returns,
                [s](const auto& op, size_t T, size_t N) { ReverseScan(op, T, N, s); });
}

// Packed layout: the first token of every sequence, then the total.
std::vector<unsigned long long> SequenceStarts(const TokenGaeProblem& p) {
  std::vector<unsigned long long> starts(p.B + 1);
  for (size_t b = 0; b <= p.B; ++b) {
    if (p.offsets) starts[b] = static_cast<unsigned long long>(p.offsets[b]);
    else starts[b] = b == 0 ? 0 : starts[b - 1] + static_cast<unsigned long long>(p.lengths[b - 1]);
  }
  return starts;
}

BenchResult TokenGaeBench(size_t T, size_t N, int iters) {
  // N padded rows of T tokens, no mask, per-token and terminal rewards.
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t total = T * N;
  DeviceBuffer rewards(total * 4, s), values(total * 4, s), terminal(N * 4, s), adv(total * 4, s), ret(total * 4, s);
  FillUniform(rewards.as<float>(), total, 1, -1.f, 1.f, s);
  FillUniform(values.as<float>(), total, 2, -1.f, 1.f, s);
  FillUniform(terminal.as<float>(), N, 3, -1.f, 1.f, s);
  const TokenLayout layout{N, T, nullptr, terminal.as<float>()};
  BenchResult r;
  r.ms = TimeLaunches([&] {
    Run(layout, total, rewards.as<float>(), values.as<float>(), nullptr, 1.f, 0.95f, adv.as<float>(), ret.as<float>(), s);
  }, iters, s);
  r.elements = static_cast<double>(total);
  r.bytes = static_cast<double>(total) * (4 + 4 + 4 + 4) + static_cast<double>(N) * 4;  // read r, v, R; write A, G
  r.path = scan::ReverseScanPath(total, 1) + " segmented";
  return r;
}

}  // namespace

void TokenGae(const TokenGaeProblem& p) {
  if (p.total == 0) return;
  Stream stream;
  const cudaStream_t s = stream.get();
  const size_t total = p.total;
  const std::vector<unsigned long long> host_starts = p.L ? std::vector<unsigned long long>() : SequenceStarts(p);
  DeviceBuffer starts = ToDevice(p.L ? nullptr : host_starts.data(), host_starts.size(), s);
  DeviceBuffer rewards = ToDevice(p.rewards, total, s), values = ToDevice(p.values, total, s),
               mask = ToDevice(p.mask, total, s), terminal = ToDevice(p.terminal_rewards, p.B, s),
               adv(total * sizeof(float), s), ret(p.returns ? total * sizeof(float) : 0, s);
  const TokenLayout layout{p.B, p.L, starts.as<unsigned long long>(), terminal.as<float>()};
  Run(layout, total, rewards.as<float>(), values.as<float>(), mask.as<uint8_t>(), p.gamma, p.lambda,
      adv.as<float>(), ret.as<float>(), s);
  ToHost(p.advantages, adv, total, s);
  ToHost(p.returns, ret, total, s);
  stream.Sync();
}

RLCORE_CUDA_BENCH(token_gae, TokenGaeBench);

}  // namespace rlcore::cuda
