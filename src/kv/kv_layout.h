// Byte layout of one KV block: every layer's keys and values for block_size positions.
//
//   block = [layer 0: K head 0 | K head 1 | ... | V head 0 | V head 1 | ...][layer 1: ...]
//   each "K head g" is [block_size, head_dim] elements of the KV element type
//
// Knows shapes and element types, not model architectures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernels/attention.h"
#include "tensor/dtype.h"

namespace kvinfer {

struct KvLayout {
  int n_layers = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int block_size = 16;
  DType type = DType::F16;  // F32, F16 or Q8_0

  size_t row_bytes() const { return kv_row_bytes(type, head_dim); }
  size_t head_bytes() const { return row_bytes() * static_cast<size_t>(block_size); }
  size_t block_bytes() const { return 2 * static_cast<size_t>(n_layers) * n_kv_heads * head_bytes(); }
  size_t bytes_per_token() const { return block_bytes() / static_cast<size_t>(block_size); }

  size_t key_offset(int layer, int head) const { return (static_cast<size_t>(2 * layer) * n_kv_heads + head) * head_bytes(); }
  size_t value_offset(int layer, int head) const {
    return (static_cast<size_t>(2 * layer + 1) * n_kv_heads + head) * head_bytes();
  }
};

// Parses a KV element type name: "f32", "f16" or "q8_0". Throws Error for anything else.
DType parse_kv_type(std::string_view name);

}  // namespace kvinfer
