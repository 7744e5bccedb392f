// Process-wide persistent thread pool shared by every addon instance (main thread and worker_threads).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <type_traits>

namespace rlcore {

/// Number of threads ParallelFor may use (the calling thread included).
int NumThreads();
/// Sets the thread count (1 disables threading). Takes effect at the next ParallelFor.
void SetNumThreads(int n);

/// A non-owning reference to a callable fn(begin, end), valid while the call it is passed to
/// runs. Unlike std::function it never allocates (a lambda of more than two captured references
/// would make std::function allocate on every kernel call).
class ChunkFn {
 public:
  ChunkFn() = default;  // empty: not to be called
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ChunkFn>>>
  ChunkFn(F&& f)  // NOLINT: implicit, so that lambdas pass straight through
      : fn_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* fn, size_t begin, size_t end) { (*static_cast<std::remove_reference_t<F>*>(fn))(begin, end); }) {}
  void operator()(size_t begin, size_t end) const { call_(fn_, begin, end); }

 private:
  void* fn_ = nullptr;
  void (*call_)(void*, size_t, size_t) = nullptr;
};

/// Runs fn(begin, end) over [0, count) split into at most NumThreads() contiguous chunks of at
/// least `grain` items. The calling thread takes part. If the pool is busy (another thread or a
/// nested call is using it) the whole range runs inline on the caller: never deadlocks, never
/// spawns threads per call.
void ParallelFor(size_t count, size_t grain, ChunkFn fn);

/// Runs fn(w, i) for items i in [0, count) on up to `workers` threads, each item claimed by the
/// next free thread (a shared ticket): on a shared machine a thread slowed by other work on its
/// core then takes fewer items, where fixed shares would make the call wait for it. w < workers
/// tells the threads apart, for per-thread scratch the caller sized for `workers` (passed, not
/// asked again: the thread count may change meanwhile). For items of tens of microseconds or more.
template <class F>
void ParallelClaim(size_t workers, size_t count, F&& fn) {
  std::atomic<size_t> next{0};
  ParallelFor(std::min(workers, count), 1, [&](size_t w, size_t) {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < count;) fn(w, i);
  });
}

}  // namespace rlcore
