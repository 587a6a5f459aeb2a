// Maps sequences to KV blocks: one block table per sequence, prefix reuse through the
// block pool's hash index, copy-on-write for forked sequences, and the counters the
// server's metrics report. The scheduler gets block counts and ids from here, never
// KV bytes.
//
// Prefix matching (the algorithm behind admit()):
//   1. hash the prompt's full blocks as a chain: h0 = H(parent0, tokens[0, bs)),
//      h1 = H(h0, tokens[bs, 2bs)), ... where parent0 folds in the model and the salt;
//   2. walk the chain while the pool has a cached block for h_i, at most
//      (prompt_len - 1) / bs blocks, so at least the last prompt token is recomputed and
//      sampling never reads stale logits;
//   3. acquire the matched blocks and allocate fresh ones for the rest of the prompt.
// Only full blocks are ever cached, and a cached block is never written again: later
// tokens go to blocks of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.h"
#include "util/ids.h"

namespace kvinfer {

// A block to duplicate before a forked sequence writes into it.
struct BlockCopy {
  BlockId source;
  BlockId destination;
};

struct KvCacheStats {
  int32_t n_blocks_total = 0;
  int32_t n_blocks_used = 0;    // referenced by at least one sequence
  int32_t n_blocks_cached = 0;  // free but still holding a reusable prefix
  int64_t n_prefix_query_tokens = 0;  // prompt tokens looked up in the prefix cache
  int64_t n_prefix_hit_tokens = 0;    // of those, tokens found cached
  int64_t n_evictions = 0;
};

class KvCacheManager {
 public:
  // `model_key` identifies the model and KV format, so blocks of another model or element
  // type never match.
  KvCacheManager(int32_t n_blocks, int block_size, bool prefix_caching, uint64_t model_key);

  int block_size() const { return block_size_; }
  int32_t n_free_blocks() const { return pool_.n_free(); }
  bool prefix_caching() const { return prefix_caching_; }

  // Blocks needed to hold n_tokens positions.
  int32_t blocks_for(int64_t n_tokens) const;

  // Starts `seq` for `prompt`: reuses the longest cached prefix and allocates blocks for
  // the rest of the prompt. Its block table reserves room for max_positions, so growing
  // up to that length does not allocate memory. Returns the number of prompt tokens
  // already computed, or nullopt (and changes nothing) when the pool cannot hold the prompt.
  std::optional<int> admit(SeqId seq, std::span<const TokenId> prompt, std::string_view cache_salt,
                           int64_t max_positions = 0);

  // Makes room for n_new more positions at the end of `seq`. When its last block is
  // shared with another sequence and not full, that block is copied first: the copy is
  // appended to `copies` and the caller must copy the bytes before writing. Returns false
  // (and changes nothing) when the pool runs out of blocks.
  bool append_slots(SeqId seq, int n_new, std::vector<BlockCopy>& copies);

  // Records that the first n_computed of `tokens` (the sequence so far) have their K/V
  // written, and registers every newly full block in the prefix cache.
  void mark_computed(SeqId seq, std::span<const TokenId> tokens, int n_computed);

  // Starts `child` sharing all of `parent`'s blocks (several samples of one prompt).
  void fork(SeqId parent, SeqId child);

  // Releases the sequence's blocks. Full blocks stay in the prefix cache until evicted;
  // the sequence's last blocks are released first, so they are evicted first.
  void free(SeqId seq);

  std::span<const int32_t> block_table(SeqId seq) const;
  int n_positions(SeqId seq) const;  // positions the sequence has room for
  bool contains(SeqId seq) const { return sequences_.count(seq) != 0; }

  KvCacheStats stats() const;
  const BlockPool& pool() const { return pool_; }

 private:
  struct Sequence {
    std::vector<int32_t> blocks;  // block table: logical block i -> physical block id
    int n_positions = 0;          // slots allocated: blocks.size() * block_size >= n_positions
    std::vector<BlockHash> hashes;  // hashes of the leading full, computed blocks
    BlockHash first_parent;
  };

  Sequence& get(SeqId seq);
  const Sequence& get(SeqId seq) const;
  int match_prefix(std::span<const TokenId> prompt, BlockHash first_parent, std::vector<BlockHash>& hashes,
                   std::vector<int32_t>& blocks) const;

  BlockPool pool_;
  int block_size_;
  bool prefix_caching_;
  uint64_t model_key_;
  std::unordered_map<SeqId, Sequence> sequences_;
  int64_t n_query_tokens_ = 0;
  int64_t n_hit_tokens_ = 0;
};

}  // namespace kvinfer
