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
}

LoadedModel load_model(const ModelOptions& options) {
  LoadedModel loaded;
  std::string path = options.model_path.empty() ? default_model_path() : options.model_path;
  loaded.file = std::make_shared<const gguf::File>(path);
  loaded.model = LlamaModel::load(loaded.file);
  loaded.tokenizer = Tokenizer::from_gguf(*loaded.file);
  return loaded;
}

GeneratorOptions generator_options(const ModelOptions& options) {
  GeneratorOptions result;
  result.n_threads = options.n_threads > 0 ? options.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  result.n_context = options.n_context;
  result.block_size = options.block_size;
  result.kv_type = parse_kv_type(options.kv_type);
  return result;
}

}  // namespace kvinfer::cli
