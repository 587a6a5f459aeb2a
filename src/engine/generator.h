// Single-sequence generation: prefill the prompt in batched chunks, then decode one
// token per step attending over the cached K/V. The multi-request engine replaces this
// for serving; the CLI's run, score and bench use it directly.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "kv/kv_memory.h"
#include "model/llama_model.h"
#include "tokenizer/tokenizer.h"
#include "util/thread_pool.h"

namespace kvinfer {

struct GeneratorOptions {
  int n_threads = 2;
  int n_context = 4096;       // positions the KV cache holds; clipped to the model's context
  int max_batch_tokens = 512;  // prompt tokens per forward pass
  int max_logit_rows = 1;     // rows of logits one pass may return (score needs a whole chunk)
  int block_size = 16;
  DType kv_type = DType::F16;
  bool use_kv_cache = true;  // false: recompute the whole sequence at every step
};

struct GenerationStats {
  int n_prompt_tokens = 0;
  int n_generated_tokens = 0;
  double prompt_seconds = 0.0;
  double generation_seconds = 0.0;
  std::string finish_reason;  // "stop" (end-of-generation token) or "length"
};

class Generator {
 public:
  // Allocates the KV cache and scratch for `options`. Throws Error for invalid options.
  Generator(const LlamaModel& model, const GeneratorOptions& options);

  int n_context() const { return n_context_; }
  const GeneratorOptions& options() const { return options_; }

  // Generates up to max_tokens tokens after `prompt`, calling on_token for each one
  // (end-of-generation tokens included, which stop generation). Starts from an empty cache.
  GenerationStats generate(std::span<const TokenId> prompt, int max_tokens, const SamplingParams& sampling,
                           const Tokenizer& tokenizer, const std::function<void(TokenId)>& on_token);

  // Teacher forcing: writes the logits after each of `tokens` to `logits`
  // ([tokens.size(), n_vocab]). Starts from an empty cache.
  void score(std::span<const TokenId> tokens, float* logits);

  // Runs tokens [begin, end) of `tokens` at positions [begin, end) through the model;
  // the cache must already hold positions [0, begin). Returns the last token's logits.
  std::span<const float> process(std::span<const TokenId> tokens, int begin, int end);

 private:
  const LlamaModel& model_;
  GeneratorOptions options_;
  int n_context_;
  ThreadPool pool_;
  KvMemory kv_;
  ForwardScratch scratch_;
  std::vector<int32_t> block_table_;  // identity: the one sequence owns every block in order
  std::vector<int32_t> positions_;
  std::vector<int32_t> seq_indices_;
  std::vector<int32_t> logit_indices_;
  std::vector<float> logits_;
};

}  // namespace kvinfer
