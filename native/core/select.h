// Branch-free helpers for vectorisable loops. GCC will not if-convert `flag ? x : y` on floats
// when it sinks the loads into the branches; a bitwise select keeps the loop vectorisable.
#pragma once
#include <cstdint>
#include <cstring>

namespace rlcore {

/// `flag ? if_set : if_clear` without a branch (flag: any nonzero byte means set).
inline float Select(uint8_t flag, float if_set, float if_clear) {
  uint32_t a, b;
  std::memcpy(&a, &if_set, sizeof a);
  std::memcpy(&b, &if_clear, sizeof b);
  const uint32_t mask = 0u - static_cast<uint32_t>(flag != 0);
  const uint32_t bits = (a & mask) | (b & ~mask);
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace rlcore
