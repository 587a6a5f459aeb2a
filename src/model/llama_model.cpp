// Llama forward pass: per layer, RMSNorm -> Q/K/V projections -> RoPE -> K/V stored in
// the sequence's blocks -> grouped-query attention -> output projection -> residual,
// then RMSNorm -> SwiGLU feed-forward -> residual. Reference: Touvron et al., "LLaMA:
// Open and Efficient Foundation Language Models" (2023), section 2.2, and llama.cpp's
// build_llama graph for the GGUF tensor names and layouts.
#include "model/llama_model.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "kernels/quantize.h"
#include "util/error.h"

namespace kvinfer {
namespace {

const gguf::TensorInfo& require_tensor(const gguf::File& file, const std::string& name) {
  const gguf::TensorInfo* info = file.find_tensor(name);
  if (info == nullptr) fail("{}: missing tensor '{}'", file.path(), name);
  return *info;
}

WeightMatrix load_matrix(const gguf::File& file, const std::string& name, int64_t n_cols, int64_t n_rows) {
  const gguf::TensorInfo& info = require_tensor(file, name);
  if (info.n_dims != 2 || info.dims[0] != static_cast<uint64_t>(n_cols) || info.dims[1] != static_cast<uint64_t>(n_rows)) {
    fail("{}: tensor '{}' has shape [{}, {}], expected [{}, {}]", file.path(), name, info.dims[0], info.dims[1], n_cols,
         n_rows);
  }
  if (!traits_of(info.type).computable) {
    fail("{}: tensor '{}' has type {}, which kvinfer cannot compute with (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)",
         file.path(), name, dtype_name(info.type));
  }
  return WeightMatrix{info.type, info.data, n_rows, n_cols, static_cast<size_t>(info.row_bytes())};
}

std::span<const float> load_vector(const gguf::File& file, const std::string& name, int64_t n) {
  const gguf::TensorInfo& info = require_tensor(file, name);
  if (info.type != DType::F32 || info.n_elements != static_cast<uint64_t>(n)) {
    fail("{}: tensor '{}' must be F32 with {} elements, found {} with {}", file.path(), name, n, dtype_name(info.type),
         info.n_elements);
  }
  return {reinterpret_cast<const float*>(info.data), static_cast<size_t>(n)};
}

// Per-pair divisors of the RoPE angle, when the file has them (Llama 3.1's
// "rope_freqs.weight"); empty otherwise.
std::vector<float> rope_frequency_factors(const gguf::File& file, const LlamaConfig& config) {
  if (file.find_tensor("rope_freqs.weight") == nullptr) return {};
  std::span<const float> factors = load_vector(file, "rope_freqs.weight", config.rope_dim / 2);
  return std::vector<float>(factors.begin(), factors.end());
}

}  // namespace

ForwardScratch::ForwardScratch(const LlamaConfig& c, int max_batch_tokens, int max_logit_rows, int max_context,
                               int n_threads)
    : max_batch_tokens_(max_batch_tokens), max_logit_rows_(max_logit_rows), max_context_(max_context) {
  const size_t t = static_cast<size_t>(max_batch_tokens);
  const size_t q_width = static_cast<size_t>(c.n_heads) * c.head_dim;
  const size_t kv_width = static_cast<size_t>(c.n_kv_heads) * c.head_dim;
  const size_t widest = std::max({static_cast<size_t>(c.n_embd), static_cast<size_t>(c.n_ff), q_width});
  hidden_.resize(t * c.n_embd);
  normed_.resize(t * c.n_embd);
  q_.resize(t * q_width);
  k_.resize(t * kv_width);
  v_.resize(t * kv_width);
  attn_out_.resize(t * q_width);
  gate_.resize(t * c.n_ff);
  up_.resize(t * c.n_ff);
  projected_.resize(t * c.n_embd);
  q8_.resize(t * widest / kQuantBlock);
  paired_.resize(paired_activations_bytes(max_batch_tokens, static_cast<int64_t>(widest)));
  attention_scratch_stride_ = (attend_scratch_size(c.n_heads / c.n_kv_heads, c.head_dim, max_context) + 15) / 16 * 16;
  attention_scratch_.resize(static_cast<size_t>(n_threads) * attention_scratch_stride_);
}

std::unique_ptr<LlamaModel> LlamaModel::load(std::shared_ptr<const gguf::File> file) {
  std::unique_ptr<LlamaModel> model(new LlamaModel());
  const gguf::File& f = *file;
  LlamaConfig& c = model->config_;
  c = LlamaConfig::from_gguf(f);
  const int64_t q_width = static_cast<int64_t>(c.n_heads) * c.head_dim;
  const int64_t kv_width = static_cast<int64_t>(c.n_kv_heads) * c.head_dim;

  model->token_embd_ = load_matrix(f, "token_embd.weight", c.n_embd, c.n_vocab);
  model->output_norm_ = load_vector(f, "output_norm.weight", c.n_embd);
  // Models with tied embeddings (SmolLM2) have no output.weight and reuse the table.
  bool has_output = f.find_tensor("output.weight") != nullptr;
  model->output_ = has_output ? load_matrix(f, "output.weight", c.n_embd, c.n_vocab) : model->token_embd_;

  for (int i = 0; i < c.n_layers; ++i) {
    const std::string prefix = "blk." + std::to_string(i) + ".";
    Layer layer;
    layer.attn_norm = load_vector(f, prefix + "attn_norm.weight", c.n_embd);
    layer.wq = load_matrix(f, prefix + "attn_q.weight", c.n_embd, q_width);
    layer.wk = load_matrix(f, prefix + "attn_k.weight", c.n_embd, kv_width);
    layer.wv = load_matrix(f, prefix + "attn_v.weight", c.n_embd, kv_width);
    layer.wo = load_matrix(f, prefix + "attn_output.weight", q_width, c.n_embd);
    layer.ffn_norm = load_vector(f, prefix + "ffn_norm.weight", c.n_embd);
    layer.w_gate = load_matrix(f, prefix + "ffn_gate.weight", c.n_embd, c.n_ff);
    layer.w_up = load_matrix(f, prefix + "ffn_up.weight", c.n_embd, c.n_ff);
    layer.w_down = load_matrix(f, prefix + "ffn_down.weight", c.n_ff, c.n_embd);
    model->layers_.push_back(layer);
  }
  model->rope_factors_ = rope_frequency_factors(f, c);
  model->rope_theta_scale_ = std::pow(c.rope_freq_base, -2.0f / static_cast<float>(c.rope_dim));
  model->file_ = std::move(file);
  return model;
}

void LlamaModel::norm_rows(const float* x, std::span<const float> weight, float* y, int n_tokens,
                           ThreadPool& pool) const {
  const int width = config_.n_embd;
  pool.parallel_for(n_tokens, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) rms_norm(x + i * width, weight.data(), y + i * width, width, config_.rms_eps);
  });
}

void LlamaModel::add_rows(float* y, const float* x, int64_t n, ThreadPool& pool) const {
  pool.parallel_for(n, 4096, [&](int64_t begin, int64_t end) { add_in_place(y + begin, x + begin, end - begin); });
}

void LlamaModel::project(const WeightMatrix& w, const float* x, int n_tokens, float* y, ForwardScratch& s,
                         ThreadPool& pool, bool quantize_input) const {
  PairedActivationBlock* paired = s.paired_.empty() ? nullptr : reinterpret_cast<PairedActivationBlock*>(s.paired_.data());
  if (quantize_input && uses_q8_activations(w.type)) quantize_activations(x, s.q8_.data(), n_tokens, w.n_cols, pool, paired);
  ActivationBatch batch{x, s.q8_.data(), n_tokens, w.n_cols, paired};
  matmul(w, batch, y, pool);
}

void LlamaModel::store_kv(int layer_idx, const ForwardBatch& batch, KvMemory& kv, ForwardScratch& s, int begin,
                          int end) const {
  const KvLayout& layout = kv.layout();
  const int kv_width = config_.n_kv_heads * config_.head_dim;
  for (int i = begin; i < end; ++i) {
    const int pos = batch.positions[i];
    std::span<const int32_t> table = batch.block_tables[batch.seq_indices[i]];
    uint8_t* block = kv.block(table[pos / layout.block_size]);
    const size_t row_offset = static_cast<size_t>(pos % layout.block_size) * layout.row_bytes();
    for (int g = 0; g < config_.n_kv_heads; ++g) {
      const size_t offset = i * kv_width + static_cast<size_t>(g) * config_.head_dim;
      store_kv_row(layout.type, s.k_.data() + offset, block + layout.key_offset(layer_idx, g) + row_offset, config_.head_dim);
      store_kv_row(layout.type, s.v_.data() + offset, block + layout.value_offset(layer_idx, g) + row_offset,
                   config_.head_dim);
    }
  }
}

void LlamaModel::run_attention(const Layer& layer, int layer_idx, const ForwardBatch& batch, KvMemory& kv,
                               ForwardScratch& s, ThreadPool& pool) const {
  const LlamaConfig& c = config_;
  const int n = static_cast<int>(batch.tokens.size());
  const int q_width = c.n_heads * c.head_dim;
  const int kv_width = c.n_kv_heads * c.head_dim;
  const int n_rep = c.n_heads / c.n_kv_heads;

  // Q, K, V projections of the normed input, quantized once for all three.
  norm_rows(s.hidden_.data(), layer.attn_norm, s.normed_.data(), n, pool);
  project(layer.wq, s.normed_.data(), n, s.q_.data(), s, pool, true);
  project(layer.wk, s.normed_.data(), n, s.k_.data(), s, pool, !uses_q8_activations(layer.wq.type));
  project(layer.wv, s.normed_.data(), n, s.v_.data(), s, pool,
          !uses_q8_activations(layer.wq.type) && !uses_q8_activations(layer.wk.type));

  // Rotate Q and K by position, then store K and V in the sequences' blocks.
  pool.parallel_for(n, 4, [&](int64_t begin, int64_t end) {
    const float* factors = rope_factors_.empty() ? nullptr : rope_factors_.data();
    for (int64_t i = begin; i < end; ++i) {
      const float pos = static_cast<float>(batch.positions[i]) * c.rope_position_scale;
      rope(&s.q_[i * q_width], c.n_heads, c.head_dim, c.rope_dim, rope_theta_scale_, factors, pos, c.rope_layout);
      rope(&s.k_[i * kv_width], c.n_kv_heads, c.head_dim, c.rope_dim, rope_theta_scale_, factors, pos, c.rope_layout);
    }
    store_kv(layer_idx, batch, kv, s, static_cast<int>(begin), static_cast<int>(end));
  });

  // Attention per (token, KV head) pair: the n_rep query heads of a group share K/V reads.
  const KvLayout& layout = kv.layout();
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const int n_pairs = n * c.n_kv_heads;
  pool.run([&](int thread_idx, int n_threads) {
    float* scratch = s.attention_scratch_.data() + static_cast<size_t>(thread_idx) * s.attention_scratch_stride_;
    for (int pair = thread_idx; pair < n_pairs; pair += n_threads) {
      const int i = pair / c.n_kv_heads;
      const int g = pair % c.n_kv_heads;
      std::span<const int32_t> table = batch.block_tables[batch.seq_indices[i]];
      KvHeadView view{kv.data(), layout.block_bytes(), table.data(), layout.block_size, layout.type, layout.row_bytes(),
                      layout.key_offset(layer_idx, g), layout.value_offset(layer_idx, g)};
      const size_t head_offset = static_cast<size_t>(i) * q_width + static_cast<size_t>(g) * n_rep * c.head_dim;
      attend(&s.q_[head_offset], n_rep, c.head_dim, view, batch.positions[i] + 1, scale, scratch, &s.attn_out_[head_offset]);
    }
  });

  // Output projection and residual.
  project(layer.wo, s.attn_out_.data(), n, s.projected_.data(), s, pool, true);
  add_rows(s.hidden_.data(), s.projected_.data(), static_cast<int64_t>(n) * c.n_embd, pool);
}

void LlamaModel::run_feed_forward(const Layer& layer, int n, ForwardScratch& s, ThreadPool& pool) const {
  const LlamaConfig& c = config_;
  norm_rows(s.hidden_.data(), layer.ffn_norm, s.normed_.data(), n, pool);

  // SwiGLU: down(silu(gate(x)) * up(x)).
  project(layer.w_gate, s.normed_.data(), n, s.gate_.data(), s, pool, true);
  project(layer.w_up, s.normed_.data(), n, s.up_.data(), s, pool, !uses_q8_activations(layer.w_gate.type));
  pool.parallel_for(static_cast<int64_t>(n) * c.n_ff, 4096, [&](int64_t begin, int64_t end) {
    silu_mul(s.gate_.data() + begin, s.up_.data() + begin, end - begin);
  });
  project(layer.w_down, s.gate_.data(), n, s.projected_.data(), s, pool, true);
  add_rows(s.hidden_.data(), s.projected_.data(), static_cast<int64_t>(n) * c.n_embd, pool);
}

void LlamaModel::forward(const ForwardBatch& batch, KvMemory& kv, ForwardScratch& s, ThreadPool& pool,
                         float* logits) const {
  const LlamaConfig& c = config_;
  const int n = static_cast<int>(batch.tokens.size());
  if (n == 0 || n > s.max_batch_tokens_) fail("forward batch of {} tokens does not fit scratch of {}", n, s.max_batch_tokens_);
  if (static_cast<int>(batch.logit_indices.size()) > s.max_logit_rows_) {
    fail("forward batch requests {} logit rows, scratch holds {}", batch.logit_indices.size(), s.max_logit_rows_);
  }

  // Embeddings.
  for (int i = 0; i < n; ++i) {
    const int32_t token = batch.tokens[i].value;
    if (token < 0 || token >= c.n_vocab) fail("token id {} is outside the vocabulary of {} tokens", token, c.n_vocab);
    if (batch.positions[i] >= s.max_context_) fail("position {} exceeds the context of {}", batch.positions[i], s.max_context_);
    dequantize_row(token_embd_.type, token_embd_.row(token), &s.hidden_[i * c.n_embd], c.n_embd);
  }

  for (int l = 0; l < c.n_layers; ++l) {
    run_attention(layers_[l], l, batch, kv, s, pool);
    run_feed_forward(layers_[l], n, s, pool);
  }

  // Final norm and output projection, only for the rows whose logits are wanted.
  const int n_logits = static_cast<int>(batch.logit_indices.size());
  for (int r = 0; r < n_logits; ++r) {
    rms_norm(&s.hidden_[batch.logit_indices[r] * c.n_embd], output_norm_.data(), &s.projected_[r * c.n_embd], c.n_embd,
             c.rms_eps);
  }
  if (n_logits > 0) project(output_, s.projected_.data(), n_logits, logits, s, pool, true);
}

}  // namespace kvinfer
