// `kvinfer bench`: prompt-processing and generation speed, measured as llama-bench does
// (pp: one batched pass over a prompt of random tokens; tg: tokens decoded one at a time
// from an empty cache), repeated and averaged.
#include <charconv>
#include <chrono>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/bench_concurrency.h"
#include "cli/bench_kv_scenarios.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "kv/kv_layout.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct BenchOptions {
  ModelOptions model;
  int n_prompt = 512;
  int n_gen = 128;
  int repetitions = 3;
  bool json = false;
  bool kv_scenarios = false;
  std::string concurrency;  // e.g. "1,4,16,32"; empty: the single-stream benchmark
  ConcurrencyOptions concurrency_options;
};

std::vector<int> parse_int_list(const std::string& text) {
  std::vector<int> values;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(begin, end - begin);
    int value = 0;
    auto [rest, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || rest != item.data() + item.size() || value < 1 || value > 4096) {
      fail("invalid --concurrency '{}': expected positive integers separated by commas, such as 1,4,16,32", text);
    }
    values.push_back(value);
    begin = end + 1;
  }
  return values;
}

struct Measurement {
  double mean = 0.0;
  double stddev = 0.0;
};

Measurement summarize(const std::vector<double>& rates) {
  Measurement m;
  for (double r : rates) m.mean += r;
  m.mean /= static_cast<double>(rates.size());
  for (double r : rates) m.stddev += (r - m.mean) * (r - m.mean);
  m.stddev = rates.size() > 1 ? std::sqrt(m.stddev / static_cast<double>(rates.size() - 1)) : 0.0;
  return m;
}

std::vector<TokenId> random_tokens(int n, int n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
  std::vector<TokenId> tokens(n);
  for (TokenId& t : tokens) t = TokenId{pick(rng)};
  return tokens;
}

double elapsed_seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void bench(const BenchOptions& options) {
  LoadedModel loaded = load_model(options.model);
  GeneratorOptions generator_opts = generator_options(options.model, *loaded.model);
  if (options.kv_scenarios) {
    run_kv_scenarios(loaded, generator_opts, options.json);
    return;
  }
  if (!options.concurrency.empty()) {
    ConcurrencyOptions concurrency_options = options.concurrency_options;
    concurrency_options.concurrency = parse_int_list(options.concurrency);
    if (concurrency_options.shared_prefix > concurrency_options.prompt_tokens) {
      fail("--shared-prefix {} is longer than --prompt-tokens {}", concurrency_options.shared_prefix,
           concurrency_options.prompt_tokens);
    }
    run_concurrency_bench(loaded, generator_opts, concurrency_options, options.json);
    return;
  }
  generator_opts.n_context = std::max(options.n_prompt, options.n_gen) + 1;
  generator_opts.kv_tokens = 0;
  generator_opts.prefix_cache = false;
  Generator generator(*loaded.model, generator_opts);
  const int n_vocab = loaded.model->config().n_vocab;

  std::vector<TokenId> prompt = random_tokens(options.n_prompt, n_vocab, 1);
  std::vector<TokenId> generated = random_tokens(options.n_gen, n_vocab, 2);

  // One warm-up pass pages the weights in.
  SeqId warm_up = generator.next_sequence_id();
  generator.begin_sequence(warm_up, std::span(prompt).first(std::min(options.n_prompt, 16)), "");
  generator.process(warm_up, prompt, 0, std::min(options.n_prompt, 16));
  generator.end_sequence(warm_up);

  std::vector<double> pp_rates;
  std::vector<double> tg_rates;
  for (int r = 0; r < options.repetitions; ++r) {
    SeqId seq = generator.next_sequence_id();
    generator.begin_sequence(seq, prompt, "");
    auto start = std::chrono::steady_clock::now();
    generator.process(seq, prompt, 0, options.n_prompt);
    pp_rates.push_back(options.n_prompt / elapsed_seconds(start));
    generator.end_sequence(seq);

    // Generation from an empty cache: one position more per step.
    seq = generator.next_sequence_id();
    generator.begin_sequence(seq, std::span(generated).first(1), "");
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < options.n_gen; ++i) {
      if (i > 0) generator.extend_sequence(seq, 1);
      generator.process(seq, generated, i, i + 1);
    }
    tg_rates.push_back(options.n_gen / elapsed_seconds(start));
    generator.end_sequence(seq);
  }
  Measurement pp = summarize(pp_rates);
  Measurement tg = summarize(tg_rates);

  KvLayout layout{loaded.model->config().n_layers, loaded.model->config().n_kv_heads, loaded.model->config().head_dim,
                  generator_opts.block_size, generator_opts.kv_type};
  if (options.json) {
    nlohmann::json result = {{"engine", "kvinfer"},
                             {"model", loaded.file->path()},
                             {"threads", generator_opts.n_threads},
                             {"kv_type", options.model.kv_type},
                             {"kv_bytes_per_token", layout.bytes_per_token()},
                             {"n_prompt", options.n_prompt},
                             {"n_gen", options.n_gen},
                             {"repetitions", options.repetitions},
                             {"pp_tokens_per_second", pp.mean},
                             {"pp_stddev", pp.stddev},
                             {"tg_tokens_per_second", tg.mean},
                             {"tg_stddev", tg.stddev}};
    fmt::print("{}\n", result.dump());
    return;
  }
  fmt::print("model: {}\nthreads: {}, KV type: {} ({} bytes per token)\n", loaded.file->path(), generator_opts.n_threads,
             options.model.kv_type, layout.bytes_per_token());
  fmt::print("pp{}: {:.1f} ± {:.1f} tokens/s\n", options.n_prompt, pp.mean, pp.stddev);
  fmt::print("tg{}: {:.1f} ± {:.1f} tokens/s\n", options.n_gen, tg.mean, tg.stddev);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand("bench", "Measure prompt processing and generation speed");
  add_model_options(*command, options->model);
  command->add_option("-p,--n-prompt", options->n_prompt, "Prompt tokens processed in one pass (default: 512)")
      ->check(CLI::Range(1, 1 << 20));
  command->add_option("-n,--n-gen", options->n_gen, "Tokens generated one at a time (default: 128)")->check(CLI::Range(1, 1 << 20));
  command->add_option("-r,--repetitions", options->repetitions, "Repetitions to average (default: 3)")->check(CLI::Range(1, 1000));
  command->add_flag("--json", options->json, "Print one JSON object instead of text");
  command->add_option("--concurrency", options->concurrency,
                      "Run the concurrency benchmark for these numbers of simultaneous sequences, e.g. 1,4,16,32");
  command->add_option("--prompt-tokens", options->concurrency_options.prompt_tokens,
                      "With --concurrency: prompt tokens per sequence (default: 128)")
      ->check(CLI::Range(1, 1 << 16));
  command->add_option("--gen-tokens", options->concurrency_options.gen_tokens,
                      "With --concurrency: tokens generated per sequence (default: 64)")
      ->check(CLI::Range(1, 1 << 16));
  command->add_option("--shared-prefix", options->concurrency_options.shared_prefix,
                      "With --concurrency: leading prompt tokens shared by all sequences (default: 0)")
      ->check(CLI::Range(0, 1 << 16));
  command->add_option("--max-batch-tokens", options->concurrency_options.max_batch_tokens,
                      "With --concurrency: tokens per engine step (default: 512)")
      ->check(CLI::Range(1, 1 << 16));
  command->add_flag("--kv-scenarios", options->kv_scenarios,
                    "Measure the KV cache instead: bytes per token, block waste, time to first token with a cached "
                    "prefix, and decode speed in a full pool");
  command->callback([options] { bench(*options); });
}

}  // namespace kvinfer::cli
