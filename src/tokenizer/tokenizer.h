// Text <-> token conversion built from a GGUF file's tokenizer metadata alone.
// Supports byte-level BPE (tokenizer.ggml.model = "gpt2") with the pre-tokenizer
// chosen by tokenizer.ggml.pre, and SentencePiece-style BPE ("llama").
// It does not render chat templates (chat/ does) or match stop strings (engine/ does).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/vocabulary.h"
#include "util/ids.h"

namespace kvinfer {

// Thread-safe: every const member may be called from several threads at once.
class Tokenizer {
 public:
  // Builds the tokenizer from `file`'s metadata. Throws Error for a missing or malformed
  // key, an unknown tokenizer.ggml.model or an unknown tokenizer.ggml.pre.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  // Builds the tokenizer from metadata already read (or assembled by a test). Throws
  // Error as from_gguf() does, and for special token ids outside the vocabulary.
  static std::unique_ptr<Tokenizer> from_vocabulary(const Vocabulary& vocab);
  virtual ~Tokenizer() = default;

  // Tokenizes `text`. Adds no BOS/EOS. With `parse_special`, the text of special and
  // control tokens (such as "<|im_start|>") becomes those tokens. Without it, such text
  // is tokenized as ordinary text. User-defined tokens (type 4) are recognised either
  // way, as Hugging Face tokenizers and llama.cpp do. Any bytes are accepted: bytes
  // that are not valid UTF-8 become byte tokens, so decode() restores them.
  std::vector<TokenId> encode(std::string_view text, bool parse_special) const;

  // Tokenizes `text` as a raw prompt: BOS first when the model adds one, special tokens
  // recognised.
  std::vector<TokenId> encode_prompt(std::string_view text) const;

  // Returns the bytes a token decodes to (may be part of a UTF-8 character).
  // Control and unknown tokens decode to their text only when `render_special` is set,
  // and to nothing otherwise. Throws Error when `token` is not in the vocabulary.
  std::string token_to_piece(TokenId token, bool render_special) const;
  // Returns the same bytes as token_to_piece() without a copy. The view lives as long as
  // the tokenizer.
  std::string_view piece_view(TokenId token, bool render_special) const;

  // Decodes a whole token sequence. For SentencePiece models that prefix a space
  // (add_space_prefix), the first token's leading space is dropped, so that
  // decode(encode(text)) == text. Throws Error for a token not in the vocabulary.
  std::string decode(std::span<const TokenId> tokens, bool render_special) const;

  int n_vocab() const { return n_vocab_; }
  TokenId bos() const { return bos_; }  // -1 when the model has none
  TokenId eos() const { return eos_; }  // -1 when the model has none
  bool add_bos() const { return add_bos_; }
  // True for tokens that end generation (EOS, EOT-like control tokens such as <|im_end|>).
  bool is_end_of_generation(TokenId token) const;

  bool contains(TokenId token) const { return token.value >= 0 && token.value < n_vocab_; }
  // The vocabulary entry of `token` as stored (GPT-2 byte-mapped or with U+2581 for
  // spaces). Precondition: contains(token).
  std::string_view token_text(TokenId token) const { return token_texts_[token.value]; }
  TokenType token_type(TokenId token) const { return token_types_[token.value]; }
  // Returns the vocabulary entry of `token`, or "" for a token outside the vocabulary,
  // such as the -1 of a model without BOS. Chat templates take BOS and EOS this way.
  std::string_view token_text_or_empty(TokenId token) const { return contains(token) ? token_text(token) : std::string_view(); }
  // Returns the token whose vocabulary entry is exactly `text`, if any.
  std::optional<TokenId> find_token(std::string_view text) const;

 protected:
  // Validates `vocab` and builds everything model-independent. `default_add_bos` applies
  // when tokenizer.ggml.add_bos_token is absent.
  Tokenizer(const Vocabulary& vocab, bool default_add_bos);

  // Tokenizes text that contains no special token. `follows_special` is true at the
  // start of the input and right after a special token.
  virtual void encode_text(std::string_view text, bool follows_special, std::vector<TokenId>& output) const = 0;

  // Returns the bytes that a NORMAL token's vocabulary entry decodes to.
  virtual std::string decode_normal_text(std::string_view text) const = 0;

  // Fills the decoded piece of every token. Derived constructors call it last, once
  // decode_normal_text() can run.
  void build_pieces();

  // Returns SentencePiece's byte token <0xXX> (type BYTE) for `byte`, or -1.
  TokenId byte_token(uint8_t byte) const { return byte_tokens_[byte]; }
  TokenId unknown_token() const { return unknown_; }
  // Vocabulary text -> token id, for every token with a non-empty text.
  const std::unordered_map<std::string_view, int32_t>& token_ids() const { return token_ids_; }

  int n_vocab_ = 0;
  TokenId bos_{-1};
  TokenId eos_{-1};
  TokenId unknown_{-1};
  bool add_bos_ = false;
  bool strips_leading_space_ = false;  // decode() drops the first token's leading space
  std::vector<TokenId> end_of_generation_;  // sorted

 private:
  void init_special_ids(const Vocabulary& vocab);
  void init_end_of_generation(const Vocabulary& vocab);
  void init_matchers();

  std::vector<std::string> token_texts_;
  std::vector<TokenType> token_types_;
  std::unordered_map<std::string_view, int32_t> token_ids_;  // views into token_texts_
  std::array<TokenId, 256> byte_tokens_;

  // Decoded bytes of each token: token t is pieces_[piece_offsets_[t], piece_offsets_[t+1]).
  std::string pieces_;
  std::vector<size_t> piece_offsets_;

  tokenizer::SpecialTokenMatcher special_matcher_;       // control, unknown and user-defined
  tokenizer::SpecialTokenMatcher user_defined_matcher_;  // user-defined only
};

// Turns a stream of tokens into text and releases only complete UTF-8 characters. Bytes
// of a character split across tokens are held until the character is complete. Bytes
// that can never complete a character (invalid UTF-8) are released as they are, not
// replaced.
class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool render_special = false)
      : tokenizer_(&tokenizer), render_special_(render_special) {}

  // Appends a token and returns the text that became complete. Throws Error when `token`
  // is not in the vocabulary.
  std::string push(TokenId token);
  // Returns whatever is held back (an incomplete character at the end of the stream).
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace kvinfer
