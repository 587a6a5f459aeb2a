// Free queue as an intrusive doubly-linked list over block indices, so a cached block
// that is reused leaves the middle of the queue in O(1).
#include "kv/block_pool.h"

#include "util/error.h"

namespace kvinfer {

BlockPool::BlockPool(int32_t n_blocks)
    : ref_counts_(n_blocks, 0), prev_(n_blocks, kNone), next_(n_blocks, kNone), in_queue_(n_blocks, false),
      hashes_(n_blocks) {
  if (n_blocks <= 0) fail("invalid KV block count {}: must be > 0", n_blocks);
  for (int32_t b = 0; b < n_blocks; ++b) push_back(b);
}

void BlockPool::unlink(int32_t block) {
  if (prev_[block] != kNone) next_[prev_[block]] = next_[block];
  if (next_[block] != kNone) prev_[next_[block]] = prev_[block];
  if (head_ == block) head_ = next_[block];
  if (tail_ == block) tail_ = prev_[block];
  prev_[block] = next_[block] = kNone;
  in_queue_[block] = false;
  --n_free_;
  if (hashes_[block]) --n_free_cached_;
}

void BlockPool::push_back(int32_t block) {
  prev_[block] = tail_;
  next_[block] = kNone;
  if (tail_ != kNone) next_[tail_] = block;
  tail_ = block;
  if (head_ == kNone) head_ = block;
  in_queue_[block] = true;
  ++n_free_;
  if (hashes_[block]) ++n_free_cached_;
}

std::optional<BlockId> BlockPool::allocate() {
  if (head_ == kNone) return std::nullopt;
  const int32_t block = head_;
  unlink(block);

  // Evict: the block's old prefix can no longer be found.
  if (hashes_[block]) {
    cached_.erase(hashes_[block]->value);
    hashes_[block].reset();
    ++n_evictions_;
  }
  ref_counts_[block] = 1;
  return BlockId{block};
}

void BlockPool::acquire(BlockId block) {
  if (ref_counts_[block.value]++ == 0) unlink(block.value);
}

void BlockPool::release(BlockId block) {
  int32_t& count = ref_counts_[block.value];
  if (count <= 0) fail("KV block {} released more often than acquired", block.value);
  if (--count == 0) push_back(block.value);
}

std::optional<BlockId> BlockPool::find_cached(BlockHash hash) const {
  auto it = cached_.find(hash.value);
  if (it == cached_.end()) return std::nullopt;
  return BlockId{it->second};
}

void BlockPool::set_hash(BlockId block, BlockHash hash) {
  // Only blocks in use get a hash, so the free-cached count never misses one.
  if (ref_counts_[block.value] == 0 || hashes_[block.value] || cached_.count(hash.value) != 0) return;
  hashes_[block.value] = hash;
  cached_.emplace(hash.value, block.value);
}

std::optional<BlockHash> BlockPool::hash_of(BlockId block) const { return hashes_[block.value]; }

std::vector<BlockId> BlockPool::free_queue() const {
  std::vector<BlockId> order;
  for (int32_t b = head_; b != kNone; b = next_[b]) order.push_back(BlockId{b});
  return order;
}

}  // namespace kvinfer
