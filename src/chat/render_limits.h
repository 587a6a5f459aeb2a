// Sandbox limits of one chat template render. A template comes with a model file or a
// request, so it is untrusted: these limits bound its memory use and its loop work.
// NOTE: there is no wall-clock limit. A loop that scans a long string or list in each
// of its 100,000 iterations (`x in long_list`, `long_text == other`) can still run for
// seconds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvinfer::chat {

struct RenderLimits {
  // Size of the template source.
  size_t max_source_bytes = size_t{1} << 20;
  // Size of the rendered text; also the largest string the template may build.
  size_t max_output_bytes = size_t{1} << 20;
  // Total string bytes the template builds during one render (concatenation, filters,
  // macro output), so that a loop cannot copy a large string over and over.
  uint64_t max_total_string_bytes = uint64_t{64} << 20;
  // For-loop iterations of one render, all loops together; also the longest list the
  // template may build (range(), list repetition and concatenation).
  uint64_t max_loop_iterations = 100'000;
  // Nesting of macro calls at render time, and of blocks and sub-expressions in the
  // source. NOTE: a render near the deepest these defaults allow (63 nested macro calls,
  // each 40 blocks and 15 brackets deep) needed between 512 KiB and 1 MiB of stack in a
  // -O3 build with g++ 12, so render on threads with at least 1 MiB of stack.
  int max_depth = 64;
};

}  // namespace kvinfer::chat
