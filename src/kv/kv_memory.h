// The KV bytes of a fixed number of blocks, allocated once. Bookkeeping (which block
// belongs to whom) lives elsewhere; this only stores bytes.
#pragma once

#include <cstdint>
#include <memory>

#include "kv/kv_layout.h"

namespace kvinfer {

class KvMemory {
 public:
  // Allocates n_blocks * layout.block_bytes() bytes. Throws Error when the size
  // overflows or the allocation fails.
  KvMemory(const KvLayout& layout, int64_t n_blocks);

  const KvLayout& layout() const { return layout_; }
  int64_t n_blocks() const { return n_blocks_; }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  uint8_t* block(int32_t block_id) { return data_.get() + static_cast<size_t>(block_id) * layout_.block_bytes(); }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };

  KvLayout layout_;
  int64_t n_blocks_;
  std::unique_ptr<uint8_t, FreeDeleter> data_;
};

}  // namespace kvinfer
