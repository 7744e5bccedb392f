// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy
// as 1, 2, 3", SC 2011). A (key, counter) pair maps to four independent 32-bit words, so any
// element of any stream can be drawn in any order, on any thread or on the GPU, with the same
// result: same seed, same numbers. Header-only; usable from CUDA (__host__ __device__).
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define RLCORE_HD __host__ __device__ __forceinline__
#else
#define RLCORE_HD inline
#endif

namespace rlcore {

struct Philox4 {
  uint32_t v[4];
};

/// Philox4x32-10 of a 128-bit counter under a 64-bit key.
RLCORE_HD Philox4 Philox(uint64_t key, uint64_t counter_lo, uint64_t counter_hi = 0) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

/// Uniform float in [0, 1) from 24 random bits.
RLCORE_HD float UniformFloat(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

/// Uniform double in [0, 1) from 53 random bits.
RLCORE_HD double UniformDouble(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/// A sequential stream over Philox blocks: stream `stream` of seed `seed`. Cheap to construct;
/// give each environment / row / sample its own stream id for order-independent results.
class RandomStream {
 public:
  RLCORE_HD RandomStream(uint64_t seed, uint64_t stream, uint64_t offset = 0)
      : key_(seed), stream_(stream), counter_(offset) {}
  RLCORE_HD uint32_t NextU32() {
    if (used_ == 4) {
      block_ = Philox(key_, counter_++, stream_);
      used_ = 0;
    }
    return block_.v[used_++];
  }
  /// Uniform in [0, 1).
  RLCORE_HD double Uniform() {
    const uint32_t hi = NextU32();
    return UniformDouble(hi, NextU32());
  }
  /// Uniform in [lo, hi).
  RLCORE_HD double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  /// Uniform integer in [0, n) (n >= 1), by 64-bit multiply-shift (bias < 2^-32).
  RLCORE_HD uint32_t Below(uint32_t n) {
    return static_cast<uint32_t>((static_cast<uint64_t>(NextU32()) * n) >> 32);
  }
  /// Block counter: save it (with seed and stream) to resume the stream exactly.
  RLCORE_HD uint64_t Counter() const { return counter_; }

 private:
  uint64_t key_, stream_, counter_;
  Philox4 block_{{0, 0, 0, 0}};
  uint32_t used_ = 4;
};

}  // namespace rlcore
