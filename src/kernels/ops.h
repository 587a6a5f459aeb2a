// Element-wise and row-wise operations of a transformer layer, on f32 rows.
#pragma once

#include <cstdint>

namespace kvinfer {

// y = x / sqrt(mean(x^2) + eps) * weight, for one row of n elements.
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);

// Rotary position embedding (Su et al., "RoFormer", 2021), applied in place to n_heads
// heads of head_dim elements each, of a token at position `pos`. The first rope_dim
// (even, <= head_dim) elements of each head rotate: pair i by the angle
// pos * theta_scale^i / freq_factors[i], where theta_scale = base^(-2 / rope_dim) and
// freq_factors may be null (all 1).
//   adjacent layout (llama): pairs (x[2i], x[2i+1])
//   half-split layout (GPT-NeoX, Qwen2): pairs (x[i], x[i + rope_dim/2])
enum class RopeLayout { Adjacent, HalfSplit };
void rope(float* x, int n_heads, int head_dim, int rope_dim, float theta_scale, const float* freq_factors, float pos,
          RopeLayout layout);

// gate[i] = silu(gate[i]) * up[i], silu(v) = v / (1 + exp(-v)).
void silu_mul(float* gate, const float* up, int64_t n);

// y[i] += x[i].
void add_in_place(float* y, const float* x, int64_t n);

}  // namespace kvinfer
