// The tokenizer metadata of a GGUF file (the tokenizer.ggml.* keys), read into plain
// values. It checks types and array lengths only: the tokenizers validate ids and build
// their lookup tables from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace kvinfer {

// Token types as tokenizer.ggml.token_type stores them (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
};

struct Vocabulary {
  std::string model;  // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE)
  std::string pre;    // tokenizer.ggml.pre, or empty when absent
  std::vector<std::string> tokens;
  std::vector<TokenType> token_types;  // one per token, all NORMAL when the key is absent
  std::vector<float> scores;           // one per token, or empty when the key is absent
  std::vector<std::string> merges;     // "left right", highest priority first
  std::optional<int64_t> bos_id;
  std::optional<int64_t> eos_id;
  std::optional<int64_t> eot_id;  // end of turn
  std::optional<int64_t> eom_id;  // end of message (tool calls)
  std::optional<int64_t> unknown_id;
  std::optional<bool> add_bos;
  std::optional<bool> add_space_prefix;
};

// Reads the tokenizer keys of `file`. Throws Error naming the key when
// tokenizer.ggml.model or tokenizer.ggml.tokens is missing, when a key has the wrong
// type, or when a per-token array's length differs from the number of tokens.
Vocabulary read_vocabulary(const gguf::File& file);

}  // namespace kvinfer
