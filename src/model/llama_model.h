// Forward pass of the llama architecture over a batch of tokens from one or more
// sequences, reading and writing K/V through each sequence's block table.
// It computes; it does not decide what runs (the caller builds the batch).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "kv/kv_memory.h"
#include "model/llama_config.h"
#include "util/ids.h"
#include "util/aligned_allocator.h"
#include "util/thread_pool.h"

namespace kvinfer {

// The tokens of one forward pass. Token i of the batch belongs to sequence
// seq_indices[i] at position positions[i]; every earlier position of that sequence must
// already be in its blocks or come earlier in this batch.
struct ForwardBatch {
  std::span<const TokenId> tokens;
  std::span<const int32_t> positions;
  std::span<const int32_t> seq_indices;
  std::span<const std::span<const int32_t>> block_tables;  // per sequence: logical -> physical block
  std::span<const int32_t> logit_indices;                  // batch indices whose logits are returned
};

// A float buffer aligned to 64 bytes for 512-bit loads and stores.
using AlignedFloats = std::vector<float, AlignedAllocator<float>>;

// Buffers for one forward pass, sized once so the step loop never allocates.
class ForwardScratch {
 public:
  ForwardScratch(const LlamaConfig& config, int max_batch_tokens, int max_logit_rows, int max_context, int n_threads);

  int max_batch_tokens() const { return max_batch_tokens_; }
  int max_logit_rows() const { return max_logit_rows_; }
  int max_context() const { return max_context_; }

 private:
  friend class LlamaModel;
  int max_batch_tokens_;
  int max_logit_rows_;
  int max_context_;
  std::vector<float> hidden_;      // [T, n_embd] residual stream
  std::vector<float> normed_;      // [T, n_embd]
  std::vector<float> q_;           // [T, n_heads * head_dim]
  std::vector<float> k_;           // [T, n_kv_heads * head_dim]
  std::vector<float> v_;           // [T, n_kv_heads * head_dim]
  std::vector<float> attn_out_;    // [T, n_heads * head_dim]
  std::vector<float> gate_;        // [T, n_ff]
  std::vector<float> up_;          // [T, n_ff]
  std::vector<float> projected_;   // [T, n_embd]
  std::vector<BlockQ8Act> q8_;     // [T, max(n_embd, n_ff, n_heads * head_dim) / 32]
  std::vector<uint8_t, AlignedAllocator<uint8_t>> paired_;  // q8_ interleaved, paired_activations_bytes()
  AlignedFloats attention_scratch_;  // [n_threads, attention_scratch_stride_]
  size_t attention_scratch_stride_ = 0;
};

class LlamaModel {
 public:
  // Loads and validates the weights of `file` (kept mapped). Throws Error naming the
  // tensor and its shape or type when a weight is missing or has the wrong shape.
  static std::unique_ptr<LlamaModel> load(std::shared_ptr<const gguf::File> file);

  const LlamaConfig& config() const { return config_; }
  const gguf::File& file() const { return *file_; }

  // Runs the batch, writes its K/V into `kv`, and stores the logits of the requested
  // tokens in `logits` ([logit_indices.size(), n_vocab]). The batch must fit `scratch`.
  void forward(const ForwardBatch& batch, KvMemory& kv, ForwardScratch& scratch, ThreadPool& pool,
               float* logits) const;

 private:
  struct Layer {
    std::span<const float> attn_norm;
    WeightMatrix wq, wk, wv, wo;
    std::span<const float> ffn_norm;
    WeightMatrix w_gate, w_up, w_down;
  };

  LlamaModel() = default;
  void run_attention(const Layer& layer, int layer_idx, const ForwardBatch& batch, KvMemory& kv,
                     ForwardScratch& s, ThreadPool& pool) const;
  void run_feed_forward(const Layer& layer, int n_tokens, ForwardScratch& s, ThreadPool& pool) const;
  void store_kv(int layer_idx, const ForwardBatch& batch, KvMemory& kv, ForwardScratch& s, int begin, int end) const;
  void norm_rows(const float* x, std::span<const float> weight, float* y, int n_tokens, ThreadPool& pool) const;
  void add_rows(float* y, const float* x, int64_t n, ThreadPool& pool) const;
  void project(const WeightMatrix& w, const float* x, int n_tokens, float* y, ForwardScratch& s, ThreadPool& pool,
               bool quantize_input) const;

  std::shared_ptr<const gguf::File> file_;
  LlamaConfig config_;
  WeightMatrix token_embd_{};
  std::span<const float> output_norm_;
  WeightMatrix output_{};
  std::vector<Layer> layers_;
  float rope_theta_scale_ = 1.0f;     // base^(-2 / rope_dim)
  std::vector<float> rope_factors_;  // [rope_dim / 2] angle divisors, or empty
};

}  // namespace kvinfer
