// `kvinfer run`: generate text from one prompt, streamed to standard output with a
// timing summary on standard error, or from a file of prompts run one after another
// through one KV pool, so later prompts reuse earlier prompts' cached prefixes.
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "engine/engine.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct RunOptions {
  ModelOptions model;
  std::string prompt;
  std::string prompts_path;
  bool json = false;
  std::string cache_salt;
  int n_predict = 128;
  SamplingParams sampling;
  int64_t seed = -1;  // -1: random
  std::string prompt_file;
  bool no_kv_cache = false;
  int parallel = 1;
  int max_batch_tokens = 512;
};

// The engine's output for one prompt.
struct PromptResult {
  std::string text;
  std::string finish_reason;
  std::string error;
  Usage usage;
  bool done = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open prompt file '{}'", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct PromptLine {
  std::string prompt;
  std::optional<std::string> cache_salt;  // overrides --cache-salt for this prompt
};

// Reads one prompt per line: a JSON string, or an object {"prompt": ..., "cache_salt": ...}.
// Blank lines are skipped.
std::vector<PromptLine> read_prompts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open prompts file '{}'", path);
  std::vector<PromptLine> prompts;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
    if (value.is_string()) {
      prompts.push_back({value.get<std::string>(), std::nullopt});
    } else if (value.is_object() && value.contains("prompt") && value["prompt"].is_string() &&
               (!value.contains("cache_salt") || value["cache_salt"].is_string())) {
      std::optional<std::string> salt;
      if (value.contains("cache_salt")) salt = value["cache_salt"].get<std::string>();
      prompts.push_back({value["prompt"].get<std::string>(), salt});
    } else {
      fail("{}:{}: invalid line: expected a JSON string such as \"Hello\" or an object with a string \"prompt\"", path,
           line_number);
    }
  }
  if (prompts.empty()) fail("prompts file '{}' holds no prompts", path);
  return prompts;
}

void print_summary(const GenerationStats& stats, uint64_t seed) {
  double prompt_rate = stats.prompt_seconds > 0 ? (stats.n_prompt_tokens - stats.n_cached_tokens) / stats.prompt_seconds : 0.0;
  double generation_rate = stats.generation_seconds > 0 ? stats.n_generated_tokens / stats.generation_seconds : 0.0;
  fmt::print(stderr,
             "prompt: {} tokens ({} cached), {:.1f} tokens/s | generation: {} tokens, {:.1f} tokens/s | finish: {} | "
             "seed: {}\n",
             stats.n_prompt_tokens, stats.n_cached_tokens, prompt_rate, stats.n_generated_tokens, generation_rate,
             stats.finish_reason, seed);
}

void print_result(const RunOptions& options, size_t index, const PromptResult& result) {
  if (!result.error.empty() && !options.json) {
    fmt::print(stderr, "prompt {}: error: {}\n", index, result.error);
    return;
  }
  if (!options.json) {
    fmt::print("{}\n", result.text);
    return;
  }
  nlohmann::ordered_json line = {{"index", index},
                                 {"text", result.text},
                                 {"prompt_tokens", result.usage.prompt_tokens},
                                 {"cached_tokens", result.usage.cached_tokens},
                                 {"completion_tokens", result.usage.completion_tokens},
                                 {"finish_reason", result.finish_reason}};
  if (!result.error.empty()) line["error"] = result.error;
  fmt::print("{}\n", line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

void print_kv_stats(const Generator& generator) {
  KvCacheStats kv = generator.kv_stats();
  fmt::print(stderr,
             "kv cache: {} of {} blocks in use, {} cached | prefix cache: {} of {} prompt tokens hit | evictions: {}\n",
             kv.n_blocks_used, kv.n_blocks_total, kv.n_blocks_cached, kv.n_prefix_hit_tokens, kv.n_prefix_query_tokens,
             kv.n_evictions);
}

// Generates from one prompt; streams the text to stdout unless `collect` is given.
GenerationStats generate_one(Generator& generator, const LoadedModel& loaded, const RunOptions& options,
                             const SamplingParams& sampling, const PromptLine& prompt, std::string* collect) {
  std::vector<TokenId> tokens = loaded.tokenizer->encode_prompt(prompt.prompt);
  IncrementalDetokenizer detokenizer(*loaded.tokenizer);
  auto emit = [&](const std::string& text) {
    if (collect != nullptr) {
      *collect += text;
      return;
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  GenerationStats stats = generator.generate(
      tokens, options.n_predict, sampling, *loaded.tokenizer, [&](TokenId token) { emit(detokenizer.push(token)); },
      prompt.cache_salt.value_or(options.cache_salt));
  emit(detokenizer.flush());
  return stats;
}

// Submits every prompt to the continuous-batching engine, at most --parallel running at
// once, and prints the results in input order once all are done.
void run_prompts(const RunOptions& options, const SamplingParams& sampling, const std::vector<PromptLine>& prompts) {
  LoadedModel loaded = load_model(options.model);
  GeneratorOptions generator_opts = generator_options(options.model, *loaded.model);
  Engine engine(*loaded.model, *loaded.tokenizer,
                engine_options(generator_opts, options.max_batch_tokens, options.parallel));

  std::vector<PromptResult> results(prompts.size());
  std::mutex mutex;
  std::condition_variable finished;
  size_t n_done = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest request;
    request.prompt = loaded.tokenizer->encode_prompt(prompts[i].prompt);
    request.sampling = sampling;
    request.max_tokens = options.n_predict;
    request.cache_salt = prompts[i].cache_salt.value_or(options.cache_salt);
    auto on_event = [&, i](const OutputEvent& event) {
      std::lock_guard lock(mutex);
      PromptResult& result = results[i];
      result.text += event.text;
      if (event.kind == OutputEvent::Kind::SequenceFinished) result.finish_reason = event.finish_reason;
      if (event.kind == OutputEvent::Kind::Error) result.error = event.error;
      if (event.kind == OutputEvent::Kind::RequestFinished) result.usage = event.usage;
      if (event.kind == OutputEvent::Kind::RequestFinished || event.kind == OutputEvent::Kind::Error) {
        result.done = true;
        ++n_done;
        finished.notify_one();
      }
    };
    Engine::Submission submission = engine.submit(std::move(request), on_event);
    if (!submission.error.empty()) {
      std::lock_guard lock(mutex);
      results[i].error = submission.error;
      results[i].done = true;
      ++n_done;
    }
  }
  {
    std::unique_lock lock(mutex);
    finished.wait(lock, [&] { return n_done == prompts.size(); });
  }

  for (size_t i = 0; i < results.size(); ++i) print_result(options, i, results[i]);
  engine.shutdown(true);  // publishes the final statistics
  EngineStats stats = engine.stats();
  fmt::print(stderr,
             "kv cache: {} of {} blocks in use, {} cached | prefix cache: {} of {} prompt tokens hit | evictions: {} | "
             "preemptions: {}\n",
             stats.kv.n_blocks_used, stats.kv.n_blocks_total, stats.kv.n_blocks_cached, stats.kv.n_prefix_hit_tokens,
             stats.kv.n_prefix_query_tokens, stats.kv.n_evictions, stats.n_preemptions);
}

void run(const RunOptions& options) {
  SamplingParams sampling = options.sampling;
  sampling.seed = options.seed >= 0 ? static_cast<uint64_t>(options.seed) : std::random_device{}();
  if (std::string message = validate(sampling); !message.empty()) fail("{}", message);
  if (!options.prompts_path.empty()) {
    if (options.no_kv_cache) fail("--no-kv-cache works with --prompt only");
    run_prompts(options, sampling, read_prompts(options.prompts_path));
    return;
  }
  std::vector<PromptLine> prompts = {{options.prompt, std::nullopt}};

  LoadedModel loaded = load_model(options.model);
  GeneratorOptions generator_opts = generator_options(options.model, *loaded.model);
  generator_opts.use_kv_cache = !options.no_kv_cache;
  Generator generator(*loaded.model, generator_opts);

  for (size_t i = 0; i < prompts.size(); ++i) {
    std::string text;
    GenerationStats stats = generate_one(generator, loaded, options, sampling, prompts[i], options.json ? &text : nullptr);
    if (options.json) {
      nlohmann::ordered_json line = {{"index", i},
                             {"text", text},
                             {"prompt_tokens", stats.n_prompt_tokens},
                             {"cached_tokens", stats.n_cached_tokens},
                             {"completion_tokens", stats.n_generated_tokens},
                             {"finish_reason", stats.finish_reason}};
      fmt::print("{}\n", line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    } else {
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    print_summary(stats, sampling.seed);
  }
  print_kv_stats(generator);
}

// Accepts numbers in (0, limit]; CLI::Range would also admit 0.
CLI::Validator positive_at_most(float limit) {
  return CLI::Validator(
      [limit](std::string& text) -> std::string {
        float value = 0.0f;
        try {
          value = std::stof(text);
        } catch (const std::exception&) {
          return "'" + text + "' is not a number";
        }
        if (!(value > 0.0f && value <= limit)) return "value " + text + " is not in (0, " + fmt::format("{}", limit) + "]";
        return "";
      },
      "FLOAT in (0, " + fmt::format("{}", limit) + "]");
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "Generate text from a prompt and stream it to standard output");
  add_model_options(*command, options->model);
  CLI::Option* prompt =
      command->add_option("-p,--prompt", options->prompt, "Prompt text; special tokens such as <|im_start|> are recognised");
  CLI::Option* prompts = command->add_option(
      "--prompts", options->prompts_path,
      "File with one prompt per line, a JSON string or {\"prompt\": ..., \"cache_salt\": ...}; they run one after "
      "another through one KV cache");
  prompt->excludes(prompts);
  command->add_flag("--json", options->json,
                    "Print one JSON object per prompt: index, text, prompt_tokens, cached_tokens, completion_tokens");
  command->add_option("--cache-salt", options->cache_salt,
                      "Only reuse cached prefixes written under the same salt (isolates tenants)");
  command->add_option("-n,--n-predict", options->n_predict, "Maximum tokens to generate (default: 128)")
      ->check(CLI::Range(0, 1 << 24));
  command->add_option("--temp", options->sampling.temperature, "Sampling temperature; 0 is greedy (default: 0.8)")
      ->check(CLI::Range(0.0f, 100.0f));
  command->add_option("--top-k", options->sampling.top_k, "Keep the K most likely tokens; 0 keeps all (default: 40)")
      ->check(CLI::Range(0, 1 << 30));
  command->add_option("--top-p", options->sampling.top_p, "Nucleus sampling probability mass, in (0, 1] (default: 0.95)")
      ->check(positive_at_most(1.0f));
  command->add_option("--min-p", options->sampling.min_p, "Drop tokens below this fraction of the top probability (default: 0.05)")
      ->check(CLI::Range(0.0f, 1.0f));
  command->add_option("--repeat-penalty", options->sampling.repetition_penalty,
                      "Repetition penalty, in (0, 100]; 1 disables it (default: 1.0)")
      ->check(positive_at_most(100.0f));
  command->add_option("--repeat-last-n", options->sampling.repetition_window, "Tokens the repetition penalty looks back over (default: 64)")
      ->check(CLI::Range(0, 1 << 24));
  command->add_option("--seed", options->seed, "Random seed for reproducible sampling; -1 picks one at random (default: -1)")
      ->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()));
  command->add_option("-f,--file", options->prompt_file, "Read the prompt from this file, byte for byte")
      ->excludes(prompt)
      ->excludes(prompts);
  command->add_flag("--no-kv-cache", options->no_kv_cache, "Recompute the whole sequence at every step (slow; for comparison)");
  command->add_option("--parallel", options->parallel, "With --prompts: run at most N prompts at once, batched (default: 1)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--max-batch-tokens", options->max_batch_tokens,
                      "With --prompts: tokens per engine step; longer prompts are prefilled in chunks (default: 512)")
      ->check(CLI::Range(1, 1 << 16));
  command->callback([options] {
    if (!options->prompt_file.empty()) options->prompt = read_file(options->prompt_file);
    if (options->prompt.empty() && options->prompts_path.empty()) {
      fail("missing prompt: give --prompt TEXT, --file FILE or --prompts FILE");
    }
    run(*options);
  });
}

}  // namespace kvinfer::cli
