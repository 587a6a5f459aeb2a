// One aligned allocation for all KV blocks.
#include "kv/kv_memory.h"

#include <cstdlib>

#include "util/checked_math.h"
#include "util/error.h"

namespace kvinfer {

void KvMemory::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

KvMemory::KvMemory(const KvLayout& layout, int64_t n_blocks) : layout_(layout), n_blocks_(n_blocks) {
  if (n_blocks <= 0) fail("invalid KV cache size: {} blocks", n_blocks);
  auto n_bytes = checked_mul(static_cast<uint64_t>(n_blocks), layout.block_bytes());
  if (!n_bytes) fail("KV cache of {} blocks is too large", n_blocks);

  // 64-byte alignment keeps every row aligned for 512-bit loads; the size is rounded up
  // as aligned_alloc requires.
  uint64_t rounded = (*n_bytes + 63) / 64 * 64;
  void* memory = std::aligned_alloc(64, rounded);
  if (memory == nullptr) fail("cannot allocate {} bytes for the KV cache", rounded);
  data_.reset(static_cast<uint8_t*>(memory));
}

}  // namespace kvinfer
