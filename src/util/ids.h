// Strong id types, so a token id, a position and a block id cannot be mixed up.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace kvinfer {

// A distinct integer type per Tag. Construction is explicit; `.value` is the raw integer.
template <typename Tag, typename Int>
struct StrongId {
  Int value{};

  constexpr StrongId() = default;
  constexpr explicit StrongId(Int v) : value(v) {}

  constexpr auto operator<=>(const StrongId&) const = default;
};

using TokenId = StrongId<struct TokenIdTag, int32_t>;
using BlockId = StrongId<struct BlockIdTag, int32_t>;
using SeqId = StrongId<struct SeqIdTag, int64_t>;

}  // namespace kvinfer

template <typename Tag, typename Int>
struct std::hash<kvinfer::StrongId<Tag, Int>> {
  size_t operator()(kvinfer::StrongId<Tag, Int> id) const noexcept { return std::hash<Int>{}(id.value); }
};
