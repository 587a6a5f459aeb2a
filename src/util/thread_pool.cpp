// Spin-then-sleep worker pool; see thread_pool.h for why it spins.
#include "util/thread_pool.h"

#include "util/simd.h"

namespace kvinfer {
namespace {

// Pause-loop iterations before a waiting thread starts yielding its core (a few
// microseconds), and before an idle worker sleeps (about 100 microseconds). Yielding
// keeps an oversubscribed machine usable: a thread spinning on a core that another
// member of the job needs would stall the whole job for a time slice.
constexpr int kSpinsBeforeYield = 2000;
constexpr int kSpinsBeforeSleep = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// One step of a wait loop: pause while the wait is short, then yield.
inline void wait_step(int& spins) {
  if (++spins < kSpinsBeforeYield) {
    cpu_relax();
  } else {
    std::this_thread::yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 0; i + 1 < n_threads_; ++i) {
    workers_.emplace_back([this, i] { worker_loop(i); });
  }
}

ThreadPool::~ThreadPool() {
  stopping_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run_job(JobFn fn, void* context) {
  if (workers_.empty()) {
    fn(context, 0, 1);
    return;
  }

  // Publish the job, run the caller's share, then wait for the workers.
  job_fn_ = fn;
  job_context_ = context;
  n_pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();

  fn(context, n_threads_ - 1, n_threads_);

  int spins = 0;
  while (n_pending_.load(std::memory_order_acquire) != 0) wait_step(spins);
}

void ThreadPool::worker_loop(int thread_idx) {
  uint64_t seen = 0;
  while (true) {
    // Spin, then sleep until the generation moves past the last job seen.
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (int spins = 0; current == seen && spins < kSpinsBeforeSleep;) {
      wait_step(spins);
      current = generation_.load(std::memory_order_acquire);
    }
    while (current == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      current = generation_.load(std::memory_order_acquire);
    }
    seen = current;
    if (stopping_.load(std::memory_order_acquire)) return;

    job_fn_(job_context_, thread_idx, n_threads_);
    n_pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace kvinfer
