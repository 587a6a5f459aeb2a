// Finding the text of special tokens inside a prompt, so that "<|im_start|>" becomes the
// one token it names instead of being tokenized as text.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/ids.h"

namespace kvinfer::tokenizer {

// A span of the input: either plain text or the text of one special token.
struct Fragment {
  std::string_view text;
  TokenId token{-1};  // the special token, or -1 for plain text

  bool is_token() const { return token.value >= 0; }
};

// A trie over the texts of a set of tokens. Matching is leftmost-longest, as Hugging
// Face's added-vocabulary matcher does: at each position the longest token text wins,
// and scanning resumes after it.
// NOTE: llama.cpp instead splits on each token in turn, longest token first, which can
// differ when two token texts overlap in the input (such as "ab" and "bcd" in "abcd").
class SpecialTokenMatcher {
 public:
  SpecialTokenMatcher();

  // Adds a token to match. An empty `text` is ignored, and a text added twice keeps the
  // first token.
  void add(std::string_view text, TokenId token);

  // Appends to `fragments` the plain-text spans and token matches of `text`, in order.
  // Plain-text fragments are never empty.
  void split(std::string_view text, std::vector<Fragment>& fragments) const;

 private:
  struct Node {
    int32_t token = -1;
  };

  // Returns the length and token of the longest match starting at text[pos], or a
  // length of 0.
  std::pair<size_t, TokenId> longest_match(std::string_view text, size_t pos) const;

  static uint64_t edge_key(uint32_t node, uint8_t byte) { return (static_cast<uint64_t>(node) << 8) | byte; }

  std::vector<Node> nodes_;                          // nodes_[0] is the root
  std::unordered_map<uint64_t, uint32_t> children_;  // edge_key(node, byte) -> child node
  std::array<bool, 256> is_first_byte_{};            // quick rejection of most positions
};

}  // namespace kvinfer::tokenizer
