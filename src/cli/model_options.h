// Command-line options shared by every subcommand that loads a model.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "engine/engine.h"
#include "engine/generator.h"
#include "gguf/gguf_file.h"
#include "model/llama_model.h"
#include "tokenizer/tokenizer.h"

namespace kvinfer::cli {

struct ModelOptions {
  std::string model_path;
  int n_threads = 0;  // 0: one per hardware thread
  int n_context = 4096;
  int block_size = 16;
  std::string kv_type = "f16";
  int64_t kv_tokens = 0;       // 0: from kv_memory, else the context size
  std::string kv_memory;       // e.g. "512M"; empty: not set
  bool no_prefix_cache = false;
};

// Adds -m, -t, -c, --block-size, --kv-type, --kv-tokens, --kv-memory and
// --no-prefix-cache to `command`.
void add_model_options(CLI::App& command, ModelOptions& options);

// A loaded model with its tokenizer.
struct LoadedModel {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Opens the model file (the default model when none was given). Throws Error with a
// one-line message for a missing file, a file that is not GGUF, or an unsupported model.
LoadedModel load_model(const ModelOptions& options);

// Cores this process may run on.
int available_cores();

// Generator options from the command line, validated; the model sizes --kv-memory.
GeneratorOptions generator_options(const ModelOptions& options, const LlamaModel& model);

// Engine options with the model, thread and KV settings of `generator`.
EngineOptions engine_options(const GeneratorOptions& generator, int max_batch_tokens, int max_seqs);

}  // namespace kvinfer::cli
