// Scenario tests of the block pool and the prefix cache, without a model: exact block
// ids, reference counts, hash chains, eviction order, salt isolation, copy-on-write.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "kv/block_pool.h"
#include "kv/kv_cache_manager.h"
#include "kv/prefix_hash.h"

namespace kvinfer {
namespace {

constexpr int kBlockSize = 16;
constexpr uint64_t kModelKey = 1234;

std::vector<TokenId> tokens(int n, int first = 100) {
  std::vector<TokenId> result(n);
  for (int i = 0; i < n; ++i) result[i] = TokenId{first + i};
  return result;
}

std::vector<int32_t> ids(std::span<const int32_t> table) { return {table.begin(), table.end()}; }

std::vector<int32_t> ids(const std::vector<BlockId>& blocks) {
  std::vector<int32_t> result;
  for (BlockId b : blocks) result.push_back(b.value);
  return result;
}

// Admits `seq` for `prompt`, marks the whole prompt computed, and returns the cached count.
int admit_and_compute(KvCacheManager& manager, SeqId seq, const std::vector<TokenId>& prompt, std::string_view salt = "") {
  std::optional<int> cached = manager.admit(seq, prompt, salt);
  EXPECT_TRUE(cached.has_value());
  manager.mark_computed(seq, prompt, static_cast<int>(prompt.size()));
  return cached.value_or(-1);
}

TEST(BlockPool, AllocatesInOrderAndQueuesReleasedAtTail) {
  BlockPool pool(4);
  EXPECT_EQ(pool.allocate()->value, 0);
  EXPECT_EQ(pool.allocate()->value, 1);
  EXPECT_EQ(pool.n_free(), 2);
  pool.release(BlockId{1});
  pool.release(BlockId{0});
  EXPECT_EQ(ids(pool.free_queue()), (std::vector<int32_t>{2, 3, 1, 0}));
  EXPECT_EQ(pool.ref_count(BlockId{0}), 0);
}

TEST(BlockPool, ReturnsNulloptWhenExhausted) {
  BlockPool pool(2);
  EXPECT_TRUE(pool.allocate());
  EXPECT_TRUE(pool.allocate());
  EXPECT_FALSE(pool.allocate());
}

TEST(BlockPool, AcquiringFreeCachedBlockRemovesItFromQueue) {
  BlockPool pool(3);
  BlockId block = *pool.allocate();
  pool.set_hash(block, BlockHash{77});
  pool.release(block);
  EXPECT_EQ(pool.find_cached(BlockHash{77})->value, block.value);
  pool.acquire(block);
  EXPECT_EQ(pool.ref_count(block), 1);
  EXPECT_EQ(ids(pool.free_queue()), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(pool.find_cached(BlockHash{77})->value, block.value);
}

TEST(BlockPool, AllocationEvictsLeastRecentlyReleased) {
  BlockPool pool(2);
  BlockId a = *pool.allocate();
  BlockId b = *pool.allocate();
  pool.set_hash(a, BlockHash{1});
  pool.set_hash(b, BlockHash{2});
  pool.release(b);
  pool.release(a);
  EXPECT_EQ(pool.allocate()->value, b.value);
  EXPECT_FALSE(pool.find_cached(BlockHash{2}));
  EXPECT_TRUE(pool.find_cached(BlockHash{1}));
  EXPECT_EQ(pool.n_evictions(), 1);
}

TEST(PrefixHash, ChainDependsOnParentTokensAndSalt) {
  std::vector<TokenId> block = tokens(kBlockSize);
  BlockHash parent = first_block_parent(kModelKey, "");
  EXPECT_EQ(hash_block(parent, block), hash_block(parent, block));
  EXPECT_NE(hash_block(parent, block), hash_block(parent, tokens(kBlockSize, 101)));
  EXPECT_NE(hash_block(parent, block), hash_block(first_block_parent(kModelKey, "tenant"), block));
  EXPECT_NE(hash_block(parent, block), hash_block(first_block_parent(kModelKey + 1, ""), block));
  BlockHash first = hash_block(parent, block);
  EXPECT_NE(hash_block(first, block), first);
}

TEST(KvCacheManager, FirstAdmitAllocatesFreshBlocks) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  EXPECT_EQ(admit_and_compute(manager, SeqId{1}, tokens(40)), 0);
  EXPECT_EQ(ids(manager.block_table(SeqId{1})), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(manager.n_free_blocks(), 5);

  // Blocks 0 and 1 are full, so they are cached; block 2 holds 8 tokens and is not.
  const BlockPool& pool = manager.pool();
  const std::vector<TokenId> prompt = tokens(40);
  BlockHash h0 = hash_block(first_block_parent(kModelKey, ""), std::span(prompt).first(16));
  BlockHash h1 = hash_block(h0, std::span(prompt).subspan(16, 16));
  EXPECT_EQ(pool.hash_of(BlockId{0}), h0);
  EXPECT_EQ(pool.hash_of(BlockId{1}), h1);
  EXPECT_FALSE(pool.hash_of(BlockId{2}));
}

TEST(KvCacheManager, FreeReleasesTailFirstAndKeepsHashes) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(40));
  manager.free(SeqId{1});
  EXPECT_EQ(ids(manager.pool().free_queue()), (std::vector<int32_t>{3, 4, 5, 6, 7, 2, 1, 0}));
  EXPECT_EQ(manager.stats().n_blocks_cached, 2);
  EXPECT_EQ(manager.stats().n_blocks_used, 0);
}

TEST(KvCacheManager, SecondAdmitReusesLongestPrefix) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(40));
  manager.free(SeqId{1});

  // Same first 40 tokens, then more: blocks 0 and 1 are reused, the rest is new.
  std::vector<TokenId> longer = tokens(50);
  EXPECT_EQ(admit_and_compute(manager, SeqId{2}, longer), 32);
  EXPECT_EQ(ids(manager.block_table(SeqId{2})), (std::vector<int32_t>{0, 1, 3, 4}));
  EXPECT_EQ(manager.pool().ref_count(BlockId{0}), 1);
  EXPECT_EQ(manager.stats().n_prefix_hit_tokens, 32);
  EXPECT_EQ(manager.stats().n_prefix_query_tokens, 90);
}

TEST(KvCacheManager, PrefixEndingMidBlockMatchesWholeBlocksOnly) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(40));
  std::vector<TokenId> diverging = tokens(40);
  diverging[20] = TokenId{7};  // differs inside block 1
  EXPECT_EQ(admit_and_compute(manager, SeqId{2}, diverging), 16);
  EXPECT_EQ(ids(manager.block_table(SeqId{2})), (std::vector<int32_t>{0, 3, 4}));
  EXPECT_EQ(manager.pool().ref_count(BlockId{0}), 2);
}

TEST(KvCacheManager, FullyCachedPromptRecomputesLastBlock) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(32));
  manager.free(SeqId{1});

  // Both blocks are cached, but the last token must run to produce logits.
  EXPECT_EQ(admit_and_compute(manager, SeqId{2}, tokens(32)), 16);
  EXPECT_EQ(manager.block_table(SeqId{2})[0], 0);
  EXPECT_NE(manager.block_table(SeqId{2})[1], 1);
}

TEST(KvCacheManager, StrictPrefixOfCachedPromptReuses) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(64));
  EXPECT_EQ(admit_and_compute(manager, SeqId{2}, tokens(33)), 32);
  EXPECT_EQ(ids(manager.block_table(SeqId{2})).front(), 0);
  EXPECT_EQ(manager.block_table(SeqId{2})[1], 1);
}

TEST(KvCacheManager, SaltIsolatesTenants) {
  KvCacheManager manager(10, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(40), "tenant-a");
  EXPECT_EQ(admit_and_compute(manager, SeqId{2}, tokens(40), "tenant-b"), 0);
  EXPECT_EQ(admit_and_compute(manager, SeqId{3}, tokens(40), ""), 0);
  EXPECT_EQ(manager.n_free_blocks(), 1);
  manager.free(SeqId{2});
  EXPECT_EQ(admit_and_compute(manager, SeqId{4}, tokens(40), "tenant-a"), 32);
}

TEST(KvCacheManager, DisabledPrefixCacheNeverMatches) {
  KvCacheManager manager(8, kBlockSize, false, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(40));
  manager.free(SeqId{1});
  EXPECT_EQ(admit_and_compute(manager, SeqId{2}, tokens(40)), 0);
  EXPECT_EQ(manager.stats().n_prefix_query_tokens, 0);
}

TEST(KvCacheManager, EvictionDropsOldestCachedBlocks) {
  KvCacheManager manager(4, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(32));  // blocks 0, 1
  manager.free(SeqId{1});                             // queue: 2, 3, 1, 0

  // A different 48-token prompt takes 2 and 3, then evicts 1 (released before 0).
  EXPECT_EQ(admit_and_compute(manager, SeqId{2}, tokens(48, 500)), 0);
  EXPECT_EQ(ids(manager.block_table(SeqId{2})), (std::vector<int32_t>{2, 3, 1}));
  EXPECT_EQ(manager.stats().n_evictions, 1);

  // Block 0 (the first 16 tokens) is still cached.
  manager.free(SeqId{2});
  EXPECT_EQ(admit_and_compute(manager, SeqId{3}, tokens(20)), 16);
  EXPECT_EQ(manager.block_table(SeqId{3})[0], 0);
}

TEST(KvCacheManager, AdmitFailsWithoutChangesWhenPoolTooSmall) {
  KvCacheManager manager(2, kBlockSize, true, kModelKey);
  EXPECT_FALSE(manager.admit(SeqId{1}, tokens(40), ""));
  EXPECT_FALSE(manager.contains(SeqId{1}));
  EXPECT_EQ(manager.n_free_blocks(), 2);
}

TEST(KvCacheManager, AppendSlotsGrowsByBlocks) {
  KvCacheManager manager(4, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(16));
  std::vector<BlockCopy> copies;
  EXPECT_TRUE(manager.append_slots(SeqId{1}, 1, copies));
  EXPECT_EQ(ids(manager.block_table(SeqId{1})), (std::vector<int32_t>{0, 1}));
  EXPECT_TRUE(manager.append_slots(SeqId{1}, 15, copies));
  EXPECT_EQ(manager.block_table(SeqId{1}).size(), 2u);
  EXPECT_TRUE(manager.append_slots(SeqId{1}, 32, copies));
  EXPECT_EQ(manager.block_table(SeqId{1}).size(), 4u);
  EXPECT_FALSE(manager.append_slots(SeqId{1}, 1, copies));
  EXPECT_EQ(manager.n_positions(SeqId{1}), 64);
  EXPECT_TRUE(copies.empty());
}

TEST(KvCacheManager, ForkSharesBlocksAndCopiesPartialOnWrite) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(20));  // blocks 0 (full), 1 (4 tokens)
  manager.fork(SeqId{1}, SeqId{2});
  EXPECT_EQ(manager.pool().ref_count(BlockId{0}), 2);
  EXPECT_EQ(manager.pool().ref_count(BlockId{1}), 2);

  // The child writes position 20, inside shared block 1: it gets its own copy.
  std::vector<BlockCopy> copies;
  EXPECT_TRUE(manager.append_slots(SeqId{2}, 1, copies));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].source.value, 1);
  EXPECT_EQ(copies[0].destination.value, 2);
  EXPECT_EQ(ids(manager.block_table(SeqId{2})), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(manager.pool().ref_count(BlockId{1}), 1);

  // The parent now owns block 1 alone and writes into it without a copy.
  copies.clear();
  EXPECT_TRUE(manager.append_slots(SeqId{1}, 1, copies));
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(ids(manager.block_table(SeqId{1})), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(manager.pool().ref_count(BlockId{0}), 2);
}

TEST(KvCacheManager, ForkAtBlockBoundaryNeedsNoCopy) {
  KvCacheManager manager(8, kBlockSize, true, kModelKey);
  admit_and_compute(manager, SeqId{1}, tokens(32));
  manager.fork(SeqId{1}, SeqId{2});
  std::vector<BlockCopy> copies;
  EXPECT_TRUE(manager.append_slots(SeqId{2}, 1, copies));
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(ids(manager.block_table(SeqId{2})), (std::vector<int32_t>{0, 1, 2}));
}

TEST(KvCacheManager, EveryBlockReturnsAfterAllSequencesEnd) {
  KvCacheManager manager(16, kBlockSize, true, kModelKey);
  std::vector<BlockCopy> copies;
  for (int s = 0; s < 5; ++s) {
    admit_and_compute(manager, SeqId{s}, tokens(10 + 9 * s, s % 2 == 0 ? 100 : 900));
    manager.append_slots(SeqId{s}, 5, copies);
  }
  manager.fork(SeqId{2}, SeqId{10});
  manager.append_slots(SeqId{10}, 3, copies);
  for (int s : {0, 1, 2, 3, 4, 10}) manager.free(SeqId{s});
  EXPECT_EQ(manager.n_free_blocks(), 16);
  EXPECT_EQ(manager.stats().n_blocks_used, 0);
  for (int b = 0; b < 16; ++b) EXPECT_EQ(manager.pool().ref_count(BlockId{b}), 0) << "block " << b;
}

}  // namespace
}  // namespace kvinfer
