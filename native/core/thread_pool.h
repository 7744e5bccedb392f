// Process-wide persistent thread pool shared by every addon instance (main thread and worker_threads).
#pragma once
#include <cstddef>
#include <functional>

namespace rlcore {

/// Number of threads ParallelFor may use (the calling thread included).
int NumThreads();
/// Sets the thread count (1 disables threading). Takes effect at the next ParallelFor.
void SetNumThreads(int n);

/// Runs fn(begin, end) over [0, count) split into at most NumThreads() contiguous chunks of at
/// least `grain` items. The calling thread takes part. If the pool is busy (another thread or a
/// nested call is using it) the whole range runs inline on the caller: never deadlocks, never
/// spawns threads per call.
void ParallelFor(size_t count, size_t grain, const std::function<void(size_t, size_t)>& fn);

}  // namespace rlcore
