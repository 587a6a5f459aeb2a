// Bookkeeping of the KV blocks: reference counts, the prefix-hash index of cached
// blocks, and a least-recently-used queue of free blocks. It never touches KV bytes
// (KvMemory stores those) and has no notion of sequences (KvCacheManager maps those).
//
// A block is in one of three states:
//   in use       ref_count > 0; may also be cached (have a hash) and shared
//   free cached  ref_count == 0, has a hash: its K/V stay valid until it is evicted
//   free         ref_count == 0, no hash
// Every block with ref_count == 0 is in the free queue, and allocation takes the head of
// the queue (evicting its hash if it has one). Released blocks go to the tail.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "util/ids.h"

namespace kvinfer {

// Hash of a block's prefix: its parent block's hash, its token ids and extra keys.
struct BlockHash {
  uint64_t value = 0;
  bool operator==(const BlockHash&) const = default;
};

class BlockPool {
 public:
  explicit BlockPool(int32_t n_blocks);

  int32_t n_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  int32_t n_free() const { return n_free_; }
  int32_t n_used() const { return n_blocks() - n_free_; }
  int64_t n_evictions() const { return n_evictions_; }
  int32_t n_free_cached() const { return n_free_cached_; }  // free blocks that still have a hash

  // Takes the least recently released free block, with ref_count 1 and no hash.
  // Returns nullopt when no block is free.
  std::optional<BlockId> allocate();

  // Adds a reference to a block; a free cached block leaves the free queue.
  void acquire(BlockId block);

  // Drops a reference; at zero the block joins the tail of the free queue, keeping its
  // hash so a later request can still reuse it.
  void release(BlockId block);

  // The cached block with this hash, if any.
  std::optional<BlockId> find_cached(BlockHash hash) const;

  // Records that `block` (in use, full) contains the K/V of the prefix `hash`. A free
  // block, a block already cached, or a hash already owned by another block leaves
  // things unchanged.
  void set_hash(BlockId block, BlockHash hash);

  int32_t ref_count(BlockId block) const { return ref_counts_[block.value]; }
  std::optional<BlockHash> hash_of(BlockId block) const;

  // Free blocks from head (next to be allocated) to tail, for tests and debugging.
  std::vector<BlockId> free_queue() const;

 private:
  static constexpr int32_t kNone = -1;

  void unlink(int32_t block);
  void push_back(int32_t block);

  std::vector<int32_t> ref_counts_;
  std::vector<int32_t> prev_;  // free queue links
  std::vector<int32_t> next_;
  std::vector<bool> in_queue_;
  std::vector<std::optional<BlockHash>> hashes_;
  std::unordered_map<uint64_t, int32_t> cached_;  // hash -> block
  int32_t head_ = kNone;
  int32_t tail_ = kNone;
  int32_t n_free_ = 0;
  int32_t n_free_cached_ = 0;
  int64_t n_evictions_ = 0;
};

}  // namespace kvinfer
