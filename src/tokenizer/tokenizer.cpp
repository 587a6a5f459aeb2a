// Model-independent parts of the tokenizer: vocabulary tables, special tokens, the
// end-of-generation set, and decoding through per-token pieces.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "util/error.h"

namespace kvinfer {
namespace {

// Texts of control tokens that end a turn in the chat formats of common models. Like
// llama.cpp, kvinfer treats them as end of generation whatever their recorded type,
// because converters do not always mark them.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "<end_of_utterance>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  // DeepSeek, with fullwidth bars and U+2581 spaces
};

// Parses SentencePiece's byte token text "<0xXX>".
std::optional<uint8_t> parse_byte_token(std::string_view text) {
  if (text.size() != 6 || !text.starts_with("<0x") || text[5] != '>') {
    return std::nullopt;
  }
  uint8_t value = 0;
  const char* digits = text.data() + 3;
  const auto [end, error] = std::from_chars(digits, digits + 2, value, 16);
  if (error != std::errc() || end != digits + 2) {
    return std::nullopt;
  }
  return value;
}

TokenId checked_special_id(const std::optional<int64_t>& id, std::string_view key, size_t n_tokens) {
  if (!id) {
    return TokenId{-1};
  }
  if (*id < 0 || static_cast<uint64_t>(*id) >= n_tokens) {
    fail("{} = {} is outside the vocabulary of {} tokens", key, *id, n_tokens);
  }
  return TokenId{static_cast<int32_t>(*id)};
}

bool is_special_type(TokenType type) { return type == TokenType::CONTROL || type == TokenType::UNKNOWN; }

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  const Vocabulary vocab = read_vocabulary(file);
  try {
    return from_vocabulary(vocab);
  } catch (const Error& e) {
    fail("{}: {}", file.path(), e.what());
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_vocabulary(const Vocabulary& vocab) {
  if (vocab.model == "gpt2") {
    return std::make_unique<tokenizer::BpeTokenizer>(vocab);
  }
  if (vocab.model == "llama") {
    return std::make_unique<tokenizer::SpmTokenizer>(vocab);
  }
  fail("unsupported tokenizer.ggml.model \"{}\". Supported: gpt2 (byte-level BPE), llama (SentencePiece BPE)",
       vocab.model);
}

Tokenizer::Tokenizer(const Vocabulary& vocab, bool default_add_bos) {
  const size_t n_tokens = vocab.tokens.size();
  if (n_tokens == 0 || n_tokens > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("tokenizer.ggml.tokens has {} entries, expected between 1 and 2^31-1", n_tokens);
  }
  if (vocab.token_types.size() != n_tokens) {
    fail("tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}", vocab.token_types.size(),
         n_tokens);
  }
  n_vocab_ = static_cast<int32_t>(n_tokens);
  token_texts_ = vocab.tokens;
  token_types_ = vocab.token_types;

  // Text -> id lookup. Empty entries cannot be looked up by text and are left out.
  token_ids_.reserve(n_tokens);
  for (int32_t id = 0; id < n_vocab_; ++id) {
    const std::string& text = token_texts_[id];
    if (text.empty()) {
      continue;
    }
    const auto [existing, inserted] = token_ids_.try_emplace(text, id);
    if (!inserted) {
      fail("tokenizer.ggml.tokens has \"{}\" twice, as token {} and token {}", text, existing->second, id);
    }
  }

  byte_tokens_.fill(TokenId{-1});
  for (int32_t id = 0; id < n_vocab_; ++id) {
    if (token_types_[id] != TokenType::BYTE) {
      continue;
    }
    const std::optional<uint8_t> byte = parse_byte_token(token_texts_[id]);
    if (!byte) {
      fail("token {} \"{}\" has type BYTE but is not of the form <0xXX>", id, token_texts_[id]);
    }
    byte_tokens_[*byte] = TokenId{id};
  }

  init_special_ids(vocab);
  add_bos_ = vocab.add_bos.value_or(default_add_bos);
  if (add_bos_ && bos_.value < 0) {
    fail("the model adds BOS (tokenizer.ggml.add_bos_token) but tokenizer.ggml.bos_token_id is missing");
  }
  init_end_of_generation(vocab);
  init_matchers();
}

void Tokenizer::init_special_ids(const Vocabulary& vocab) {
  const size_t n_tokens = token_texts_.size();
  bos_ = checked_special_id(vocab.bos_id, "tokenizer.ggml.bos_token_id", n_tokens);
  eos_ = checked_special_id(vocab.eos_id, "tokenizer.ggml.eos_token_id", n_tokens);
  unknown_ = checked_special_id(vocab.unknown_id, "tokenizer.ggml.unknown_token_id", n_tokens);
}

void Tokenizer::init_end_of_generation(const Vocabulary& vocab) {
  const size_t n_tokens = token_texts_.size();
  for (const TokenId token : {eos_, checked_special_id(vocab.eot_id, "tokenizer.ggml.eot_token_id", n_tokens),
                              checked_special_id(vocab.eom_id, "tokenizer.ggml.eom_token_id", n_tokens)}) {
    if (token.value >= 0) {
      end_of_generation_.push_back(token);
    }
  }
  for (const std::string_view text : kEndOfGenerationTexts) {
    if (const std::optional<TokenId> token = find_token(text)) {
      end_of_generation_.push_back(*token);
    }
  }

  std::sort(end_of_generation_.begin(), end_of_generation_.end());
  end_of_generation_.erase(std::unique(end_of_generation_.begin(), end_of_generation_.end()),
                           end_of_generation_.end());
}

void Tokenizer::init_matchers() {
  for (int32_t id = 0; id < n_vocab_; ++id) {
    const TokenType type = token_types_[id];
    if (is_special_type(type) || type == TokenType::USER_DEFINED) {
      special_matcher_.add(token_texts_[id], TokenId{id});
    }
    if (type == TokenType::USER_DEFINED) {
      user_defined_matcher_.add(token_texts_[id], TokenId{id});
    }
  }
}

void Tokenizer::build_pieces() {
  piece_offsets_.assign(1, 0);
  piece_offsets_.reserve(token_texts_.size() + 1);
  for (int32_t id = 0; id < n_vocab_; ++id) {
    const std::string& text = token_texts_[id];
    switch (token_types_[id]) {
      case TokenType::NORMAL:
        pieces_ += decode_normal_text(text);
        break;
      case TokenType::USER_DEFINED:
      case TokenType::CONTROL:
      case TokenType::UNKNOWN:
        pieces_ += text;
        break;
      case TokenType::BYTE:
        pieces_ += static_cast<char>(*parse_byte_token(text));
        break;
      case TokenType::UNUSED:
      case TokenType::UNDEFINED:
        break;
    }
    piece_offsets_.push_back(pieces_.size());
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool parse_special) const {
  if (text.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("cannot tokenize a text of {} bytes: the limit is 2^31-1 bytes", text.size());
  }

  // Cut out special tokens first, then tokenize the text between them.
  std::vector<tokenizer::Fragment> fragments;
  const tokenizer::SpecialTokenMatcher& matcher = parse_special ? special_matcher_ : user_defined_matcher_;
  matcher.split(text, fragments);

  std::vector<TokenId> output;
  bool follows_special = true;
  for (const tokenizer::Fragment& fragment : fragments) {
    if (fragment.is_token()) {
      output.push_back(fragment.token);
      follows_special = true;
    } else {
      encode_text(fragment.text, follows_special, output);
      follows_special = false;
    }
  }
  return output;
}

std::vector<TokenId> Tokenizer::encode_prompt(std::string_view text) const {
  std::vector<TokenId> tokens = encode(text, /*parse_special=*/true);
  if (add_bos_) {
    tokens.insert(tokens.begin(), bos_);
  }
  return tokens;
}

std::string_view Tokenizer::piece_view(TokenId token, bool render_special) const {
  if (!contains(token)) {
    fail("token id {} is outside the vocabulary of {} tokens", token.value, n_vocab_);
  }
  if (!render_special && is_special_type(token_types_[token.value])) {
    return {};
  }
  const size_t begin = piece_offsets_[token.value];
  return std::string_view(pieces_).substr(begin, piece_offsets_[token.value + 1] - begin);
}

std::string Tokenizer::token_to_piece(TokenId token, bool render_special) const {
  return std::string(piece_view(token, render_special));
}

std::string Tokenizer::decode(std::span<const TokenId> tokens, bool render_special) const {
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string_view piece = piece_view(tokens[i], render_special);
    if (i == 0 && strips_leading_space_ && piece.starts_with(' ')) {
      piece.remove_prefix(1);
    }
    text += piece;
  }
  return text;
}

bool Tokenizer::is_end_of_generation(TokenId token) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), token);
}

std::optional<TokenId> Tokenizer::find_token(std::string_view text) const {
  const auto it = token_ids_.find(text);
  if (it == token_ids_.end()) {
    return std::nullopt;
  }
  return TokenId{it->second};
}

}  // namespace kvinfer
