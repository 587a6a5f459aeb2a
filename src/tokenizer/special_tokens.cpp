// Trie-based matching of special token texts.
#include "tokenizer/special_tokens.h"

namespace kvinfer::tokenizer {

SpecialTokenMatcher::SpecialTokenMatcher() : nodes_(1) {}

void SpecialTokenMatcher::add(std::string_view text, TokenId token) {
  if (text.empty()) {
    return;
  }

  uint32_t node = 0;
  for (const char c : text) {
    const auto byte = static_cast<uint8_t>(c);
    const auto [edge, inserted] = children_.try_emplace(edge_key(node, byte), static_cast<uint32_t>(nodes_.size()));
    if (inserted) {
      nodes_.emplace_back();
    }
    node = edge->second;
  }

  if (nodes_[node].token < 0) {
    nodes_[node].token = token.value;
  }
  is_first_byte_[static_cast<uint8_t>(text[0])] = true;
}

std::pair<size_t, TokenId> SpecialTokenMatcher::longest_match(std::string_view text, size_t pos) const {
  size_t best_length = 0;
  TokenId best_token{-1};
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto edge = children_.find(edge_key(node, static_cast<uint8_t>(text[i])));
    if (edge == children_.end()) {
      break;
    }
    node = edge->second;
    if (nodes_[node].token >= 0) {
      best_length = i + 1 - pos;
      best_token = TokenId{nodes_[node].token};
    }
  }
  return {best_length, best_token};
}

void SpecialTokenMatcher::split(std::string_view text, std::vector<Fragment>& fragments) const {
  size_t plain_begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!is_first_byte_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [length, token] = longest_match(text, pos);
    if (length == 0) {
      ++pos;
      continue;
    }

    if (pos > plain_begin) {
      fragments.push_back({text.substr(plain_begin, pos - plain_begin), TokenId{-1}});
    }
    fragments.push_back({text.substr(pos, length), token});
    pos += length;
    plain_begin = pos;
  }

  if (plain_begin < text.size()) {
    fragments.push_back({text.substr(plain_begin), TokenId{-1}});
  }
}

}  // namespace kvinfer::tokenizer
