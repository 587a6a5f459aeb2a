// The step planner; see scheduler.h.
#include "engine/scheduler.h"

#include <algorithm>

namespace kvinfer {

void StepPlan::clear() {
  chunks.clear();
  copies.clear();
  preempted.clear();
  never_fit.clear();
  n_tokens = 0;
}

Scheduler::Scheduler(KvCacheManager& kv, const SchedulerConfig& config) : kv_(kv), config_(config) {
  running_.reserve(static_cast<size_t>(config.max_seqs) * 2);
}

void Scheduler::add_waiting(Sequence* seq) { waiting_.push_back(seq); }

void Scheduler::add_running(Sequence* seq) { running_.push_back(seq); }

void Scheduler::remove(Sequence* seq) {
  std::erase(running_, seq);
  std::erase(waiting_, seq);
  kv_.free(seq->id);
}

// One step, in three passes over a budget of max_batch_tokens:
//   1. every running sequence that is decoding gets one token, in admission order. When
//      the pool has no block for it, the most recently admitted sequence is preempted.
//      Its blocks are freed, and it goes back to the front of the waiting queue. Its full
//      blocks stay in the prefix cache, so recomputing it later is cheap;
//   2. running sequences still prefilling get the next chunk of their prompt;
//   3. waiting sequences are admitted first come, first served, while the budget,
//      max_seqs and the pool allow, each starting with a chunk of its prompt.
// A long prompt therefore never stalls running decodes, which always go first.
void Scheduler::schedule(StepPlan& plan) {
  plan.clear();
  int budget = config_.max_batch_tokens;
  schedule_decodes(plan, budget);
  schedule_prefills(plan, budget);
  admit_waiting(plan, budget);
  plan.n_tokens = config_.max_batch_tokens - budget;
}

void Scheduler::schedule_decodes(StepPlan& plan, int& budget) {
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence* seq = running_[i];
    if (seq->prefilling()) continue;
    if (!reserve_slots(seq, plan)) {
      --i;  // seq left running_; the next sequence now sits at index i
      continue;
    }
    plan.chunks.push_back({seq, seq->n_computed, seq->n_computed + 1, true});
    --budget;
  }
}

void Scheduler::schedule_prefills(StepPlan& plan, int& budget) {
  for (Sequence* seq : running_) {
    if (budget == 0) return;
    if (!seq->prefilling()) continue;
    const int n_left = static_cast<int>(seq->tokens.size()) - seq->n_computed;
    const int n = std::min(n_left, budget);
    plan.chunks.push_back({seq, seq->n_computed, seq->n_computed + n, n == n_left});
    budget -= n;
  }
}

void Scheduler::admit_waiting(StepPlan& plan, int& budget) {
  while (budget > 0 && !waiting_.empty() && static_cast<int>(running_.size()) < config_.max_seqs) {
    Sequence* seq = waiting_.front();
    std::optional<int> n_cached = kv_.admit(seq->id, seq->tokens, seq->cache_salt, seq->max_positions);
    if (!n_cached) {
      // Nothing else holds blocks, yet it does not fit: it never will.
      if (running_.empty() && kv_.blocks_for(static_cast<int64_t>(seq->tokens.size())) > kv_.pool().n_blocks()) {
        waiting_.pop_front();
        plan.never_fit.push_back(seq);
        continue;
      }
      return;  // first come, first served: later requests wait behind this one
    }
    waiting_.pop_front();
    seq->n_computed = *n_cached;
    if (seq->n_cached_tokens < 0) seq->n_cached_tokens = *n_cached;  // first admission only
    running_.push_back(seq);

    const int n_left = static_cast<int>(seq->tokens.size()) - seq->n_computed;
    const int n = std::min(n_left, budget);
    plan.chunks.push_back({seq, seq->n_computed, seq->n_computed + n, n == n_left});
    budget -= n;
  }
}

// Makes room in the cache for every token of `seq`, preempting the most recently
// admitted sequences as needed. Returns false when `seq` itself had to be preempted.
bool Scheduler::reserve_slots(Sequence* seq, StepPlan& plan) {
  const int n_missing = static_cast<int>(seq->tokens.size()) - kv_.n_positions(seq->id);
  if (n_missing <= 0) return true;
  while (!kv_.append_slots(seq->id, n_missing, plan.copies)) {
    Sequence* victim = running_.back();
    preempt(victim, plan);
    if (victim == seq) return false;
  }
  return true;
}

void Scheduler::preempt(Sequence* seq, StepPlan& plan) {
  running_.pop_back();
  kv_.free(seq->id);
  seq->n_computed = 0;
  waiting_.push_front(seq);
  plan.preempted.push_back(seq);
  ++n_preemptions_;
}

}  // namespace kvinfer
