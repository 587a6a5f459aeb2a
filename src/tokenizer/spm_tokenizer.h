// SentencePiece-style BPE as in Llama 1/2, Mistral and Gemma (tokenizer.ggml.model =
// "llama"): spaces become U+2581, pairs merge by highest score, and characters left
// without a token fall back to <0xXX> byte tokens. It does not apply SentencePiece
// normalization rules (the GGUF file does not carry them).
#pragma once

#include "tokenizer/tokenizer.h"

namespace kvinfer::tokenizer {

class SpmTokenizer final : public Tokenizer {
 public:
  // Throws Error when tokenizer.ggml.scores is missing or does not have one score per
  // token.
  explicit SpmTokenizer(const Vocabulary& vocab);

 private:
  struct Symbol;

  void encode_text(std::string_view text, bool follows_special, std::vector<TokenId>& output) const override;
  std::string decode_normal_text(std::string_view text) const override;

  // Merges the characters of `text` (already escaped) into symbols that are tokens or
  // single characters.
  std::vector<Symbol> merge(std::string_view text) const;
  // Appends the token of a final symbol, or its byte tokens when it has none.
  void append_symbol_tokens(std::string_view symbol_text, std::vector<TokenId>& output) const;

  std::vector<float> scores_;
  bool add_space_prefix_;
};

}  // namespace kvinfer::tokenizer
