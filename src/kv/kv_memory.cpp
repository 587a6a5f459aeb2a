// One aligned allocation for all KV blocks.
#include "kv/kv_memory.h"

#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "util/checked_math.h"
#include "util/error.h"

namespace kvinfer {
namespace {

constexpr uint64_t kHugePageBytes = uint64_t{2} << 20;  // x86-64 transparent huge page

}  // namespace

void KvMemory::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

KvMemory::KvMemory(const KvLayout& layout, int64_t n_blocks) : layout_(layout), n_blocks_(n_blocks) {
  if (n_blocks <= 0) fail("invalid KV cache size: {} blocks", n_blocks);
  auto n_bytes = checked_mul(static_cast<uint64_t>(n_blocks), layout.block_bytes());
  if (!n_bytes) fail("KV cache of {} blocks is too large", n_blocks);

  // 64-byte alignment keeps every row aligned for 512-bit loads. A pool of 2 MiB or more
  // is aligned to 2 MiB and requests transparent huge pages. Attention reads one layer and
  // head of a block at a time, so with 4 KiB pages nearly every block it visits costs a
  // TLB miss. The size is rounded up to the alignment, as aligned_alloc requires.
  const uint64_t alignment = *n_bytes >= kHugePageBytes ? kHugePageBytes : 64;
  uint64_t rounded = (*n_bytes + alignment - 1) / alignment * alignment;
  void* memory = std::aligned_alloc(alignment, rounded);
  if (memory == nullptr) fail("cannot allocate {} bytes for the KV cache", rounded);
  data_.reset(static_cast<uint8_t*>(memory));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: where the kernel has no huge pages to give, the pool keeps small ones.
  if (alignment == kHugePageBytes) madvise(memory, rounded, MADV_HUGEPAGE);
#endif
}

}  // namespace kvinfer
