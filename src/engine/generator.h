// Sequence-at-a-time generation over the paged KV cache: a prompt reuses the longest
// cached prefix, its remaining tokens are prefilled in batched chunks, then each decode
// step runs the model on the new token only. Prompts run one after another through one
// pool, so later prompts reuse earlier prompts' blocks. The continuous-batching engine
// will run many sequences per step; the CLI's run, score and bench use this directly.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler.h"
#include "kv/kv_cache_manager.h"
#include "kv/kv_memory.h"
#include "model/llama_model.h"
#include "tokenizer/tokenizer.h"
#include "util/thread_pool.h"

namespace kvinfer {

struct GeneratorOptions {
  int n_threads = 2;
  int n_context = 4096;        // maximum sequence length, clipped to the model's context
  int64_t kv_tokens = 0;       // KV pool size in positions; 0 means n_context
  int max_batch_tokens = 512;  // prompt tokens per forward pass
  int max_logit_rows = 1;      // rows of logits one pass may return (score needs a whole chunk)
  int block_size = 16;
  DType kv_type = DType::F16;
  bool prefix_cache = true;  // reuse cached prompt prefixes across sequences
  bool use_kv_cache = true;  // false: recompute the whole sequence at every step
};

struct GenerationStats {
  int n_prompt_tokens = 0;
  int n_cached_tokens = 0;  // prompt tokens whose K/V came from the prefix cache
  int n_generated_tokens = 0;
  double prompt_seconds = 0.0;
  double generation_seconds = 0.0;
  std::string finish_reason;  // "stop" (end-of-generation token) or "length"
};

class Generator {
 public:
  // Allocates the KV pool and scratch for `options`. Throws Error for invalid options.
  Generator(const LlamaModel& model, const GeneratorOptions& options);

  int n_context() const { return n_context_; }
  const GeneratorOptions& options() const { return options_; }
  const KvLayout& kv_layout() const { return kv_.layout(); }
  KvCacheStats kv_stats() const { return manager_.stats(); }

  // Generates up to max_tokens tokens after `prompt`, calling on_token for each one
  // (an end-of-generation token included; it ends generation). Throws Error when the
  // prompt is empty or cannot fit the context or the pool.
  GenerationStats generate(std::span<const TokenId> prompt, int max_tokens, const SamplingParams& sampling,
                           const Tokenizer& tokenizer, const std::function<void(TokenId)>& on_token,
                           std::string_view cache_salt = "");

  // Teacher forcing: writes the logits after each of `tokens` to `logits`
  // ([tokens.size(), n_vocab]). Computes every position, cached or not.
  void score(std::span<const TokenId> tokens, float* logits);

  // Low-level steps, for benchmarks. begin_sequence starts a sequence with `tokens` and
  // returns how many of them the prefix cache already holds. process runs tokens
  // [begin, end) of it, extend_sequence grows it by n positions, end_sequence frees it.
  int begin_sequence(SeqId seq, std::span<const TokenId> tokens, std::string_view cache_salt, int max_new_tokens = 0);
  std::span<const float> process(SeqId seq, std::span<const TokenId> tokens, int begin, int end);
  bool extend_sequence(SeqId seq, int n);
  void end_sequence(SeqId seq) { manager_.free(seq); }
  SeqId next_sequence_id() { return SeqId{next_seq_++}; }

 private:
  const LlamaModel& model_;
  GeneratorOptions options_;
  int n_context_;
  ThreadPool pool_;
  KvMemory kv_;
  KvCacheManager manager_;
  ForwardScratch scratch_;
  std::vector<int32_t> positions_;
  std::vector<int32_t> seq_indices_;
  std::vector<int32_t> logit_indices_;
  std::vector<float> logits_;
  std::vector<BlockCopy> copies_;
  int64_t next_seq_ = 0;
};

// Parses a memory size such as "512M", "2G", "1.5GiB" or "1048576" (bytes; K, M, G and
// T are powers of 1024). Throws Error naming the text when it is not a positive size.
int64_t parse_memory_size(std::string_view text);

// An identifier of the model and KV format for prefix hashes: blocks written by another
// model file, KV element type or block size never match.
uint64_t kv_model_key(const gguf::File& file, const KvLayout& layout);

}  // namespace kvinfer
