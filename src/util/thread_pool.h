// A fixed pool of worker threads for data-parallel kernels.
// Workers spin briefly between jobs (a decode step runs hundreds of short parallel
// regions, and waking a sleeping thread costs tens of microseconds), then sleep on an
// atomic wait so an idle server does not burn a core.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace kvinfer {

class ThreadPool {
 public:
  // Starts `n_threads - 1` workers; the calling thread is the last member of each job.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Runs fn(thread_idx, n_threads) once on every thread, the caller included, and
  // returns when all have finished. Not reentrant: fn must not call run().
  template <typename Fn>
  void run(Fn&& fn) {
    auto trampoline = [](void* context, int thread_idx, int n_threads) {
      (*static_cast<Fn*>(context))(thread_idx, n_threads);
    };
    run_job(trampoline, &fn);
  }

  // Splits [0, n) into one contiguous range per thread and runs fn(begin, end) on each
  // non-empty range. Ranges are multiples of `grain` except the last.
  template <typename Fn>
  void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    int64_t n_chunks = (n + grain - 1) / grain;
    if (n_threads_ == 1 || n_chunks == 1) {
      fn(int64_t{0}, n);
      return;
    }
    run([&](int thread_idx, int n_threads) {
      int64_t chunk_begin = n_chunks * thread_idx / n_threads;
      int64_t chunk_end = n_chunks * (thread_idx + 1) / n_threads;
      int64_t begin = chunk_begin * grain;
      int64_t end = chunk_end * grain < n ? chunk_end * grain : n;
      if (begin < end) fn(begin, end);
    });
  }

 private:
  using JobFn = void (*)(void* context, int thread_idx, int n_threads);

  void run_job(JobFn fn, void* context);
  void worker_loop(int thread_idx);

  int n_threads_;
  std::vector<std::thread> workers_;
  JobFn job_fn_ = nullptr;
  void* job_context_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // bumped to publish a job
  std::atomic<int> n_pending_{0};        // workers still running the current job
  std::atomic<bool> stopping_{false};
};

}  // namespace kvinfer
