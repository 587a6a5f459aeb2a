// Prefill in chunks of max_batch_tokens through the sequence's block table, then one
// forward pass per generated token.
#include "engine/generator.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>

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
  if (options.kv_tokens < 0) fail("invalid KV cache size {} tokens: must be > 0", options.kv_tokens);
  return std::min(options.n_context, model.config().n_context);
}

KvLayout layout_for(const LlamaModel& model, const GeneratorOptions& options) {
  const LlamaConfig& c = model.config();
  return KvLayout{c.n_layers, c.n_kv_heads, c.head_dim, options.block_size, options.kv_type};
}

int32_t pool_blocks(const GeneratorOptions& options, int n_context) {
  const int64_t tokens = options.kv_tokens > 0 ? options.kv_tokens : n_context;
  const int64_t blocks = (tokens + options.block_size - 1) / options.block_size;
  if (blocks > (1 << 30)) fail("KV cache of {} tokens is too large", tokens);
  return static_cast<int32_t>(blocks);
}

// Removes a sequence from the KV cache when it goes out of scope, errors included.
class SequenceGuard {
 public:
  SequenceGuard(Generator& generator, SeqId seq) : generator_(generator), seq_(seq) {}
  ~SequenceGuard() { generator_.end_sequence(seq_); }
  SequenceGuard(const SequenceGuard&) = delete;
  SequenceGuard& operator=(const SequenceGuard&) = delete;

 private:
  Generator& generator_;
  SeqId seq_;
};

}  // namespace

Generator::Generator(const LlamaModel& model, const GeneratorOptions& options)
    : model_(model),
      options_(options),
      n_context_(clip_context(model, options)),
      pool_(options.n_threads),
      kv_(layout_for(model, options), pool_blocks(options, n_context_)),
      manager_(static_cast<int32_t>(kv_.n_blocks()), options.block_size, options.prefix_cache && options.use_kv_cache,
               kv_model_key(model.file(), kv_.layout())),
      scratch_(model.config(), options.max_batch_tokens, std::max(1, std::min(options.max_logit_rows, options.max_batch_tokens)),
               n_context_, pool_.n_threads()),
      positions_(options.max_batch_tokens),
      seq_indices_(options.max_batch_tokens, 0),
      logit_indices_(options.max_batch_tokens),
      logits_(static_cast<size_t>(scratch_.max_logit_rows()) * model.config().n_vocab) {}

int Generator::begin_sequence(SeqId seq, std::span<const TokenId> tokens, std::string_view cache_salt,
                              int max_new_tokens) {
  if (tokens.empty()) fail("the prompt is empty: it must contain at least one token");
  if (static_cast<int64_t>(tokens.size()) > n_context_) {
    fail("the prompt has {} tokens, which does not fit the context of {} tokens", tokens.size(), n_context_);
  }
  const int64_t max_positions = std::min<int64_t>(static_cast<int64_t>(tokens.size()) + max_new_tokens, n_context_);
  std::optional<int> n_cached = manager_.admit(seq, tokens, cache_salt, max_positions);
  if (!n_cached) {
    fail("the prompt needs {} KV blocks but only {} of {} are free; raise --kv-tokens or --kv-memory",
         manager_.blocks_for(static_cast<int64_t>(tokens.size())), manager_.n_free_blocks(), kv_.n_blocks());
  }
  return *n_cached;
}

bool Generator::extend_sequence(SeqId seq, int n) {
  copies_.clear();
  if (!manager_.append_slots(seq, n, copies_)) return false;
  for (const BlockCopy& copy : copies_) {
    std::memcpy(kv_.block(copy.destination.value), kv_.block(copy.source.value), kv_.layout().block_bytes());
  }
  return true;
}

std::span<const float> Generator::process(SeqId seq, std::span<const TokenId> tokens, int begin, int end) {
  const int n_vocab = model_.config().n_vocab;
  std::span<const int32_t> tables[1] = {manager_.block_table(seq)};
  for (int chunk_begin = begin; chunk_begin < end; chunk_begin += options_.max_batch_tokens) {
    const int chunk_end = std::min(end, chunk_begin + options_.max_batch_tokens);
    const int n = chunk_end - chunk_begin;
    for (int i = 0; i < n; ++i) positions_[i] = chunk_begin + i;
    logit_indices_[0] = n - 1;

    ForwardBatch batch{tokens.subspan(chunk_begin, n), std::span(positions_).first(n), std::span(seq_indices_).first(n),
                       tables, std::span(logit_indices_).first(1)};
    model_.forward(batch, kv_, scratch_, pool_, logits_.data());
    manager_.mark_computed(seq, tokens, chunk_end);
  }
  return std::span<const float>(logits_).first(n_vocab);
}

GenerationStats Generator::generate(std::span<const TokenId> prompt, int max_tokens, const SamplingParams& sampling,
                                    const Tokenizer& tokenizer, const std::function<void(TokenId)>& on_token,
                                    std::string_view cache_salt) {
  GenerationStats stats;
  stats.n_prompt_tokens = static_cast<int>(prompt.size());
  std::vector<TokenId> sequence(prompt.begin(), prompt.end());
  sequence.reserve(prompt.size() + std::max(0, max_tokens));
  Sampler sampler(sampling, model_.config().n_vocab);

  // Prefill what the prefix cache does not already hold.
  auto start = std::chrono::steady_clock::now();
  const SeqId seq = next_sequence_id();
  stats.n_cached_tokens = begin_sequence(seq, sequence, cache_salt, max_tokens);
  SequenceGuard guard(*this, seq);
  std::span<const float> logits = process(seq, sequence, stats.n_cached_tokens, static_cast<int>(sequence.size()));
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
    const int end = static_cast<int>(sequence.size());
    if (end >= n_context_ || stats.n_generated_tokens >= max_tokens || !extend_sequence(seq, 1)) break;

    // With the cache, only the new token runs; without it, the whole sequence reruns.
    logits = process(seq, sequence, options_.use_kv_cache ? end - 1 : 0, end);
  }
  stats.generation_seconds = seconds_since(start);
  return stats;
}

void Generator::score(std::span<const TokenId> tokens, float* logits) {
  const int n_vocab = model_.config().n_vocab;
  const int n_total = static_cast<int>(tokens.size());
  const SeqId seq = next_sequence_id();
  begin_sequence(seq, tokens, "");
  SequenceGuard guard(*this, seq);
  std::span<const int32_t> tables[1] = {manager_.block_table(seq)};

  const int chunk = std::min(options_.max_batch_tokens, scratch_.max_logit_rows());
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

int64_t parse_memory_size(std::string_view text) {
  double value = 0.0;
  auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view unit(rest, text.data() + text.size() - rest);
  if (error != std::errc() || !std::isfinite(value) || value <= 0.0) {
    fail("invalid memory size '{}': expected a positive number with an optional K, M, G or T suffix", text);
  }
  if (unit.size() == 3 && (unit.substr(1) == "iB" || unit.substr(1) == "ib")) unit = unit.substr(0, 1);
  if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b')) unit = unit.substr(0, 1);
  double scale = 1.0;
  if (unit == "K" || unit == "k") {
    scale = 1024.0;
  } else if (unit == "M" || unit == "m") {
    scale = 1024.0 * 1024.0;
  } else if (unit == "G" || unit == "g") {
    scale = 1024.0 * 1024.0 * 1024.0;
  } else if (unit == "T" || unit == "t") {
    scale = 1024.0 * 1024.0 * 1024.0 * 1024.0;
  } else if (!unit.empty() && unit != "B" && unit != "b") {
    fail("invalid memory size '{}': unknown unit '{}' (use K, M, G or T)", text, unit);
  }
  const double bytes = value * scale;
  if (bytes >= 9.0e18) fail("invalid memory size '{}': too large", text);
  return static_cast<int64_t>(bytes);
}

uint64_t kv_model_key(const gguf::File& file, const KvLayout& layout) {
  // The tensor table (names, types, offsets) and the file size identify a model file
  // without reading its data; the layout fields make formats differ.
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  const uint64_t size = file.file_size();
  XXH3_64bits_update(state, &size, sizeof(size));
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    XXH3_64bits_update(state, tensor.name.data(), tensor.name.size());
    XXH3_64bits_update(state, &tensor.offset, sizeof(tensor.offset));
    XXH3_64bits_update(state, &tensor.type, sizeof(tensor.type));
  }
  const int32_t format[2] = {static_cast<int32_t>(layout.type), layout.block_size};
  XXH3_64bits_update(state, format, sizeof(format));
  const uint64_t key = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return key;
}

}  // namespace kvinfer
