// Prefill in chunks of max_batch_tokens, then one forward pass per generated token.
#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "util/error.h"

namespace kvinfer {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int clip_context(const LlamaModel& model, const GeneratorOptions& options) {
  if (options.n_context <= 0) fail("invalid context size {}: must be > 0", options.n_context);
  if (options.block_size <= 0) fail("invalid block size {}: must be > 0", options.block_size);
  if (options.max_batch_tokens <= 0) fail("invalid batch size {}: must be > 0", options.max_batch_tokens);
  return std::min(options.n_context, model.config().n_context);
}

KvLayout layout_for(const LlamaModel& model, const GeneratorOptions& options) {
  const LlamaConfig& c = model.config();
  return KvLayout{c.n_layers, c.n_kv_heads, c.head_dim, options.block_size, options.kv_type};
}

}  // namespace

Generator::Generator(const LlamaModel& model, const GeneratorOptions& options)
    : model_(model),
      options_(options),
      n_context_(clip_context(model, options)),
      pool_(options.n_threads),
      kv_(layout_for(model, options), (n_context_ + options.block_size - 1) / options.block_size),
      scratch_(model.config(), options.max_batch_tokens, std::max(1, std::min(options.max_logit_rows, options.max_batch_tokens)),
               n_context_, pool_.n_threads()),
      block_table_(kv_.n_blocks()),
      positions_(options.max_batch_tokens),
      seq_indices_(options.max_batch_tokens, 0),
      logit_indices_(options.max_batch_tokens),
      logits_(static_cast<size_t>(scratch_.max_logit_rows()) * model.config().n_vocab) {
  std::iota(block_table_.begin(), block_table_.end(), 0);
}

std::span<const float> Generator::process(std::span<const TokenId> tokens, int begin, int end) {
  const int n_vocab = model_.config().n_vocab;
  std::span<const int32_t> tables[1] = {block_table_};
  for (int chunk_begin = begin; chunk_begin < end; chunk_begin += options_.max_batch_tokens) {
    const int chunk_end = std::min(end, chunk_begin + options_.max_batch_tokens);
    const int n = chunk_end - chunk_begin;
    for (int i = 0; i < n; ++i) positions_[i] = chunk_begin + i;
    logit_indices_[0] = n - 1;

    ForwardBatch batch{tokens.subspan(chunk_begin, n), std::span(positions_).first(n), std::span(seq_indices_).first(n),
                       tables, std::span(logit_indices_).first(1)};
    model_.forward(batch, kv_, scratch_, pool_, logits_.data());
  }
  return std::span<const float>(logits_).first(n_vocab);
}

GenerationStats Generator::generate(std::span<const TokenId> prompt, int max_tokens, const SamplingParams& sampling,
                                    const Tokenizer& tokenizer, const std::function<void(TokenId)>& on_token) {
  GenerationStats stats;
  stats.n_prompt_tokens = static_cast<int>(prompt.size());
  if (prompt.empty()) fail("the prompt is empty: it must contain at least one token");
  if (static_cast<int>(prompt.size()) >= n_context_) {
    fail("the prompt has {} tokens, which does not fit the context of {} tokens", prompt.size(), n_context_);
  }

  std::vector<TokenId> sequence(prompt.begin(), prompt.end());
  sequence.reserve(prompt.size() + std::max(0, max_tokens));
  Sampler sampler(sampling, model_.config().n_vocab);

  auto start = std::chrono::steady_clock::now();
  std::span<const float> logits = process(sequence, 0, static_cast<int>(sequence.size()));
  stats.prompt_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  stats.finish_reason = "length";
  while (stats.n_generated_tokens < max_tokens) {
    TokenId token = sampler.sample(logits, sequence);
    sequence.push_back(token);
    ++stats.n_generated_tokens;
    on_token(token);
    if (tokenizer.is_end_of_generation(token)) {
      stats.finish_reason = "stop";
      break;
    }
    if (static_cast<int>(sequence.size()) >= n_context_ || stats.n_generated_tokens >= max_tokens) break;

    // With the cache, only the new token runs; without it, the whole sequence reruns.
    const int end = static_cast<int>(sequence.size());
    logits = process(sequence, options_.use_kv_cache ? end - 1 : 0, end);
  }
  stats.generation_seconds = seconds_since(start);
  return stats;
}

void Generator::score(std::span<const TokenId> tokens, float* logits) {
  const int n_vocab = model_.config().n_vocab;
  const int n_total = static_cast<int>(tokens.size());
  if (n_total > n_context_) fail("{} tokens do not fit the context of {} tokens", n_total, n_context_);
  const int chunk = std::min(options_.max_batch_tokens, scratch_.max_logit_rows());
  std::span<const int32_t> tables[1] = {block_table_};

  for (int chunk_begin = 0; chunk_begin < n_total; chunk_begin += chunk) {
    const int n = std::min(chunk, n_total - chunk_begin);
    for (int i = 0; i < n; ++i) {
      positions_[i] = chunk_begin + i;
      logit_indices_[i] = i;
    }
    ForwardBatch batch{tokens.subspan(chunk_begin, n), std::span(positions_).first(n), std::span(seq_indices_).first(n),
                       tables, std::span(logit_indices_).first(n)};
    model_.forward(batch, kv_, scratch_, pool_, logits + static_cast<size_t>(chunk_begin) * n_vocab);
  }
}

}  // namespace kvinfer
