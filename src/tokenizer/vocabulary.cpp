// Reading of the tokenizer.ggml.* keys. Key names follow llama.cpp's gguf-py constants.
#include "tokenizer/vocabulary.h"

#include "util/error.h"

namespace kvinfer {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kTokenTypeKey = "tokenizer.ggml.token_type";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";

void check_length(const gguf::File& file, std::string_view key, size_t n_values, size_t n_tokens) {
  if (n_values != n_tokens) {
    fail("{}: {} has {} entries but {} has {}", file.path(), key, n_values, kTokensKey, n_tokens);
  }
}

std::vector<TokenType> read_token_types(const gguf::File& file, size_t n_tokens) {
  const std::optional<std::vector<int64_t>> raw = file.get_int_array(kTokenTypeKey);
  if (!raw) {
    return std::vector<TokenType>(n_tokens, TokenType::NORMAL);
  }
  check_length(file, kTokenTypeKey, raw->size(), n_tokens);

  // Values outside the known range are kept as UNDEFINED, as llama.cpp does.
  std::vector<TokenType> types(n_tokens);
  for (size_t i = 0; i < n_tokens; ++i) {
    const int64_t value = (*raw)[i];
    const bool known = value >= 0 && value <= static_cast<int64_t>(TokenType::BYTE);
    types[i] = known ? static_cast<TokenType>(value) : TokenType::UNDEFINED;
  }
  return types;
}

// Scores are FLOAT32 in the files seen so far. llama.cpp also accepts INT32, and so does
// this.
std::vector<float> read_scores(const gguf::File& file, size_t n_tokens) {
  const gguf::ArrayValue* array = file.get_array(kScoresKey);
  if (array == nullptr) {
    return {};
  }

  std::vector<float> scores;
  if (array->element_type == gguf::ValueType::FLOAT32 || array->element_type == gguf::ValueType::FLOAT64) {
    scores = file.get_float_array(kScoresKey).value_or(std::vector<float>{});
  } else {
    const std::vector<int64_t> int_scores = file.get_int_array(kScoresKey).value_or(std::vector<int64_t>{});
    for (const int64_t value : int_scores) {
      scores.push_back(static_cast<float>(value));
    }
  }
  check_length(file, kScoresKey, scores.size(), n_tokens);
  return scores;
}

std::vector<std::string> to_strings(const std::vector<std::string_view>& views) {
  return std::vector<std::string>(views.begin(), views.end());
}

}  // namespace

Vocabulary read_vocabulary(const gguf::File& file) {
  Vocabulary vocab;

  const std::optional<std::string_view> model = file.get_string(kModelKey);
  if (!model) {
    fail("{}: missing key {}", file.path(), kModelKey);
  }
  vocab.model = std::string(*model);
  vocab.pre = std::string(file.get_string(kPreKey).value_or(""));

  const std::optional<std::vector<std::string_view>> tokens = file.get_string_array(kTokensKey);
  if (!tokens) {
    fail("{}: missing key {}", file.path(), kTokensKey);
  }
  vocab.tokens = to_strings(*tokens);
  vocab.token_types = read_token_types(file, vocab.tokens.size());
  vocab.scores = read_scores(file, vocab.tokens.size());
  vocab.merges = to_strings(file.get_string_array(kMergesKey).value_or(std::vector<std::string_view>{}));

  vocab.bos_id = file.get_int("tokenizer.ggml.bos_token_id");
  vocab.eos_id = file.get_int("tokenizer.ggml.eos_token_id");
  vocab.eot_id = file.get_int("tokenizer.ggml.eot_token_id");
  vocab.eom_id = file.get_int("tokenizer.ggml.eom_token_id");
  vocab.unknown_id = file.get_int("tokenizer.ggml.unknown_token_id");
  vocab.add_bos = file.get_bool("tokenizer.ggml.add_bos_token");
  vocab.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix");
  return vocab;
}

}  // namespace kvinfer
