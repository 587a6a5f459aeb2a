// Heap-driven BPE merging over a linked list of symbols.
#include "tokenizer/bpe_merges.h"

#include <queue>

#include "tokenizer/byte_unicode.h"

namespace kvinfer::tokenizer {
namespace {

// A symbol of the word being merged. Symbols form a doubly linked list in word order. A
// symbol merged into its left neighbour gets id kMergedAway and leaves the list.
struct Symbol {
  int32_t id;
  int32_t prev;  // index of the previous symbol, or -1
  int32_t next;  // index of the next symbol, or -1
  uint32_t begin;
  uint32_t length;
};

constexpr int32_t kMergedAway = -2;

// A pair of adjacent symbols that a merge rule applies to. `left_id` and `right_id`
// record the symbols as they were when the candidate was pushed, to detect staleness.
struct Candidate {
  int32_t rank;
  int32_t left;  // symbol index, which grows with position in the word
  int32_t right;
  int32_t left_id;
  int32_t right_id;
  int32_t result_id;
};

// Orders the heap so that the lowest rank pops first, and among equal ranks the
// leftmost pair, as Hugging Face's and llama.cpp's BPE do.
struct PopsLater {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};

}  // namespace

BpeMerges::BpeMerges(const std::unordered_map<std::string_view, int32_t>& token_ids, int32_t n_vocab,
                     std::span<const std::string> merges)
    : n_vocab_(n_vocab) {
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string_view merge = merges[rank];
    const size_t space = merge.find(' ', 1);
    if (space == std::string_view::npos) {
      continue;
    }
    const std::string_view left = merge.substr(0, space);
    const std::string_view right = merge.substr(space + 1);
    const int32_t left_id = intern(left, token_ids);
    const int32_t right_id = intern(right, token_ids);
    const int32_t result_id = intern(std::string(left) + std::string(right), token_ids);
    merges_.try_emplace(pair_key(left_id, right_id), Merge{static_cast<int32_t>(rank), result_id});
  }

  for (uint32_t byte = 0; byte < 256; ++byte) {
    const std::string_view text = byte_to_unicode(static_cast<uint8_t>(byte));
    const auto token = token_ids.find(text);
    const auto extra = extra_ids_.find(std::string(text));
    byte_symbol_ids_[byte] = token != token_ids.end() ? token->second
                             : extra != extra_ids_.end() ? extra->second
                                                         : -1;
  }
}

int32_t BpeMerges::intern(std::string_view text, const std::unordered_map<std::string_view, int32_t>& token_ids) {
  if (const auto token = token_ids.find(text); token != token_ids.end()) {
    return token->second;
  }
  const auto next_id = static_cast<int32_t>(n_vocab_ + extra_ids_.size());
  return extra_ids_.try_emplace(std::string(text), next_id).first->second;
}

void BpeMerges::merge_word(std::string_view word, std::vector<MergedSymbol>& output) const {
  // One symbol per byte, linked in order.
  const auto n_bytes = static_cast<int32_t>(word.size());
  std::vector<Symbol> symbols(word.size());
  for (int32_t i = 0; i < n_bytes; ++i) {
    const auto byte = static_cast<uint8_t>(word[i]);
    symbols[i] = Symbol{byte_symbol_ids_[byte], i - 1, i + 1 < n_bytes ? i + 1 : -1, static_cast<uint32_t>(i), 1};
  }

  std::priority_queue<Candidate, std::vector<Candidate>, PopsLater> candidates;
  const auto push_candidate = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].id < 0 || symbols[right].id < 0) {
      return;
    }
    const auto merge = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (merge != merges_.end()) {
      candidates.push({merge->second.rank, left, right, symbols[left].id, symbols[right].id, merge->second.result_id});
    }
  };
  for (int32_t i = 0; i + 1 < n_bytes; ++i) {
    push_candidate(i, i + 1);
  }

  while (!candidates.empty()) {
    const Candidate best = candidates.top();
    candidates.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    if (left.id != best.left_id || right.id != best.right_id || left.next != best.right) {
      continue;  // stale: one of the two symbols changed after this candidate was pushed
    }

    // Merge the right symbol into the left one and unlink it.
    left.id = best.result_id;
    left.length += right.length;
    left.next = right.next;
    if (right.next >= 0) {
      symbols[right.next].prev = best.left;
    }
    right.id = kMergedAway;

    push_candidate(left.prev, best.left);
    push_candidate(best.left, left.next);
  }

  for (int32_t i = n_bytes > 0 ? 0 : -1; i >= 0; i = symbols[i].next) {
    output.push_back({symbols[i].id, symbols[i].begin, symbols[i].length});
  }
}

}  // namespace kvinfer::tokenizer
