// Model loading for the command line.
#include "cli/model_options.h"

#include <thread>

#include "cli/default_model.h"
#include "kv/kv_layout.h"
#include "util/error.h"

namespace kvinfer::cli {

void add_model_options(CLI::App& command, ModelOptions& options) {
  command.add_option("-m,--model", options.model_path, "GGUF model file (default: the SmolLM2-135M-Instruct model installed by scripts/setup)");
  command.add_option("-t,--threads", options.n_threads, "Worker threads (default: one per hardware thread)")
      ->check(CLI::Range(1, 1024));
  command.add_option("-c,--ctx-size", options.n_context, "Context size in tokens, at most the model's (default: 4096)")
      ->check(CLI::Range(1, 1 << 24));
  command.add_option("--block-size", options.block_size, "KV cache block size in positions (default: 16)")
      ->check(CLI::Range(1, 4096));
  command.add_option("--kv-type", options.kv_type, "KV cache element type: f16, q8_0 or f32 (default: f16)")
      ->check(CLI::IsMember({"f16", "q8_0", "f32"}));
  CLI::Option* kv_tokens = command.add_option("--kv-tokens", options.kv_tokens,
                                              "KV cache size in positions, shared by all sequences (default: the context size)")
                               ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  command.add_option("--kv-memory", options.kv_memory, "KV cache size in bytes, e.g. 512M or 2G (instead of --kv-tokens)")
      ->excludes(kv_tokens);
  command.add_flag("--no-prefix-cache", options.no_prefix_cache, "Do not reuse the KV cache of identical prompt prefixes");
}

LoadedModel load_model(const ModelOptions& options) {
  LoadedModel loaded;
  std::string path = options.model_path.empty() ? default_model_path() : options.model_path;
  loaded.file = std::make_shared<const gguf::File>(path);
  loaded.model = LlamaModel::load(loaded.file);
  loaded.tokenizer = Tokenizer::from_gguf(*loaded.file);
  return loaded;
}

GeneratorOptions generator_options(const ModelOptions& options, const LlamaModel& model) {
  GeneratorOptions result;
  result.n_threads = options.n_threads > 0 ? options.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  result.n_context = options.n_context;
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

}  // namespace kvinfer::cli
