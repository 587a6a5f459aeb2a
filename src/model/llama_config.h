// Hyper-parameters of a llama-architecture model (SmolLM2, TinyLlama, Llama 2 and 3,
// Mistral), read from GGUF metadata. Nothing here is specific to one model.
#pragma once

#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "kernels/ops.h"

namespace kvinfer {

struct LlamaConfig {
  std::string architecture;  // general.architecture; "llama" is the only one supported
  std::string name;          // general.name, for messages
  int n_vocab = 0;
  int n_context = 0;  // context length the model was trained for
  int n_embd = 0;
  int n_layers = 0;
  int n_ff = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int rope_dim = 0;
  float rope_freq_base = 10000.0f;
  float rope_position_scale = 1.0f;  // 1 / linear scaling factor
  RopeLayout rope_layout = RopeLayout::Adjacent;
  float rms_eps = 1e-5f;

  // Reads and validates the hyper-parameters. Throws Error naming the key and value for
  // an unsupported architecture or a missing or inconsistent value.
  static LlamaConfig from_gguf(const gguf::File& file);
};

}  // namespace kvinfer
