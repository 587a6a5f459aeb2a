// Iteration-level scheduling (Orca, OSDI 2022; vLLM): each step packs a token budget
// with one token per running decode, then prompt chunks, and sequences join or leave
// between steps. It decides with block counts and ids from the KV cache manager and
// never touches KV bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/sequence.h"
#include "kv/kv_cache_manager.h"

namespace kvinfer {

struct SchedulerConfig {
  int max_batch_tokens = 512;  // tokens per step
  int max_seqs = 64;           // running sequences
};

// Tokens [begin, end) of a sequence to run this step.
struct ScheduledChunk {
  Sequence* seq;
  int begin;
  int end;
  bool needs_logits;  // the chunk reaches the sequence's last token: sample after it
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;
  std::vector<BlockCopy> copies;        // copy these blocks before running the step
  std::vector<Sequence*> preempted;     // lost their blocks; they wait to be recomputed
  std::vector<Sequence*> never_fit;     // can never fit the pool; the engine ends them
  int n_tokens = 0;

  void clear();
};

class Scheduler {
 public:
  Scheduler(KvCacheManager& kv, const SchedulerConfig& config);

  // Queues a new sequence (first come, first served).
  void add_waiting(Sequence* seq);
  // Adds a sequence that already holds blocks (a fork of a running one) as running.
  void add_running(Sequence* seq);
  // Drops a sequence from the queues and frees its blocks.
  void remove(Sequence* seq);

  // Plans the next step into `plan` (cleared first).
  void schedule(StepPlan& plan);

  size_t n_running() const { return running_.size(); }
  size_t n_waiting() const { return waiting_.size(); }
  int64_t n_preemptions() const { return n_preemptions_; }
  const std::vector<Sequence*>& running() const { return running_; }

 private:
  void schedule_decodes(StepPlan& plan, int& budget);
  void schedule_prefills(StepPlan& plan, int& budget);
  void admit_waiting(StepPlan& plan, int& budget);
  bool reserve_slots(Sequence* seq, StepPlan& plan);
  void preempt(Sequence* seq, StepPlan& plan);

  KvCacheManager& kv_;
  SchedulerConfig config_;
  std::vector<Sequence*> running_;  // in admission order: the last is preempted first
  std::deque<Sequence*> waiting_;
  int64_t n_preemptions_ = 0;
};

}  // namespace kvinfer
