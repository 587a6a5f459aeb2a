// The measurements behind the KV cache's claims. Each scenario builds its own
// Generator (and so its own pool) so the scenarios do not disturb each other.
#include "cli/bench_kv_scenarios.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/sampler.h"
#include "kv/kv_cache_manager.h"

namespace kvinfer::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<TokenId> random_tokens(int n, int n_vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
  std::vector<TokenId> tokens(n);
  for (TokenId& t : tokens) t = TokenId{pick(rng)};
  return tokens;
}

// Positions allocated but unused, averaged over live sequences, for 64 sequences with
// prompts of 20-1000 tokens that have generated 1-200 tokens each.
nlohmann::ordered_json measure_waste(int block_size) {
  constexpr int kSequences = 64;
  KvCacheManager manager(1 << 16, block_size, false, 0);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> prompt_length(20, 1000);
  std::uniform_int_distribution<int> generated_length(1, 200);
  std::vector<BlockCopy> copies;
  int64_t n_used = 0;
  int64_t n_allocated = 0;
  for (int s = 0; s < kSequences; ++s) {
    std::vector<TokenId> prompt = random_tokens(prompt_length(rng), 1000, rng);
    const int generated = generated_length(rng);
    manager.admit(SeqId{s}, prompt, "");
    manager.append_slots(SeqId{s}, generated, copies);
    n_used += static_cast<int64_t>(prompt.size()) + generated;
    n_allocated += static_cast<int64_t>(manager.block_table(SeqId{s}).size()) * block_size;
  }
  return {{"sequences", kSequences},
          {"used_positions", n_used},
          {"allocated_positions", n_allocated},
          {"waste_positions_per_sequence", static_cast<double>(n_allocated - n_used) / kSequences},
          {"block_size", block_size}};
}

// Prefill time plus the first sample, for a 1,000-token prompt.
double time_to_first_token(Generator& generator, const std::vector<TokenId>& prompt, int* n_cached) {
  auto start = std::chrono::steady_clock::now();
  SeqId seq = generator.next_sequence_id();
  *n_cached = generator.begin_sequence(seq, prompt, "");
  std::span<const float> logits = generator.process(seq, prompt, *n_cached, static_cast<int>(prompt.size()));
  argmax(logits);
  double seconds = seconds_since(start);
  generator.end_sequence(seq);
  return seconds;
}

nlohmann::ordered_json measure_cached_ttft(const LoadedModel& loaded, GeneratorOptions options) {
  constexpr int kPrompt = 1000;
  constexpr int kShared = 900;
  constexpr int kRepetitions = 3;
  options.n_context = 2048;
  options.kv_tokens = 16384;
  options.prefix_cache = true;
  Generator generator(*loaded.model, options);
  std::mt19937_64 rng(11);
  const int n_vocab = loaded.model->config().n_vocab;

  double uncached = 0.0;
  double cached = 0.0;
  int n_cached = 0;
  for (int r = 0; r < kRepetitions; ++r) {
    // A fresh prompt computes everything; a second prompt shares its first 900 tokens.
    std::vector<TokenId> first = random_tokens(kPrompt, n_vocab, rng);
    int n_first_cached = 0;
    uncached += time_to_first_token(generator, first, &n_first_cached);
    std::vector<TokenId> second = first;
    std::vector<TokenId> suffix = random_tokens(kPrompt - kShared, n_vocab, rng);
    std::copy(suffix.begin(), suffix.end(), second.begin() + kShared);
    cached += time_to_first_token(generator, second, &n_cached);
  }
  return {{"prompt_tokens", kPrompt},
          {"shared_tokens", kShared},
          {"cached_tokens", n_cached},
          {"ttft_uncached_ms", 1000.0 * uncached / kRepetitions},
          {"ttft_cached_ms", 1000.0 * cached / kRepetitions},
          {"speedup", uncached / cached}};
}

double decode_rate(Generator& generator, const std::vector<TokenId>& tokens, int n_prompt, int n_decode) {
  SeqId seq = generator.next_sequence_id();
  generator.begin_sequence(seq, std::span(tokens).first(n_prompt), "");
  generator.process(seq, tokens, 0, n_prompt);
  auto start = std::chrono::steady_clock::now();
  for (int i = n_prompt; i < n_prompt + n_decode; ++i) {
    generator.extend_sequence(seq, 1);
    generator.process(seq, tokens, i, i + 1);
  }
  double rate = n_decode / seconds_since(start);
  generator.end_sequence(seq);
  return rate;
}

// Single-stream decode speed on a fresh pool and on a pool where 15 other sequences of
// 512 computed tokens hold most blocks. Two generators with equal pools take turns,
// three runs each, and the medians are compared, so drift in machine speed cancels.
nlohmann::ordered_json measure_full_pool_decode(const LoadedModel& loaded, GeneratorOptions options) {
  constexpr int kPrompt = 64;
  constexpr int kDecode = 128;
  constexpr int kOthers = 15;
  constexpr int kOtherTokens = 512;
  constexpr int kRounds = 3;
  options.n_context = 1024;
  options.kv_tokens = kOthers * kOtherTokens + 512;
  options.prefix_cache = false;
  Generator fresh_pool(*loaded.model, options);
  Generator full_pool(*loaded.model, options);
  std::mt19937_64 rng(13);
  const int n_vocab = loaded.model->config().n_vocab;
  std::vector<TokenId> tokens = random_tokens(kPrompt + kDecode, n_vocab, rng);

  std::vector<SeqId> others;
  for (int s = 0; s < kOthers; ++s) {
    std::vector<TokenId> other = random_tokens(kOtherTokens, n_vocab, rng);
    others.push_back(full_pool.next_sequence_id());
    full_pool.begin_sequence(others.back(), other, "");
    full_pool.process(others.back(), other, 0, kOtherTokens);
  }
  KvCacheStats stats = full_pool.kv_stats();

  std::vector<double> fresh_rates;
  std::vector<double> full_rates;
  for (int round = 0; round < kRounds; ++round) {
    fresh_rates.push_back(decode_rate(fresh_pool, tokens, kPrompt, kDecode));
    full_rates.push_back(decode_rate(full_pool, tokens, kPrompt, kDecode));
  }
  std::sort(fresh_rates.begin(), fresh_rates.end());
  std::sort(full_rates.begin(), full_rates.end());
  const double fresh = fresh_rates[kRounds / 2];
  const double full = full_rates[kRounds / 2];
  for (SeqId seq : others) full_pool.end_sequence(seq);
  return {{"decode_tokens", kDecode},
          {"fresh_pool_tokens_per_second", fresh},
          {"full_pool_tokens_per_second", full},
          {"pool_blocks_in_use_by_others", stats.n_blocks_used},
          {"pool_blocks_total", stats.n_blocks_total},
          {"ratio", full / fresh}};
}

}  // namespace

void run_kv_scenarios(const LoadedModel& loaded, const GeneratorOptions& base, bool json) {
  const LlamaConfig& c = loaded.model->config();
  nlohmann::ordered_json bytes_per_token;
  for (const char* name : {"f16", "q8_0", "f32"}) {
    bytes_per_token[name] = KvLayout{c.n_layers, c.n_kv_heads, c.head_dim, base.block_size, parse_kv_type(name)}.bytes_per_token();
  }
  nlohmann::ordered_json report = {{"threads", base.n_threads},
                                   {"kv_bytes_per_token", bytes_per_token},
                                   {"waste", measure_waste(base.block_size)},
                                   {"cached_prefix_ttft", measure_cached_ttft(loaded, base)},
                                   {"full_pool_decode", measure_full_pool_decode(loaded, base)}};
  if (json) {
    fmt::print("{}\n", report.dump());
    return;
  }
  fmt::print("KV bytes per token: f16 {}, q8_0 {}, f32 {}\n", bytes_per_token["f16"].get<int64_t>(),
             bytes_per_token["q8_0"].get<int64_t>(), bytes_per_token["f32"].get<int64_t>());
  const auto& waste = report["waste"];
  fmt::print("waste: {:.1f} positions per live sequence ({} sequences, block size {})\n",
             waste["waste_positions_per_sequence"].get<double>(), waste["sequences"].get<int>(), base.block_size);
  const auto& ttft = report["cached_prefix_ttft"];
  fmt::print("time to first token, 1000-token prompt: {:.1f} ms uncached, {:.1f} ms with {} tokens cached ({:.1f}x)\n",
             ttft["ttft_uncached_ms"].get<double>(), ttft["ttft_cached_ms"].get<double>(), ttft["cached_tokens"].get<int>(),
             ttft["speedup"].get<double>());
  const auto& decode = report["full_pool_decode"];
  fmt::print("decode: {:.1f} tokens/s on a fresh pool, {:.1f} with {} of {} blocks held by others ({:.3f}x)\n",
             decode["fresh_pool_tokens_per_second"].get<double>(), decode["full_pool_tokens_per_second"].get<double>(),
             decode["pool_blocks_in_use_by_others"].get<int>(), decode["pool_blocks_total"].get<int>(),
             decode["ratio"].get<double>());
}

}  // namespace kvinfer::cli
