// Process-wide persistent thread pool shared by every addon instance (main thread and worker_threads).
#pragma once
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

}  // namespace rlcore
