// `kvinfer serve`: the OpenAI-compatible HTTP server with the web chat page at /.
// SIGINT or SIGTERM stops taking requests, lets in-flight ones finish (for at most
// --shutdown-timeout seconds, then cancels them) and exits 0; a second signal cancels
// them at once.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "engine/engine.h"
#include "kv/kv_layout.h"
#include "server/http_server.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct ServeOptions {
  ModelOptions model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  bool api_key_given = false;
  std::string model_name;
  std::string max_body_size = "4M";
  int n_http_threads = 64;
  int max_batch_tokens = 512;
  int max_seqs = 64;
  int shutdown_timeout_s = 30;
};

// Waits for SIGINT and SIGTERM (blocked in every thread) and turns each into a shutdown
// request, until `done` is set.
void watch_signals(server::HttpServer& http, const sigset_t& signals, const std::atomic<bool>& done) {
  const timespec poll{0, 200'000'000};
  while (!done.load()) {
    const int signal_number = sigtimedwait(&signals, nullptr, &poll);
    if (signal_number <= 0) continue;
    const char* name = signal_number == SIGINT ? "SIGINT" : "SIGTERM";
    if (http.request_shutdown()) {
      fmt::print(stderr, "kvinfer: received {} again; cancelling in-flight requests\n", name);
    } else {
      fmt::print(stderr, "kvinfer: received {}; finishing in-flight requests (send it again to cancel them)\n", name);
    }
  }
}

void serve(const ServeOptions& options) {
  // Block the stop signals before any thread starts, so that every thread inherits the
  // mask and only watch_signals() receives them. Writing to a closed connection must
  // report an error instead of killing the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  const char* key_variable = std::getenv("KVINFER_API_KEY");
  if ((options.api_key_given || key_variable != nullptr) && options.api_key.empty()) {
    fail("--api-key (or KVINFER_API_KEY) is empty: give a key, or leave it out to serve without one");
  }
  server_options.api_key = options.api_key;
  server_options.n_http_threads = options.n_http_threads;
  server_options.shutdown_timeout = std::chrono::seconds(options.shutdown_timeout_s);
  server_options.kv_type = options.model.kv_type;
  const int64_t max_body = parse_memory_size(options.max_body_size);
  if (max_body < 1) fail("invalid --max-body-size {}: must be at least 1 byte", options.max_body_size);
  server_options.max_body_bytes = static_cast<size_t>(max_body);

  LoadedModel loaded = load_model(options.model);
  server_options.model_name =
      options.model_name.empty() ? std::filesystem::path(loaded.file->path()).stem().string() : options.model_name;
  std::unique_ptr<chat::ChatTemplate> chat_template;
  if (std::optional<std::string_view> source = loaded.file->get_string("tokenizer.chat_template")) {
    // Any conversation that fits in a request body must also fit in the rendered prompt.
    // A prompt too long for the context then gets the usual context-length error.
    chat::RenderLimits limits;
    limits.max_output_bytes = std::max<size_t>(limits.max_output_bytes, 2 * server_options.max_body_bytes);
    limits.max_total_string_bytes = std::max<uint64_t>(limits.max_total_string_bytes, 64 * uint64_t{limits.max_output_bytes});
    chat_template = std::make_unique<chat::ChatTemplate>(std::string(*source), limits);
  } else {
    fmt::print(stderr, "warning: the model has no chat template; /v1/chat/completions will reject every request\n");
  }

  GeneratorOptions generator_opts = generator_options(options.model, *loaded.model);
  Engine engine(*loaded.model, *loaded.tokenizer, engine_options(generator_opts, options.max_batch_tokens, options.max_seqs));
  server::HttpServer http(engine, *loaded.tokenizer, chat_template.get(), server_options);
  const int port = http.bind();
  const EngineStats stats = engine.stats();
  fmt::print(stderr, "kvinfer: model {}, context {} tokens, KV pool {} blocks of {} positions ({})\n", server_options.model_name,
             engine.n_context(), stats.kv.n_blocks_total, engine.kv_layout().block_size, options.model.kv_type);
  const std::string url_host = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  fmt::print(stderr, "kvinfer: listening on http://{}:{} (web chat at /, OpenAI API at /v1)\n", url_host, port);
  std::fflush(stderr);

  std::atomic<bool> done{false};
  std::thread watcher(watch_signals, std::ref(http), std::cref(signals), std::cref(done));
  http.serve();
  done.store(true);
  watcher.join();
  engine.shutdown(false);
  fmt::print(stderr, "kvinfer: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* command = app.add_subcommand(
      "serve", "Serve the OpenAI API (/v1/chat/completions, /v1/completions, /v1/models), /health, /metrics, /stats and a web chat page at /");
  add_model_options(*command, options->model);
  command->add_option("--host", options->host, "Address to listen on (default: 127.0.0.1, this machine only)");
  command->add_option("--port", options->port, "Port to listen on; 0 picks a free one (default: 8080)")->check(CLI::Range(0, 65535));
  CLI::Option* api_key = command->add_option("--api-key", options->api_key, "Require 'Authorization: Bearer KEY' on /v1/ routes")
                             ->envname("KVINFER_API_KEY");
  command->add_option("--served-model-name", options->model_name, "Model id in /v1/models and responses (default: the file name)");
  command->add_option("--max-body-size", options->max_body_size, "Largest request body, e.g. 512K or 4M (default: 4M)");
  command->add_option("--http-threads", options->n_http_threads, "Connections served at once (default: 64)")
      ->check(CLI::Range(1, 4096));
  command->add_option("--max-batch-tokens", options->max_batch_tokens, "Tokens per engine step (default: 512)")
      ->check(CLI::Range(1, 1 << 20));
  command->add_option("--max-seqs", options->max_seqs, "Sequences running at once (default: 64)")->check(CLI::Range(1, 1 << 16));
  command->add_option("--shutdown-timeout", options->shutdown_timeout_s,
                      "Seconds in-flight requests may finish after SIGINT or SIGTERM before they are cancelled (default: 30)")
      ->check(CLI::Range(0, 86400));
  command->callback([options, api_key] {
    options->api_key_given = api_key->count() > 0;
    serve(*options);
  });
}

}  // namespace kvinfer::cli
