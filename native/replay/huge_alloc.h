// Large zero-filled allocations on transparent huge pages. Replay sampling reads rows and tree
// nodes at random over hundreds of MiB: with 4 KiB pages nearly every access is a TLB miss (a
// page walk that even a prefetch waits for); one 2 MiB page covers 512 of them.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#ifdef __linux__
#include <sys/mman.h>
#endif

namespace rlcore::replay {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

/// `bytes` zeroed bytes, 2 MiB-aligned (64-byte-aligned when smaller) and, on Linux, advised
/// as huge pages. Throws std::bad_alloc.
inline void* HugeAlloc(size_t bytes) {
  constexpr size_t kHuge = size_t{1} << 21;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  const size_t rounded = bytes == 0 ? align : (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (!p) throw std::bad_alloc();
#ifdef __linux__
  if (align == kHuge) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  std::memset(p, 0, rounded);
  return p;
}

}  // namespace rlcore::replay
