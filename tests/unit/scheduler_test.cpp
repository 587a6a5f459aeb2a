// Scheduler scenarios without a model: budget filling, chunked prefill, max_seqs,
// preemption and resume order, and removal freeing blocks.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/scheduler.h"

namespace kvinfer {
namespace {

constexpr int kBlockSize = 16;

class SchedulerTest : public ::testing::Test {
 protected:
  void make(int32_t n_blocks, int max_batch_tokens, int max_seqs) {
    kv_ = std::make_unique<KvCacheManager>(n_blocks, kBlockSize, false, 0);
    scheduler_ = std::make_unique<Scheduler>(*kv_, SchedulerConfig{max_batch_tokens, max_seqs});
  }

  Sequence* add(int n_prompt, int first_token = 100) {
    auto seq = std::make_unique<Sequence>();
    seq->id = SeqId{static_cast<int64_t>(sequences_.size())};
    for (int i = 0; i < n_prompt; ++i) seq->tokens.push_back(TokenId{first_token + i});
    seq->n_prompt = n_prompt;
    seq->max_positions = n_prompt + 64;
    sequences_.push_back(std::move(seq));
    scheduler_->add_waiting(sequences_.back().get());
    return sequences_.back().get();
  }

  // Plans a step and applies it as the engine would: K/V computed, and one new token
  // for every chunk that ends at its sequence's last token.
  StepPlan step() {
    StepPlan plan;
    scheduler_->schedule(plan);
    for (const ScheduledChunk& chunk : plan.chunks) {
      chunk.seq->n_computed = chunk.end;
      if (chunk.needs_logits) chunk.seq->tokens.push_back(TokenId{7});
    }
    return plan;
  }

  std::unique_ptr<KvCacheManager> kv_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::unique_ptr<Sequence>> sequences_;
};

TEST_F(SchedulerTest, LongPromptIsPrefilledInChunks) {
  make(64, 16, 8);
  Sequence* seq = add(40);
  StepPlan first = step();
  ASSERT_EQ(first.chunks.size(), 1u);
  EXPECT_EQ(first.chunks[0].begin, 0);
  EXPECT_EQ(first.chunks[0].end, 16);
  EXPECT_FALSE(first.chunks[0].needs_logits);

  StepPlan second = step();
  EXPECT_EQ(second.chunks[0].begin, 16);
  EXPECT_EQ(second.chunks[0].end, 32);

  StepPlan third = step();
  EXPECT_EQ(third.chunks[0].end, 40);
  EXPECT_TRUE(third.chunks[0].needs_logits);
  EXPECT_EQ(seq->tokens.size(), 41u);

  StepPlan decode = step();
  EXPECT_EQ(decode.chunks[0].begin, 40);
  EXPECT_EQ(decode.chunks[0].end, 41);
}

TEST_F(SchedulerTest, DecodesFirstThenPrefillFillsBudget) {
  make(64, 16, 8);
  Sequence* a = add(4);
  Sequence* b = add(4);
  Sequence* c = add(4);
  step();  // prefills all three: 12 tokens
  Sequence* late = add(100);

  StepPlan plan = step();
  ASSERT_EQ(plan.chunks.size(), 4u);
  EXPECT_EQ(plan.chunks[0].seq, a);
  EXPECT_EQ(plan.chunks[1].seq, b);
  EXPECT_EQ(plan.chunks[2].seq, c);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(plan.chunks[i].end - plan.chunks[i].begin, 1);
  EXPECT_EQ(plan.chunks[3].seq, late);
  EXPECT_EQ(plan.chunks[3].end - plan.chunks[3].begin, 13);
  EXPECT_EQ(plan.n_tokens, 16);
}

TEST_F(SchedulerTest, MaxSeqsLimitsRunning) {
  make(64, 64, 2);
  add(4);
  add(4);
  Sequence* third = add(4);
  step();
  EXPECT_EQ(scheduler_->n_running(), 2u);
  EXPECT_EQ(scheduler_->n_waiting(), 1u);
  EXPECT_EQ(third->n_computed, 0);
}

TEST_F(SchedulerTest, WaitingQueueIsFirstComeFirstServed) {
  make(4, 64, 8);
  Sequence* big = add(48);    // 3 blocks
  Sequence* second = add(40);  // 3 blocks: waits behind nothing, but the pool is full
  Sequence* small = add(4);   // would fit, but must not overtake `second`
  step();
  EXPECT_EQ(scheduler_->n_running(), 1u);
  EXPECT_EQ(big->n_computed, 48);
  EXPECT_EQ(second->n_computed, 0);
  EXPECT_EQ(small->n_computed, 0);
}

TEST_F(SchedulerTest, PreemptsMostRecentAndResumesIt) {
  make(3, 64, 8);  // 48 positions in all
  Sequence* old = add(16);
  Sequence* recent = add(16);
  step();  // both prefilled: 2 blocks in use, each sequence has 17 tokens
  EXPECT_EQ(kv_->n_free_blocks(), 1);

  // Both need a second block for their 17th token; only one is free. `old` gets it and
  // `recent`, admitted last, is preempted.
  StepPlan plan = step();
  ASSERT_EQ(plan.preempted.size(), 1u);
  EXPECT_EQ(plan.preempted[0], recent);
  ASSERT_EQ(plan.chunks.size(), 1u);
  EXPECT_EQ(plan.chunks[0].seq, old);
  EXPECT_EQ(recent->n_computed, 0);
  EXPECT_EQ(recent->tokens.size(), 17u);  // its generated token is kept
  EXPECT_EQ(scheduler_->n_waiting(), 1u);
  EXPECT_EQ(scheduler_->n_preemptions(), 1);

  // Once `old` is gone, `recent` is readmitted and recomputes prompt and output.
  scheduler_->remove(old);
  StepPlan resume = step();
  ASSERT_EQ(resume.chunks.size(), 1u);
  EXPECT_EQ(resume.chunks[0].seq, recent);
  EXPECT_EQ(resume.chunks[0].begin, 0);
  EXPECT_EQ(resume.chunks[0].end, 17);
  EXPECT_TRUE(resume.chunks[0].needs_logits);
}

TEST_F(SchedulerTest, SequenceThatNeverFitsIsReported) {
  make(2, 64, 8);
  Sequence* huge = add(40);  // 3 blocks > 2
  StepPlan plan = step();
  ASSERT_EQ(plan.never_fit.size(), 1u);
  EXPECT_EQ(plan.never_fit[0], huge);
  EXPECT_EQ(scheduler_->n_waiting(), 0u);
}

TEST_F(SchedulerTest, RemoveFreesBlocksOfRunningAndWaiting) {
  make(8, 64, 8);
  Sequence* running = add(40);
  step();
  Sequence* waiting = add(16);
  EXPECT_EQ(kv_->n_free_blocks(), 5);
  scheduler_->remove(running);
  scheduler_->remove(waiting);
  EXPECT_EQ(kv_->n_free_blocks(), 8);
  EXPECT_EQ(scheduler_->n_running(), 0u);
  EXPECT_EQ(scheduler_->n_waiting(), 0u);
}

}  // namespace
}  // namespace kvinfer
