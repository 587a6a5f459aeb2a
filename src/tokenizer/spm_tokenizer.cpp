// SentencePiece-style BPE encoding, following llama.cpp's llm_tokenizer_spm.
#include "tokenizer/spm_tokenizer.h"

#include <queue>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace kvinfer::tokenizer {
namespace {

// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible stand-in for a space.
constexpr std::string_view kSpaceMark = "\xe2\x96\x81";

const std::vector<float>& checked_scores(const Vocabulary& vocab) {
  if (vocab.scores.size() != vocab.tokens.size()) {
    fail("tokenizer.ggml.scores has {} entries for {} tokens, but SentencePiece BPE needs one score per token",
         vocab.scores.size(), vocab.tokens.size());
  }
  return vocab.scores;
}

// A pair of adjacent symbols whose concatenation is a token. The lengths record the
// symbols as they were when the candidate was pushed, to detect staleness.
struct Candidate {
  float score;
  int32_t left;  // symbol index, which grows with position in the text
  int32_t right;
  uint32_t left_length;
  uint32_t right_length;
};

// Orders the heap so that the highest score pops first, and among equal scores the
// leftmost pair, as llama.cpp does.
struct PopsLater {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  }
};

}  // namespace

// A run of the text, linked to its neighbours. Its length is 0 once it is merged into its
// left neighbour.
struct SpmTokenizer::Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;
  uint32_t length;
};

SpmTokenizer::SpmTokenizer(const Vocabulary& vocab)
    : Tokenizer(vocab, /*default_add_bos=*/true),
      scores_(checked_scores(vocab)),
      add_space_prefix_(vocab.add_space_prefix.value_or(true)) {
  strips_leading_space_ = add_space_prefix_;
  build_pieces();
}

void SpmTokenizer::encode_text(std::string_view text, bool follows_special, std::vector<TokenId>& output) const {
  // Escape spaces, with one more in front at the start of the input and after each
  // special token when the model adds a space prefix.
  std::string escaped;
  escaped.reserve(text.size() + kSpaceMark.size());
  if (add_space_prefix_ && follows_special) {
    escaped += kSpaceMark;
  }
  for (const char c : text) {
    if (c == ' ') {
      escaped += kSpaceMark;
    } else {
      escaped.push_back(c);
    }
  }

  const std::vector<Symbol> symbols = merge(escaped);
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    append_symbol_tokens(std::string_view(escaped).substr(symbols[i].begin, symbols[i].length), output);
  }
}

// Algorithm: as in BpeMerges::merge_word, a heap of candidate pairs over a linked list of
// symbols, O(n log n) for n characters. Here a pair is a candidate when its concatenated
// text is a token, and the pair whose token has the highest score merges first.
std::vector<SpmTokenizer::Symbol> SpmTokenizer::merge(std::string_view text) const {
  // One symbol per UTF-8 character, and one per byte that is not part of a character.
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = std::max<size_t>(1, utf8_char_length(text, pos));
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, pos + length < text.size() ? index + 1 : -1, static_cast<uint32_t>(pos),
                       static_cast<uint32_t>(length)});
    pos += length;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, PopsLater> candidates;
  const auto push_candidate = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) {
      return;
    }
    const std::string_view pair_text = text.substr(symbols[left].begin, symbols[left].length + symbols[right].length);
    if (const std::optional<TokenId> token = find_token(pair_text)) {
      candidates.push({scores_[token->value], left, right, symbols[left].length, symbols[right].length});
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) {
    push_candidate(i, i + 1);
  }

  while (!candidates.empty()) {
    const Candidate best = candidates.top();
    candidates.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    if (left.length != best.left_length || right.length != best.right_length || left.next != best.right) {
      continue;  // stale: one of the two symbols changed after this candidate was pushed
    }

    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) {
      symbols[right.next].prev = best.left;
    }

    push_candidate(left.prev, best.left);
    push_candidate(best.left, left.next);
  }
  return symbols;
}

void SpmTokenizer::append_symbol_tokens(std::string_view symbol_text, std::vector<TokenId>& output) const {
  if (const std::optional<TokenId> token = find_token(symbol_text)) {
    output.push_back(*token);
    return;
  }

  // Every merged symbol is a token, so this is a single character missing from the
  // vocabulary: emit its bytes as <0xXX> tokens.
  for (const char c : symbol_text) {
    const TokenId byte = byte_token(static_cast<uint8_t>(c));
    if (byte.value >= 0) {
      output.push_back(byte);
    } else if (unknown_token().value >= 0) {
      // NOTE: a vocabulary without byte tokens loses this byte to the unknown token,
      // or drops it when the model has none.
      output.push_back(unknown_token());
    }
  }
}

std::string SpmTokenizer::decode_normal_text(std::string_view text) const {
  std::string decoded;
  decoded.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.substr(pos, kSpaceMark.size()) == kSpaceMark) {
      decoded.push_back(' ');
      pos += kSpaceMark.size();
    } else {
      decoded.push_back(text[pos]);
      ++pos;
    }
  }
  return decoded;
}

}  // namespace kvinfer::tokenizer
