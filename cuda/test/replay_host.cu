// backend.h's Replay* functions on host memory: cuda/replay_store.cuh's entry points with plain
// loops in place of kernel launches, so that a ReplayBuffer created on the "device" runs its whole
// device path (replay_device.cc, the staging layouts, every functor of cuda/replay.cuh) on the
// host, next to a CPU ReplayBuffer (see CheckReplay in host_check.cc).
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "../replay.cuh"
#include "../replay_store.cuh"

namespace rlcore::cuda {
namespace replay_dev {

class HostMem {
 public:
  void* Alloc(size_t bytes) {
    blocks_.emplace_back(new uint64_t[(bytes + 7) / 8 + 1]);
    return blocks_.back().get();
  }
  uint8_t* Staging(size_t bytes) { return Grow(staging_, bytes); }
  uint8_t* Scratch(size_t bytes) { return Grow(scratch_, bytes); }
  void Up(void* dst, const void* src, size_t bytes) {
    if (bytes > 0) std::memcpy(dst, src, bytes);
  }
  void Down(void* dst, const void* src, size_t bytes) {
    if (bytes > 0) std::memcpy(dst, src, bytes);
  }
  template <class Fn>
  void ForEach(size_t n, const Fn& fn) {
    // Backwards: the device runs items in any order, so the result must not depend on it.
    for (size_t i = n; i-- > 0;) fn(i);
  }
  template <class Op>
  void ForFields(size_t num_fields, size_t rows, size_t, const Op& op) {
    for (size_t f = 0; f < num_fields; ++f) {
      const size_t units = op.FieldUnits(f);
      for (size_t i = rows * units; i-- > 0;) op.Field(f, i / units, i % units);
    }
  }
  void Sync() {}

 private:
  // Word-aligned, as device memory is.
  static uint8_t* Grow(std::vector<uint64_t>& v, size_t bytes) {
    if (v.size() * 8 < bytes) v.resize((bytes + 7) / 8);
    return reinterpret_cast<uint8_t*>(v.data());
  }
  std::vector<std::unique_ptr<uint64_t[]>> blocks_;
  std::vector<uint64_t> staging_, scratch_;
};

}  // namespace replay_dev

class ReplayStore : public replay_dev::StoreImpl<replay_dev::HostMem> {
 public:
  using StoreImpl::StoreImpl;
};

RLCORE_REPLAY_ENTRY_POINTS

}  // namespace rlcore::cuda
