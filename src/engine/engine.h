// The continuous-batching engine: runs on its own thread, takes requests from any
// thread, and each step runs one forward pass over the scheduled tokens of every running
// sequence, so the weights are read once per step for all of them. Requests stream
// OutputEvents back through a callback, which runs on the engine thread and must not
// block (hand the event to a queue).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/request.h"
#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "kv/kv_cache_manager.h"
#include "kv/kv_memory.h"
#include "model/llama_model.h"
#include "tokenizer/tokenizer.h"
#include "util/thread_pool.h"

namespace kvinfer {

struct EngineOptions {
  int n_threads = 2;
  int n_context = 4096;         // maximum sequence length, clipped to the model's context
  int64_t kv_tokens = 0;        // KV pool size in positions; 0 means max(n_context, 8192)
  int block_size = 16;
  DType kv_type = DType::F16;
  bool prefix_cache = true;
  int max_batch_tokens = 512;   // tokens per step
  int max_seqs = 64;            // running sequences
};

// Maximum samples (`n`) per request.
constexpr int kMaxSamplesPerRequest = 16;
// Maximum alternatives per token in a log-probabilities request.
constexpr int kMaxTopLogprobs = 20;

struct EngineStats {
  KvCacheStats kv;
  size_t n_running = 0;
  size_t n_waiting = 0;
  int64_t n_preemptions = 0;
  int64_t n_prompt_tokens = 0;      // prompt tokens computed (cached ones excluded)
  int64_t n_generation_tokens = 0;  // tokens sampled
  int64_t n_steps = 0;
};

using EventCallback = std::function<void(const OutputEvent&)>;

// A request and its sequences, owned by the engine thread.
struct RequestState {
  RequestId id;
  GenerationRequest request;
  EventCallback callback;
  std::vector<std::unique_ptr<Sequence>> sequences;
  int n_finished = 0;
  bool forked = false;
  Usage usage;
};

class Engine {
 public:
  // Allocates the KV pool and scratch, then starts the engine thread. Throws Error for
  // invalid options.
  Engine(const LlamaModel& model, const Tokenizer& tokenizer, const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  struct Submission {
    RequestId id;
    std::string error;  // non-empty: rejected at once, nothing was queued
  };

  // Validates and queues a request. A request that can never run (empty prompt, prompt
  // longer than the context or the pool, invalid sampling values) is rejected here.
  Submission submit(GenerationRequest request, EventCallback callback);

  // Cancels a request: its blocks are freed at the next step boundary and it ends with
  // finish reason "cancelled". Unknown or finished ids are ignored.
  void cancel(RequestId id);

  // Stops taking requests; with `drain`, finishes the queued and running ones first,
  // otherwise cancels them. Returns when the engine thread has exited.
  void shutdown(bool drain);

  EngineStats stats() const;
  int n_context() const { return n_context_; }
  const KvLayout& kv_layout() const { return kv_.layout(); }

 private:
  void loop();
  bool take_commands();
  void start_request(std::unique_ptr<RequestState> state);
  void cancel_request(RequestState& state);
  void step();
  void run_forward();
  void handle_logits(Sequence* seq, std::span<const float> logits);
  void fork_samples(Sequence* parent, std::span<const float> logits);
  void sample_token(Sequence* seq, std::span<const float> logits);
  void finish_sequence(Sequence* seq, const std::string& reason, std::string text);
  void fail_request(RequestState& state, const std::string& message);
  std::unique_ptr<Sequence> make_sequence(RequestState& state, int index, std::vector<TokenId> tokens);
  TokenLogprobs logprobs_of(std::span<const float> logits, TokenId chosen, int top) const;
  void publish_stats();

  const LlamaModel& model_;
  const Tokenizer& tokenizer_;
  EngineOptions options_;
  int n_context_;
  ThreadPool pool_;
  KvMemory kv_;
  KvCacheManager kv_manager_;
  Scheduler scheduler_;
  ForwardScratch scratch_;

  // Step buffers, sized once.
  StepPlan plan_;
  std::vector<TokenId> batch_tokens_;
  std::vector<int32_t> batch_positions_;
  std::vector<int32_t> batch_seq_indices_;
  std::vector<std::span<const int32_t>> batch_tables_;
  std::vector<int32_t> logit_indices_;
  std::vector<Sequence*> logit_sequences_;
  std::vector<float> logits_;
  std::vector<float> logprob_scratch_;

  // Owned by the engine thread.
  std::unordered_map<int64_t, std::unique_ptr<RequestState>> requests_;
  int64_t next_seq_id_ = 0;
  int64_t n_prompt_tokens_ = 0;
  int64_t n_generation_tokens_ = 0;
  int64_t n_steps_ = 0;

  // Shared with submitting threads.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::unique_ptr<RequestState>> incoming_;
  std::vector<RequestId> cancels_;
  int64_t next_request_id_ = 0;
  bool stopping_ = false;
  bool drain_ = false;
  EngineStats stats_;
  std::thread thread_;
};

}  // namespace kvinfer
