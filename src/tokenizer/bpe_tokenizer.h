// Byte-level BPE as in GPT-2, Llama 3, Qwen2 and SmolLM (tokenizer.ggml.model = "gpt2"):
// pre-tokenize into words, map each byte to its printable character, then merge by
// rank within each word.
#pragma once

#include "tokenizer/bpe_merges.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace kvinfer::tokenizer {

class BpeTokenizer final : public Tokenizer {
 public:
  // Throws Error when tokenizer.ggml.merges is missing or tokenizer.ggml.pre names no
  // supported pre-tokenizer (see PreTokenizer::from_name).
  explicit BpeTokenizer(const Vocabulary& vocab);

 private:
  BpeTokenizer(const Vocabulary& vocab, PreTokenizer pre_tokenizer);

  void encode_text(std::string_view text, bool follows_special, std::vector<TokenId>& output) const override;
  std::string decode_normal_text(std::string_view text) const override;

  // Tokenizes one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<MergedSymbol>& symbols, std::string& encoded_word,
                   std::vector<TokenId>& output) const;
  // Appends the tokens for a merged symbol that is not a NORMAL token: the token of each
  // of its bytes' characters. A byte whose character has no NORMAL token is dropped from
  // well-formed text, as Hugging Face tokenizers and llama.cpp do. When the byte lies
  // outside well-formed UTF-8 (`is_invalid_byte`), it becomes the tokens of U+FFFD
  // instead, as in llama.cpp. decode() cannot restore either kind of byte.
  void append_byte_tokens(std::string_view bytes, bool is_invalid_byte, std::vector<TokenId>& output) const;
  // Returns the NORMAL token of the character that `byte` maps to, or -1. Real
  // vocabularies lack some: SmolLM2's has none for 21 byte values, among them 0x04 and
  // 0xFF.
  int32_t byte_token_id(uint8_t byte) const;

  PreTokenizer pre_tokenizer_;
  BpeMerges merges_;
  std::vector<TokenId> replacement_char_tokens_;  // the tokens of U+FFFD
};

}  // namespace kvinfer::tokenizer
