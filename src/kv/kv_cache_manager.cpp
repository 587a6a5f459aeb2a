// Block tables, prefix matching and copy-on-write; see kv_cache_manager.h.
#include "kv/kv_cache_manager.h"

#include <algorithm>

#include "kv/prefix_hash.h"
#include "util/error.h"

namespace kvinfer {

KvCacheManager::KvCacheManager(int32_t n_blocks, int block_size, bool prefix_caching, uint64_t model_key)
    : pool_(n_blocks), block_size_(block_size), prefix_caching_(prefix_caching), model_key_(model_key) {
  if (block_size <= 0) fail("invalid KV block size {}: must be > 0", block_size);
}

int32_t KvCacheManager::blocks_for(int64_t n_tokens) const {
  return static_cast<int32_t>((n_tokens + block_size_ - 1) / block_size_);
}

KvCacheManager::Sequence& KvCacheManager::get(SeqId seq) {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) fail("unknown sequence {}", seq.value);
  return it->second;
}

const KvCacheManager::Sequence& KvCacheManager::get(SeqId seq) const {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) fail("unknown sequence {}", seq.value);
  return it->second;
}

int KvCacheManager::match_prefix(std::span<const TokenId> prompt, BlockHash first_parent,
                                 std::vector<BlockHash>& hashes, std::vector<int32_t>& blocks) const {
  // At most (len - 1) / block_size blocks, so the last prompt token is always computed.
  const int max_blocks = static_cast<int>((prompt.size() - 1) / block_size_);
  BlockHash parent = first_parent;
  for (int i = 0; i < max_blocks; ++i) {
    BlockHash hash = hash_block(parent, prompt.subspan(static_cast<size_t>(i) * block_size_, block_size_));
    std::optional<BlockId> cached = pool_.find_cached(hash);
    if (!cached) break;
    hashes.push_back(hash);
    blocks.push_back(cached->value);
    parent = hash;
  }
  return static_cast<int>(blocks.size()) * block_size_;
}

std::optional<int> KvCacheManager::admit(SeqId seq, std::span<const TokenId> prompt, std::string_view cache_salt,
                                         int64_t max_positions) {
  if (sequences_.count(seq) != 0) fail("sequence {} is already admitted", seq.value);
  if (prompt.empty()) fail("cannot admit sequence {} with an empty prompt", seq.value);

  Sequence sequence;
  sequence.first_parent = first_block_parent(model_key_, cache_salt);
  const int32_t n_reserved = std::min(blocks_for(std::max<int64_t>(max_positions, static_cast<int64_t>(prompt.size()))),
                                      pool_.n_blocks());
  sequence.blocks.reserve(n_reserved);
  sequence.hashes.reserve(n_reserved);
  int n_cached = 0;
  if (prefix_caching_) n_cached = match_prefix(prompt, sequence.first_parent, sequence.hashes, sequence.blocks);

  // The matched blocks may be free-cached; they stop counting as free once acquired.
  const int32_t n_needed = blocks_for(static_cast<int64_t>(prompt.size())) - static_cast<int32_t>(sequence.blocks.size());
  int32_t n_matched_free = 0;
  for (int32_t block : sequence.blocks) n_matched_free += pool_.ref_count(BlockId{block}) == 0 ? 1 : 0;
  if (n_needed > pool_.n_free() - n_matched_free) return std::nullopt;

  for (int32_t block : sequence.blocks) pool_.acquire(BlockId{block});
  for (int32_t i = 0; i < n_needed; ++i) sequence.blocks.push_back(pool_.allocate()->value);
  sequence.n_positions = static_cast<int>(prompt.size());

  if (prefix_caching_) {
    n_query_tokens_ += static_cast<int64_t>(prompt.size());
    n_hit_tokens_ += n_cached;
  }
  sequences_.emplace(seq, std::move(sequence));
  return n_cached;
}

bool KvCacheManager::append_slots(SeqId seq, int n_new, std::vector<BlockCopy>& copies) {
  Sequence& s = get(seq);
  const int32_t n_new_blocks = blocks_for(s.n_positions + n_new) - static_cast<int32_t>(s.blocks.size());

  // The last block is written next if it has free slots; a shared one must be copied.
  const bool partial_last = s.n_positions % block_size_ != 0 && n_new > 0;
  const bool copy_last = partial_last && pool_.ref_count(BlockId{s.blocks.back()}) > 1;
  if (n_new_blocks + (copy_last ? 1 : 0) > pool_.n_free()) return false;

  if (copy_last) {
    BlockId source{s.blocks.back()};
    BlockId destination = *pool_.allocate();
    copies.push_back({source, destination});
    pool_.release(source);
    s.blocks.back() = destination.value;
  }
  for (int32_t i = 0; i < n_new_blocks; ++i) s.blocks.push_back(pool_.allocate()->value);
  s.n_positions += n_new;
  return true;
}

void KvCacheManager::mark_computed(SeqId seq, std::span<const TokenId> tokens, int n_computed) {
  if (!prefix_caching_) return;
  Sequence& s = get(seq);
  const int n_full = std::min(n_computed, static_cast<int>(tokens.size())) / block_size_;
  for (int i = static_cast<int>(s.hashes.size()); i < n_full; ++i) {
    BlockHash parent = i == 0 ? s.first_parent : s.hashes[i - 1];
    BlockHash hash = hash_block(parent, tokens.subspan(static_cast<size_t>(i) * block_size_, block_size_));
    s.hashes.push_back(hash);
    pool_.set_hash(BlockId{s.blocks[i]}, hash);
  }
}

void KvCacheManager::fork(SeqId parent, SeqId child) {
  if (sequences_.count(child) != 0) fail("sequence {} already exists", child.value);
  Sequence copy = get(parent);
  for (int32_t block : copy.blocks) pool_.acquire(BlockId{block});
  sequences_.emplace(child, std::move(copy));
}

void KvCacheManager::free(SeqId seq) {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) return;
  const std::vector<int32_t>& blocks = it->second.blocks;
  for (auto block = blocks.rbegin(); block != blocks.rend(); ++block) pool_.release(BlockId{*block});
  sequences_.erase(it);
}

std::span<const int32_t> KvCacheManager::block_table(SeqId seq) const { return get(seq).blocks; }

int KvCacheManager::n_positions(SeqId seq) const { return get(seq).n_positions; }

KvCacheStats KvCacheManager::stats() const {
  KvCacheStats stats;
  stats.n_blocks_total = pool_.n_blocks();
  stats.n_blocks_used = pool_.n_used();
  stats.n_blocks_cached = pool_.n_free_cached();
  stats.n_prefix_query_tokens = n_query_tokens_;
  stats.n_prefix_hit_tokens = n_hit_tokens_;
  stats.n_evictions = pool_.n_evictions();
  return stats;
}

}  // namespace kvinfer
