// Reads llama hyper-parameters from "<arch>.*" GGUF keys, with the defaults llama.cpp
// applies when an optional key is absent.
#include "model/llama_config.h"

#include <cmath>

#include "util/error.h"

namespace kvinfer {
namespace {

int require_positive(const gguf::File& file, const std::string& key) {
  std::optional<uint64_t> value = file.get_uint(key);
  if (!value) fail("{}: missing metadata key '{}'", file.path(), key);
  if (*value == 0 || *value > (1u << 30)) fail("{}: invalid value {} for '{}'", file.path(), *value, key);
  return static_cast<int>(*value);
}

int optional_positive(const gguf::File& file, const std::string& key, int fallback) {
  if (!file.find(key)) return fallback;
  return require_positive(file, key);
}

void read_rope(const gguf::File& file, const std::string& arch, LlamaConfig& config) {
  config.rope_dim = optional_positive(file, arch + ".rope.dimension_count", config.head_dim);
  if (config.rope_dim > config.head_dim || config.rope_dim % 2 != 0) {
    fail("{}: invalid {}.rope.dimension_count {} for head size {}", file.path(), arch, config.rope_dim, config.head_dim);
  }
  config.rope_freq_base = static_cast<float>(file.get_float(arch + ".rope.freq_base").value_or(10000.0));
  if (!std::isfinite(config.rope_freq_base) || config.rope_freq_base <= 1.0f) {
    fail("{}: invalid value {} for '{}.rope.freq_base': must be a finite number > 1", file.path(), config.rope_freq_base, arch);
  }

  // Linear scaling divides positions by the factor; other schemes change the model's
  // numerics and are rejected rather than silently ignored.
  std::string scaling(file.get_string(arch + ".rope.scaling.type").value_or("none"));
  double factor = file.get_float(arch + ".rope.scaling.factor").value_or(1.0);
  if (!std::isfinite(factor) || factor < 0.0) {
    fail("{}: invalid value {} for '{}.rope.scaling.factor'", file.path(), factor, arch);
  }
  if (scaling == "linear" && factor > 0.0) {
    config.rope_position_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && !(scaling == "linear" && factor == 0.0)) {
    fail("{}: unsupported RoPE scaling type '{}'", file.path(), scaling);
  }
}

}  // namespace

LlamaConfig LlamaConfig::from_gguf(const gguf::File& file) {
  LlamaConfig config;
  std::optional<std::string_view> arch = file.get_string("general.architecture");
  if (!arch) fail("{}: missing metadata key 'general.architecture'", file.path());
  config.architecture = std::string(*arch);
  if (config.architecture != "llama") {
    fail("{}: unsupported model architecture '{}' (supported: llama)", file.path(), config.architecture);
  }
  config.name = std::string(file.get_string("general.name").value_or(""));
  const std::string& a = config.architecture;

  config.n_embd = require_positive(file, a + ".embedding_length");
  config.n_layers = require_positive(file, a + ".block_count");
  config.n_ff = require_positive(file, a + ".feed_forward_length");
  config.n_heads = require_positive(file, a + ".attention.head_count");
  config.n_kv_heads = optional_positive(file, a + ".attention.head_count_kv", config.n_heads);
  config.n_context = require_positive(file, a + ".context_length");
  if (config.n_embd % config.n_heads != 0) {
    fail("{}: embedding length {} is not a multiple of the head count {}", file.path(), config.n_embd, config.n_heads);
  }
  config.head_dim = optional_positive(file, a + ".attention.key_length", config.n_embd / config.n_heads);
  if (config.n_heads % config.n_kv_heads != 0) {
    fail("{}: head count {} is not a multiple of the KV head count {}", file.path(), config.n_heads, config.n_kv_heads);
  }
  if (config.head_dim % 32 != 0 || config.head_dim > 512) {
    fail("{}: unsupported head size {} (must be a multiple of 32, at most 512)", file.path(), config.head_dim);
  }

  config.rms_eps = static_cast<float>(file.get_float(a + ".attention.layer_norm_rms_epsilon").value_or(1e-5));
  if (!std::isfinite(config.rms_eps) || config.rms_eps <= 0.0f || config.rms_eps > 1.0f) {
    fail("{}: invalid value {} for '{}.attention.layer_norm_rms_epsilon': must be in (0, 1]", file.path(), config.rms_eps, a);
  }
  read_rope(file, a, config);

  const gguf::ArrayValue* tokens = file.get_array("tokenizer.ggml.tokens");
  config.n_vocab = tokens ? static_cast<int>(tokens->n_elements) : optional_positive(file, a + ".vocab_size", 0);
  if (config.n_vocab <= 0) fail("{}: missing vocabulary (tokenizer.ggml.tokens)", file.path());
  if (tokens && file.find(a + ".vocab_size") && require_positive(file, a + ".vocab_size") != config.n_vocab) {
    fail("{}: '{}.vocab_size' is {}, but tokenizer.ggml.tokens has {} tokens", file.path(), a,
         require_positive(file, a + ".vocab_size"), config.n_vocab);
  }
  return config;
}

}  // namespace kvinfer
