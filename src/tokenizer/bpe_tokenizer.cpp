// Byte-level BPE encoding and decoding.
#include "tokenizer/bpe_tokenizer.h"

#include "tokenizer/byte_unicode.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace kvinfer::tokenizer {
namespace {

constexpr std::string_view kReplacementChar = "\xef\xbf\xbd";  // U+FFFD

PreTokenizer pre_tokenizer_for(const Vocabulary& vocab) {
  if (vocab.pre.empty()) {
    fail("tokenizer.ggml.pre is missing, but byte-level BPE needs it to choose how text is split into words. "
         "Convert the model again with a current llama.cpp, which writes it. Supported: {}",
         fmt::join(PreTokenizer::supported_names(), ", "));
  }
  return PreTokenizer::from_name(vocab.pre);
}

const std::vector<std::string>& checked_merges(const Vocabulary& vocab) {
  if (vocab.merges.empty()) {
    fail("tokenizer.ggml.merges is missing or empty, but byte-level BPE needs it");
  }
  return vocab.merges;
}

}  // namespace

BpeTokenizer::BpeTokenizer(const Vocabulary& vocab) : BpeTokenizer(vocab, pre_tokenizer_for(vocab)) {}

BpeTokenizer::BpeTokenizer(const Vocabulary& vocab, PreTokenizer pre_tokenizer)
    : Tokenizer(vocab, pre_tokenizer.adds_bos_by_default()),
      pre_tokenizer_(std::move(pre_tokenizer)),
      merges_(token_ids(), n_vocab_, checked_merges(vocab)) {
  build_pieces();

  std::vector<MergedSymbol> symbols;
  std::string encoded_word;
  encode_word(kReplacementChar, symbols, encoded_word, replacement_char_tokens_);
}

void BpeTokenizer::encode_text(std::string_view text, bool /*follows_special*/, std::vector<TokenId>& output) const {
  std::vector<std::string_view> words;
  pre_tokenizer_.split(text, words);

  // Buffers reused across the words of this call.
  std::vector<MergedSymbol> symbols;
  std::string encoded_word;
  for (const std::string_view word : words) {
    encode_word(word, symbols, encoded_word, output);
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<MergedSymbol>& symbols, std::string& encoded_word,
                               std::vector<TokenId>& output) const {
  if (pre_tokenizer_.ignore_merges()) {
    encoded_word.clear();
    append_byte_encoded(word, encoded_word);
    const std::optional<TokenId> token = find_token(encoded_word);
    if (token && token_type(*token) == TokenType::NORMAL) {
      output.push_back(*token);
      return;
    }
  }

  symbols.clear();
  merges_.merge_word(word, symbols);

  // The pre-tokenizer makes each byte outside well-formed UTF-8 a word of its own.
  const bool is_invalid_byte = word.size() == 1 && utf8_char_length(word, 0) == 0;
  for (const MergedSymbol& symbol : symbols) {
    const bool is_normal_token =
        symbol.id >= 0 && symbol.id < n_vocab_ && token_type(TokenId{symbol.id}) == TokenType::NORMAL;
    if (is_normal_token) {
      output.push_back(TokenId{symbol.id});
    } else {
      append_byte_tokens(word.substr(symbol.begin, symbol.length), is_invalid_byte, output);
    }
  }
}

void BpeTokenizer::append_byte_tokens(std::string_view bytes, bool is_invalid_byte,
                                      std::vector<TokenId>& output) const {
  for (const char c : bytes) {
    const int32_t id = byte_token_id(static_cast<uint8_t>(c));
    if (id >= 0) {
      output.push_back(TokenId{id});
    } else if (is_invalid_byte) {
      output.insert(output.end(), replacement_char_tokens_.begin(), replacement_char_tokens_.end());
    }
  }
}

int32_t BpeTokenizer::byte_token_id(uint8_t byte) const {
  const int32_t id = merges_.byte_symbol_id(byte);
  const bool is_normal_token = id >= 0 && id < n_vocab_ && token_type(TokenId{id}) == TokenType::NORMAL;
  return is_normal_token ? id : -1;
}

std::string BpeTokenizer::decode_normal_text(std::string_view text) const {
  std::string bytes;
  bytes.reserve(text.size());
  while (!text.empty()) {
    size_t n_consumed = 0;
    const std::optional<uint8_t> byte = unicode_to_byte(text, n_consumed);
    if (byte) {
      bytes.push_back(static_cast<char>(*byte));
    } else {
      bytes.append(text.substr(0, n_consumed));  // not a mapped character: keep it as is
    }
    text.remove_prefix(n_consumed);
  }
  return bytes;
}

}  // namespace kvinfer::tokenizer
