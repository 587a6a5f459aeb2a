// `kvinfer run`: generate text from one prompt, streamed to standard output, with a
// timing summary on standard error.
#include <cstdio>
#include <random>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct RunOptions {
  ModelOptions model;
  std::string prompt;
  int n_predict = 128;
  SamplingParams sampling;
  std::optional<uint64_t> seed;
  bool no_kv_cache = false;
};

void run(const RunOptions& options) {
  SamplingParams sampling = options.sampling;
  sampling.seed = options.seed ? *options.seed : std::random_device{}();
  if (std::string message = validate(sampling); !message.empty()) fail("{}", message);

  LoadedModel loaded = load_model(options.model);
  GeneratorOptions generator_opts = generator_options(options.model);
  generator_opts.use_kv_cache = !options.no_kv_cache;
  Generator generator(*loaded.model, generator_opts);

  std::vector<TokenId> prompt = loaded.tokenizer->encode_prompt(options.prompt);
  IncrementalDetokenizer detokenizer(*loaded.tokenizer);
  GenerationStats stats = generator.generate(prompt, options.n_predict, sampling, *loaded.tokenizer, [&](TokenId token) {
    std::string text = detokenizer.push(token);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  std::string rest = detokenizer.flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);

  double prompt_rate = stats.prompt_seconds > 0 ? stats.n_prompt_tokens / stats.prompt_seconds : 0.0;
  double generation_rate = stats.generation_seconds > 0 ? stats.n_generated_tokens / stats.generation_seconds : 0.0;
  fmt::print(stderr, "prompt: {} tokens, {:.1f} tokens/s | generation: {} tokens, {:.1f} tokens/s | finish: {} | seed: {}\n",
             stats.n_prompt_tokens, prompt_rate, stats.n_generated_tokens, generation_rate, stats.finish_reason,
             sampling.seed);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "Generate text from a prompt and stream it to standard output");
  add_model_options(*command, options->model);
  command->add_option("-p,--prompt", options->prompt, "Prompt text; special tokens such as <|im_start|> are recognised")
      ->required();
  command->add_option("-n,--n-predict", options->n_predict, "Maximum tokens to generate (default: 128)")
      ->check(CLI::Range(0, 1 << 24));
  command->add_option("--temp", options->sampling.temperature, "Sampling temperature; 0 is greedy (default: 0.8)")
      ->check(CLI::Range(0.0f, 100.0f));
  command->add_option("--top-k", options->sampling.top_k, "Keep the K most likely tokens; 0 keeps all (default: 40)")
      ->check(CLI::Range(0, 1 << 30));
  command->add_option("--top-p", options->sampling.top_p, "Nucleus sampling probability mass (default: 0.95)")
      ->check(CLI::Range(0.0f, 1.0f));
  command->add_option("--min-p", options->sampling.min_p, "Drop tokens below this fraction of the top probability (default: 0.05)")
      ->check(CLI::Range(0.0f, 1.0f));
  command->add_option("--repeat-penalty", options->sampling.repetition_penalty, "Repetition penalty; 1 disables it (default: 1.0)")
      ->check(CLI::Range(0.0f, 100.0f));
  command->add_option("--repeat-last-n", options->sampling.repetition_window, "Tokens the repetition penalty looks back over (default: 64)")
      ->check(CLI::Range(0, 1 << 24));
  command->add_option("--seed", options->seed, "Random seed for reproducible sampling (default: random)");
  command->add_flag("--no-kv-cache", options->no_kv_cache, "Recompute the whole sequence at every step (slow; for comparison)");
  command->callback([options] { run(*options); });
}

}  // namespace kvinfer::cli
