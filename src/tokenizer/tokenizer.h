// Text <-> token conversion built from a GGUF file's tokenizer metadata alone.
// Supports byte-level BPE (tokenizer.ggml.model = "gpt2") with the pre-tokenizer
// chosen by tokenizer.ggml.pre, and SentencePiece-style BPE ("llama").
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"
#include "util/ids.h"

namespace kvinfer {

class Tokenizer {
 public:
  // Builds the tokenizer from `file`'s metadata. Throws Error for a missing or malformed
  // key, an unknown tokenizer.ggml.model or an unknown tokenizer.ggml.pre.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  virtual ~Tokenizer() = default;

  // Tokenizes `text`. Adds no BOS/EOS. With `parse_special`, the text of special and
  // control tokens (such as "<|im_start|>") becomes those tokens; without it, such text
  // is tokenized as ordinary text.
  virtual std::vector<TokenId> encode(std::string_view text, bool parse_special) const = 0;

  // Tokenizes `text` as a raw prompt: BOS first when the model adds one, special tokens
  // recognised.
  std::vector<TokenId> encode_prompt(std::string_view text) const;

  // Returns the bytes a token stands for when decoded (may be part of a UTF-8 character).
  // Control tokens decode to their text only when `render_special` is set.
  virtual std::string token_to_piece(TokenId token, bool render_special) const = 0;

  // Decodes a whole token sequence.
  std::string decode(std::span<const TokenId> tokens, bool render_special) const;

  int n_vocab() const { return n_vocab_; }
  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  bool add_bos() const { return add_bos_; }
  // True for tokens that end generation (EOS, EOT-like control tokens such as <|im_end|>).
  bool is_end_of_generation(TokenId token) const;

 protected:
  int n_vocab_ = 0;
  TokenId bos_{-1};
  TokenId eos_{-1};
  bool add_bos_ = false;
  std::vector<TokenId> end_of_generation_;
};

// Turns a stream of tokens into text, releasing only complete UTF-8 characters; bytes of
// a character split across tokens are held until the character is complete.
class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  // Appends a token; returns the text that became complete.
  std::string push(TokenId token);
  // Returns whatever is held back (an incomplete character at the end of the stream).
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  std::string pending_;
};

}  // namespace kvinfer
