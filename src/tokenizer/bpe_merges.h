// The merge table of byte-level BPE and the merge loop that applies it to one word.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvinfer::tokenizer {

// One symbol of a word after merging: the bytes word[begin, begin + length) and the id
// of their byte-mapped text, or -1 when that text is neither a token nor a merge result.
struct MergedSymbol {
  int32_t id;
  uint32_t begin;
  uint32_t length;
};

// Merge ranks from tokenizer.ggml.merges, keyed by symbol ids. Symbol ids below the
// vocabulary size are token ids. A merge part or result that is not in the vocabulary
// gets an id above it, so merging never compares strings.
class BpeMerges {
 public:
  // Builds the table. `token_ids` maps each token's vocabulary text to its id, and
  // `n_vocab` is the vocabulary size. Each entry of `merges` is "left right", split at the
  // first space after the first character as llama.cpp does. Entries without such a space
  // are skipped. Of two entries for the same pair, the first (lowest rank) wins.
  BpeMerges(const std::unordered_map<std::string_view, int32_t>& token_ids, int32_t n_vocab,
            std::span<const std::string> merges);

  // Merges the bytes of `word`, starting from one symbol per byte (its byte-mapped
  // character). Appends the final symbols to `symbols`, in order.
  //
  // Algorithm: the candidate pairs of adjacent symbols sit in a min-heap ordered by
  // (rank, position). Popping the best candidate merges its pair in a doubly linked list
  // of symbols, then pushes the at most two new pairs the result forms with its
  // neighbours. A popped candidate whose symbols changed after it was pushed is stale and
  // skipped. Each merge removes a symbol, so a word of n bytes costs O(n log n).
  void merge_word(std::string_view word, std::vector<MergedSymbol>& symbols) const;

  // Returns the symbol id of the byte-mapped character of `byte`: its token id when the
  // vocabulary has that character, else its id above the vocabulary when a merge uses
  // it, else -1.
  int32_t byte_symbol_id(uint8_t byte) const { return byte_symbol_ids_[byte]; }

 private:
  struct Merge {
    int32_t rank;
    int32_t result_id;
  };

  // Returns the symbol id of `text`, giving it a new id above the vocabulary when it is
  // not a token.
  int32_t intern(std::string_view text, const std::unordered_map<std::string_view, int32_t>& token_ids);

  static uint64_t pair_key(int32_t left_id, int32_t right_id) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left_id)) << 32) | static_cast<uint32_t>(right_id);
  }

  int32_t n_vocab_;
  std::array<int32_t, 256> byte_symbol_ids_;
  std::unordered_map<std::string, int32_t> extra_ids_;  // merge texts not in the vocabulary
  std::unordered_map<uint64_t, Merge> merges_;           // pair_key(left, right) -> merge
};

}  // namespace kvinfer::tokenizer
