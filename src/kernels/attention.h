// Causal attention of query heads over K/V rows stored in fixed-size blocks.
//
// A sequence's K/V live in blocks of `block_size` positions; the block table maps its
// logical block i (positions [i*block_size, (i+1)*block_size)) to a physical block in
// the pool. Inside a block, one layer's K (or V) of one KV head is a contiguous
// [block_size, head_dim] array of rows, at a fixed byte offset from the block's start:
//
//   pool: | block 0 | block 1 | block 2 | ...        (block_bytes each)
//   block table of a sequence: [2, 0, 5]  -> positions 0..15 in block 2, 16..31 in 0, ...
//   inside a block: key rows of (layer, head) at k_offset, value rows at v_offset
//
// The work per query is proportional to the sequence's own length, never the pool's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace kvinfer {

// Location of one sequence's keys and values for one (layer, KV head).
struct KvHeadView {
  const uint8_t* pool;       // start of block 0
  size_t block_bytes;        // bytes of one whole block
  const int32_t* block_ids;  // the sequence's block table
  int block_size;            // positions per block
  DType type;                // F32, F16 or Q8_0
  size_t row_bytes;          // bytes of one position's head_dim elements
  size_t k_offset;           // byte offset of this layer/head's key rows inside a block
  size_t v_offset;           // byte offset of its value rows

  const uint8_t* key_row(int pos) const { return row(k_offset, pos); }
  const uint8_t* value_row(int pos) const { return row(v_offset, pos); }

 private:
  const uint8_t* row(size_t offset, int pos) const {
    const uint8_t* block = pool + static_cast<size_t>(block_ids[pos / block_size]) * block_bytes;
    return block + offset + static_cast<size_t>(pos % block_size) * row_bytes;
  }
};

// Returns the bytes one row of head_dim elements takes in a KV element type.
size_t kv_row_bytes(DType type, int head_dim);

// Stores one row of head_dim f32 elements as `type` at `dst`.
void store_kv_row(DType type, const float* src, uint8_t* dst, int head_dim);

// Floats of scratch attend() needs for n_query_heads heads over up to max_positions.
size_t attend_scratch_size(int n_query_heads, int head_dim, int max_positions);
// Floats at the start of that scratch that hold the scores.
size_t attend_scores_size(int n_query_heads, int n_positions);

// Attention of n_query_heads heads that share one KV head (grouped-query attention), for
// a query at position n_positions - 1, over positions [0, n_positions):
//   out[h] = softmax(q[h] . K^T * scale) V
// q, out: [n_query_heads, head_dim]. scratch: attend_scratch_size(...) floats, 64-byte
// aligned. The summation order is ggml's; attention.cpp explains why.
void attend(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
            float* scratch, float* out);

// Plain C++ version of attend(), the reference for tests.
void attend_reference(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions,
                      float scale, float* out);

}  // namespace kvinfer
