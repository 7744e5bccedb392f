#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace rlcore {
namespace {

int DefaultThreads() {
  if (const char* env = std::getenv("RLCORE_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1 && n <= 1024) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

// Workers sleep on a condition variable and wake for each generation of work. Chunks are
// claimed through one atomic ticket (generation << 32 | next chunk), so a worker that is late
// from an earlier generation can never claim a chunk of the current one.
class Pool {
 public:
  void Run(size_t count, size_t grain, ChunkFn fn) {
    size_t threads = static_cast<size_t>(target_threads_.load());
    size_t chunks = std::min(threads, grain == 0 ? count : (count + grain - 1) / grain);
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (chunks <= 1 || !busy.owns_lock()) {
      if (count > 0) fn(0, count);
      return;
    }
    EnsureWorkers(chunks - 1);
    Work work{fn, count, chunks, 0};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      work.generation = generation_.load() + 1;
      work_ = work;
      pending_.store(chunks);
      ticket_.store(static_cast<uint64_t>(work.generation) << 32);
      generation_.store(work.generation);
    }
    wake_.notify_all();
    Drain(work);
    for (int i = 0; i < kSpinIterations && pending_.load() != 0; ++i) CpuRelax();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_.load() == 0; });
    // An exception in any chunk (say std::bad_alloc) reaches the caller, not std::terminate.
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  std::atomic<int> target_threads_{DefaultThreads()};

 private:
  // Waking a sleeping thread costs tens of microseconds on virtual machines, more than many
  // kernels take; workers and the caller spin this long before sleeping on a condition variable.
  static constexpr int kSpinIterations = 1 << 13;

  static void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
  }

  struct Work {
    ChunkFn fn;
    size_t count, chunks;
    uint32_t generation;
  };

  bool Claim(const Work& w, size_t* chunk) {
    uint64_t cur = ticket_.load();
    for (;;) {
      if (static_cast<uint32_t>(cur >> 32) != w.generation) return false;
      uint32_t next = static_cast<uint32_t>(cur);
      if (next >= w.chunks) return false;
      if (ticket_.compare_exchange_weak(cur, cur + 1)) {
        *chunk = next;
        return true;
      }
    }
  }
  void Drain(const Work& w) {
    for (size_t c; Claim(w, &c);) {
      size_t begin = w.count * c / w.chunks, end = w.count * (c + 1) / w.chunks;
      if (begin < end) {
        try {
          w.fn(begin, end);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex_);
          if (!error_) error_ = std::current_exception();
        }
      }
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // the waiter checks pending_ under this mutex
        done_.notify_one();
      }
    }
  }
  void EnsureWorkers(size_t n) {
    while (spawned_ < n) {
      std::thread([this] { WorkerLoop(); }).detach();
      ++spawned_;
    }
  }
  void WorkerLoop() {
    uint32_t seen = 0;
    for (;;) {
      for (int i = 0; i < kSpinIterations && generation_.load() == seen; ++i) CpuRelax();
      Work w;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        w = work_;
      }
      Drain(w);
    }
  }

  std::mutex run_mutex_;  // one ParallelFor at a time; others run inline
  std::mutex mutex_;      // guards work_; generation_ changes only under it
  std::condition_variable wake_, done_;
  std::mutex error_mutex_;   // guards error_ while chunks run
  std::exception_ptr error_;  // the first exception of the current Run
  size_t spawned_ = 0;
  Work work_{ChunkFn(), 0, 0, 0};
  std::atomic<size_t> pending_{0};
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint64_t> ticket_{0};
};

// Intentionally never destroyed: detached workers may still be parked on its condition
// variable at process exit. It stays reachable through this pointer, so it is not a leak.
Pool* ThePool() {
  static Pool* pool = new Pool();
  return pool;
}

}  // namespace

int NumThreads() { return ThePool()->target_threads_.load(); }
void SetNumThreads(int n) { ThePool()->target_threads_.store(std::max(1, std::min(n, 256))); }

void ParallelFor(size_t count, size_t grain, ChunkFn fn) {
  ThePool()->Run(count, grain, fn);
}

}  // namespace rlcore
