// For each concurrency C: C requests with random prompts of P tokens (the first S shared),
// submitted together at t0, each generating exactly G tokens greedily (end-of-generation
// ignored). The figures below use the definitions of bench/llama_cpp_batched.py.
//   tokens_per_second         C * G / (last token time - t0), prefill included
//   decode_tokens_per_second  C * (G - 1) / (last token time - latest first-token time)
//   ttft_ms_p50 / p95         per sequence, first token time - t0
//   itl_ms_p50 / p95          gaps between consecutive tokens, pooled over sequences
// Percentiles interpolate linearly between closest ranks, as numpy.percentile does.
#include "cli/bench_concurrency.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t low = static_cast<size_t>(rank);
  const size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (values[high] - values[low]) * (rank - static_cast<double>(low));
}

std::vector<std::vector<TokenId>> make_prompts(int n, const ConcurrencyOptions& options, int n_vocab) {
  std::mt19937_64 shared_rng(1);
  std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
  std::vector<TokenId> shared(options.shared_prefix);
  for (TokenId& t : shared) t = TokenId{pick(shared_rng)};
  std::vector<std::vector<TokenId>> prompts(n);
  for (int i = 0; i < n; ++i) {
    std::mt19937_64 rng(1000 + i);  // prompt i is the same at every concurrency
    prompts[i] = shared;
    while (static_cast<int>(prompts[i].size()) < options.prompt_tokens) prompts[i].push_back(TokenId{pick(rng)});
  }
  return prompts;
}

nlohmann::ordered_json measure(const LoadedModel& loaded, const GeneratorOptions& base, const ConcurrencyOptions& options,
                               int concurrency) {
  EngineOptions sized = engine_options(base, options.max_batch_tokens, concurrency);
  sized.n_context = options.prompt_tokens + options.gen_tokens + 1;
  sized.kv_tokens = static_cast<int64_t>(concurrency) * (options.prompt_tokens + options.gen_tokens + base.block_size);
  Engine engine(*loaded.model, *loaded.tokenizer, sized);
  std::vector<std::vector<TokenId>> prompts = make_prompts(concurrency, options, loaded.model->config().n_vocab);

  std::mutex mutex;
  std::condition_variable all_done;
  std::vector<std::vector<Clock::time_point>> token_times(concurrency);
  int n_done = 0;
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < concurrency; ++i) {
    GenerationRequest request;
    request.prompt = prompts[i];
    request.sampling.temperature = 0.0f;
    request.max_tokens = options.gen_tokens;
    request.ignore_eos = true;
    Engine::Submission submission = engine.submit(request, [&, i](const OutputEvent& event) {
      std::lock_guard lock(mutex);
      if (event.kind == OutputEvent::Kind::Token) token_times[i].push_back(Clock::now());
      if (event.kind == OutputEvent::Kind::RequestFinished || event.kind == OutputEvent::Kind::Error) {
        ++n_done;
        all_done.notify_one();
      }
    });
    if (!submission.error.empty()) fail("benchmark request rejected: {}", submission.error);
  }
  std::unique_lock lock(mutex);
  all_done.wait(lock, [&] { return n_done == concurrency; });

  auto ms_since = [](Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  std::vector<double> ttft;
  std::vector<double> gaps;
  Clock::time_point last = t0;
  Clock::time_point latest_first = t0;
  for (const auto& times : token_times) {
    ttft.push_back(ms_since(t0, times.front()));
    latest_first = std::max(latest_first, times.front());
    last = std::max(last, times.back());
    for (size_t k = 1; k < times.size(); ++k) gaps.push_back(ms_since(times[k - 1], times[k]));
  }
  const double wall_ms = ms_since(t0, last);
  const double decode_ms = ms_since(latest_first, last);
  return {{"concurrency", concurrency},
          {"tokens_per_second", 1000.0 * concurrency * options.gen_tokens / wall_ms},
          {"decode_tokens_per_second", decode_ms > 0 ? 1000.0 * concurrency * (options.gen_tokens - 1) / decode_ms : 0.0},
          {"ttft_ms_p50", percentile(ttft, 50)},
          {"ttft_ms_p95", percentile(ttft, 95)},
          {"itl_ms_p50", percentile(gaps, 50)},
          {"itl_ms_p95", percentile(gaps, 95)},
          {"wall_s", wall_ms / 1000.0}};
}

}  // namespace

void run_concurrency_bench(const LoadedModel& loaded, const GeneratorOptions& base, const ConcurrencyOptions& options,
                           bool json) {
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (int concurrency : options.concurrency) {
    if (concurrency < 1) fail("invalid concurrency {}: must be >= 1", concurrency);
    results.push_back(measure(loaded, base, options, concurrency));
  }
  if (json) {
    nlohmann::ordered_json report = {{"engine", "kvinfer"},
                                     {"model", loaded.file->path()},
                                     {"threads", base.n_threads},
                                     {"prompt_tokens", options.prompt_tokens},
                                     {"gen_tokens", options.gen_tokens},
                                     {"shared_prefix", options.shared_prefix},
                                     {"results", results}};
    fmt::print("{}\n", report.dump());
    return;
  }
  fmt::print("threads: {}, prompt {} tokens ({} shared), {} generated per sequence\n", base.n_threads,
             options.prompt_tokens, options.shared_prefix, options.gen_tokens);
  fmt::print("{:>5} {:>12} {:>12} {:>18} {:>18}\n", "C", "tok/s", "decode tok/s", "TTFT p50/p95 ms", "ITL p50/p95 ms");
  for (const auto& r : results) {
    fmt::print("{:>5} {:>12.1f} {:>12.1f} {:>9.0f}/{:<8.0f} {:>9.1f}/{:<8.1f}\n", r["concurrency"].get<int>(),
               r["tokens_per_second"].get<double>(), r["decode_tokens_per_second"].get<double>(),
               r["ttft_ms_p50"].get<double>(), r["ttft_ms_p95"].get<double>(), r["itl_ms_p50"].get<double>(),
               r["itl_ms_p95"].get<double>());
  }
}

}  // namespace kvinfer::cli
