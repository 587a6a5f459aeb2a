// XXH3 (64-bit) over the parent hash and the token ids, fast enough to hash every prompt
// block. A collision would let two different prefixes share K/V. For n cached blocks its
// chance is about n^2 / 2^65, under 1e-10 for a million blocks (an estimate).
#include "kv/prefix_hash.h"

#include <xxhash.h>

namespace kvinfer {

BlockHash first_block_parent(uint64_t model_key, std::string_view cache_salt) {
  return BlockHash{XXH3_64bits_withSeed(cache_salt.data(), cache_salt.size(), model_key)};
}

BlockHash hash_block(BlockHash parent, std::span<const TokenId> tokens) {
  static_assert(sizeof(TokenId) == sizeof(int32_t));
  return BlockHash{XXH3_64bits_withSeed(tokens.data(), tokens.size_bytes(), parent.value)};
}

}  // namespace kvinfer
