// `kvinfer chat`: a multi-turn conversation in the terminal. Each turn renders the whole
// conversation through the model's chat template. The prefix cache finds the earlier
// turns' blocks, so only the new text is computed. A status line on standard error shows
// how many prompt tokens came from the cache.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <string>

#include <fmt/format.h>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "engine/engine.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct ChatOptions {
  ModelOptions model;
  std::string system_prompt;
  int n_predict = 512;
  SamplingParams sampling;
  int64_t seed = -1;
};

struct TurnResult {
  std::string text;
  Usage usage;
  std::string error;
  bool done = false;
};

// Streams one reply to standard output and returns it when the request finishes.
TurnResult run_turn(Engine& engine, GenerationRequest request) {
  TurnResult result;
  std::mutex mutex;
  std::condition_variable finished;
  Engine::Submission submission = engine.submit(std::move(request), [&](const OutputEvent& event) {
    std::lock_guard lock(mutex);
    if (!event.text.empty()) {
      std::fwrite(event.text.data(), 1, event.text.size(), stdout);
      std::fflush(stdout);
      result.text += event.text;
    }
    if (event.kind == OutputEvent::Kind::RequestFinished) result.usage = event.usage;
    if (event.kind == OutputEvent::Kind::Error) result.error = event.error;
    if (event.kind == OutputEvent::Kind::RequestFinished || event.kind == OutputEvent::Kind::Error) {
      result.done = true;
      finished.notify_one();
    }
  });
  if (!submission.error.empty()) {
    result.error = submission.error;
    return result;
  }
  std::unique_lock lock(mutex);
  finished.wait(lock, [&] { return result.done; });
  return result;
}

void chat(const ChatOptions& options) {
  SamplingParams sampling = options.sampling;
  sampling.seed = options.seed >= 0 ? static_cast<uint64_t>(options.seed) : std::random_device{}();
  if (std::string message = validate(sampling); !message.empty()) fail("{}", message);

  LoadedModel loaded = load_model(options.model);
  std::optional<std::string_view> source = loaded.file->get_string("tokenizer.chat_template");
  if (!source) fail("{}: the model has no chat template (tokenizer.chat_template)", loaded.file->path());
  const chat::ChatTemplate chat_template{std::string(*source)};
  const std::string bos(loaded.tokenizer->token_text_or_empty(loaded.tokenizer->bos()));
  const std::string eos(loaded.tokenizer->token_text_or_empty(loaded.tokenizer->eos()));

  GeneratorOptions generator_opts = generator_options(options.model, *loaded.model);
  Engine engine(*loaded.model, *loaded.tokenizer, engine_options(generator_opts, 512, 1));

  std::vector<chat::ChatMessage> messages;
  if (!options.system_prompt.empty()) messages.push_back({"system", options.system_prompt});
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) fmt::print(stderr, "Chatting with {}. Type /exit or press Ctrl-D to quit.\n", loaded.file->path());

  std::string line;
  while (true) {
    if (interactive) fmt::print(stderr, "> ");
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line.empty()) continue;

    // Render the whole conversation; the prefix cache supplies the turns already seen.
    messages.push_back({"user", line});
    std::string prompt = chat::render_chat(chat_template, messages, true, bos, eos);
    if (loaded.tokenizer->add_bos()) prompt = chat::strip_leading_bos(prompt, bos);
    GenerationRequest request;
    request.prompt = loaded.tokenizer->encode_prompt(prompt);
    request.sampling = sampling;
    request.max_tokens = options.n_predict;

    auto start = std::chrono::steady_clock::now();
    TurnResult result = run_turn(engine, std::move(request));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!result.error.empty()) {
      fmt::print(stderr, "error: {}\n", result.error);
      messages.pop_back();
      continue;
    }
    messages.push_back({"assistant", result.text});
    fmt::print(stderr, "[prompt {} tokens, {} cached | reply {} tokens, {:.1f} tokens/s]\n", result.usage.prompt_tokens,
               result.usage.cached_tokens, result.usage.completion_tokens,
               seconds > 0 ? result.usage.completion_tokens / seconds : 0.0);
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto options = std::make_shared<ChatOptions>();
  CLI::App* command = app.add_subcommand(
      "chat", "Chat in the terminal through the model's chat template; each line of standard input is one user turn");
  add_model_options(*command, options->model);
  command->add_option("--system", options->system_prompt, "System prompt for the conversation");
  command->add_option("-n,--n-predict", options->n_predict, "Maximum tokens per reply (default: 512)")
      ->check(CLI::Range(1, 1 << 20));
  command->add_option("--temp", options->sampling.temperature, "Sampling temperature; 0 is greedy (default: 0.8)")
      ->check(CLI::Range(0.0f, 100.0f));
  command->add_option("--top-k", options->sampling.top_k, "Keep the K most likely tokens; 0 keeps all (default: 40)")
      ->check(CLI::Range(0, 1 << 30));
  command->add_option("--seed", options->seed, "Random seed; -1 picks one at random (default: -1)")
      ->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()));
  command->callback([options] { chat(*options); });
}

}  // namespace kvinfer::cli
