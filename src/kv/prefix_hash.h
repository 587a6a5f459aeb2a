// Prefix hashes of full KV blocks: hash(parent block's hash, the block's token ids,
// extra keys). Two blocks with the same hash hold the same K/V, because the hash covers
// every token before them (through the parent chain) and the extra keys cover the model
// and the cache salt.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "kv/block_pool.h"
#include "util/ids.h"

namespace kvinfer {

// Extra keys folded into the first block's hash: which model wrote the K/V, with which
// KV element type and block size, and the request's cache salt ("" for none). Requests
// with different salts never share blocks.
BlockHash first_block_parent(uint64_t model_key, std::string_view cache_salt);

// Hash of a block whose parent is `parent` (first_block_parent(...) for block 0).
BlockHash hash_block(BlockHash parent, std::span<const TokenId> tokens);

}  // namespace kvinfer
