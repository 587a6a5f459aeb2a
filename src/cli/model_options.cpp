// Model loading for the command line.
#include "cli/model_options.h"

#include <sched.h>

#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "cli/default_model.h"
#include "kv/kv_layout.h"
#include "util/error.h"

namespace kvinfer::cli {

void add_model_options(CLI::App& command, ModelOptions& options) {
  command.add_option("-m,--model", options.model_path, "GGUF model file (default: the SmolLM2-135M-Instruct model installed by scripts/setup)");
  command.add_option("-t,--threads", options.n_threads, "Worker threads, at most the available cores (default: one per core)")
      ->check(CLI::Range(1, 1024));
  command.add_option("-c,--ctx-size", options.n_context, "Context size in tokens, at most the model's (default: 4096)")
      ->check(CLI::Range(1, 1 << 24));
  command.add_option("--block-size", options.block_size, "KV cache block size in positions (default: 16)")
      ->check(CLI::Range(1, 4096));
  command.add_option("--kv-type", options.kv_type, "KV cache element type: f16, q8_0 or f32 (default: f16)")
      ->check(CLI::IsMember({"f16", "q8_0", "f32"}));
  CLI::Option* kv_tokens = command.add_option("--kv-tokens", options.kv_tokens,
                                              "KV cache size in positions, shared by all sequences (default: the context size, and at least 8192 for serve, chat, run --prompts and bench --concurrency)")
                               ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  command.add_option("--kv-memory", options.kv_memory, "KV cache size in bytes, e.g. 512M or 2G (instead of --kv-tokens)")
      ->excludes(kv_tokens);
  command.add_flag("--no-prefix-cache", options.no_prefix_cache, "Do not reuse the KV cache of identical prompt prefixes");
}

LoadedModel load_model(const ModelOptions& options) {
  LoadedModel loaded;
  std::string path = options.model_path.empty() ? default_model_path() : options.model_path;
  if (options.model_path.empty() && !std::filesystem::exists(path)) {
    fail("the default model is not installed at '{}': run scripts/setup, or pass a GGUF file with -m", path);
  }
  loaded.file = std::make_shared<const gguf::File>(path);
  loaded.model = LlamaModel::load(loaded.file);
  loaded.tokenizer = Tokenizer::from_gguf(*loaded.file);
  return loaded;
}

int available_cores() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) return std::max(1, CPU_COUNT(&cpus));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

GeneratorOptions generator_options(const ModelOptions& options, const LlamaModel& model) {
  GeneratorOptions result;
  // More threads than cores makes every parallel region wait for a time slice, which
  // costs far more than the extra thread could compute.
  const int n_cores = available_cores();
  result.n_threads = options.n_threads > 0 ? options.n_threads : n_cores;
  if (result.n_threads > n_cores) {
    fmt::print(stderr, "warning: -t {} exceeds the {} available cores; using {} threads\n", result.n_threads, n_cores, n_cores);
    result.n_threads = n_cores;
  }
  result.n_context = options.n_context;
  if (options.n_context > model.config().n_context) {
    fmt::print(stderr, "warning: -c {} exceeds the model's context of {} tokens; using {}\n", options.n_context,
               model.config().n_context, model.config().n_context);
    result.n_context = model.config().n_context;
  }
  result.block_size = options.block_size;
  result.kv_type = parse_kv_type(options.kv_type);
  result.prefix_cache = !options.no_prefix_cache;
  result.kv_tokens = options.kv_tokens;
  if (!options.kv_memory.empty()) {
    const LlamaConfig& c = model.config();
    KvLayout layout{c.n_layers, c.n_kv_heads, c.head_dim, result.block_size, result.kv_type};
    const int64_t bytes = parse_memory_size(options.kv_memory);
    const int64_t n_blocks = bytes / static_cast<int64_t>(layout.block_bytes());
    if (n_blocks == 0) {
      fail("--kv-memory {} is smaller than one KV block ({} bytes)", options.kv_memory, layout.block_bytes());
    }
    result.kv_tokens = n_blocks * result.block_size;
  }
  return result;
}

EngineOptions engine_options(const GeneratorOptions& generator, int max_batch_tokens, int max_seqs) {
  EngineOptions result;
  result.n_threads = generator.n_threads;
  result.n_context = generator.n_context;
  result.kv_tokens = generator.kv_tokens;
  result.block_size = generator.block_size;
  result.kv_type = generator.kv_type;
  result.prefix_cache = generator.prefix_cache;
  result.max_batch_tokens = max_batch_tokens;
  result.max_seqs = max_seqs;
  return result;
}

}  // namespace kvinfer::cli
