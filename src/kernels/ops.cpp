// Scalar loops written so the compiler vectorizes them; none of them dominates a step.
#include "kernels/ops.h"

#include <cmath>

namespace kvinfer {

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  // Squares in f32 summed in double, then the scale in f32: the order ggml uses, so the
  // result matches llama.cpp bit for bit and does not depend on vectorization.
  double sum_squares = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_squares += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum_squares / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void rope(float* x, int n_heads, int head_dim, int rope_dim, float theta_scale, const float* freq_factors, float pos,
          RopeLayout layout) {
  const int n_pairs = rope_dim / 2;
  float theta = pos;
  for (int i = 0; i < n_pairs; ++i) {
    // One angle per pair, shared by every head. theta = pos * theta_scale^i by repeated
    // multiplication in f32, as ggml computes it, so angles match llama.cpp's exactly.
    const float angle = freq_factors != nullptr ? theta / freq_factors[i] : theta;
    const float cos_angle = std::cos(angle);
    const float sin_angle = std::sin(angle);
    theta *= theta_scale;
    const int first = layout == RopeLayout::Adjacent ? 2 * i : i;
    const int second = layout == RopeLayout::Adjacent ? 2 * i + 1 : i + n_pairs;

    for (int h = 0; h < n_heads; ++h) {
      float* head = x + static_cast<int64_t>(h) * head_dim;
      const float a = head[first];
      const float b = head[second];
      head[first] = a * cos_angle - b * sin_angle;
      head[second] = a * sin_angle + b * cos_angle;
    }
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add_in_place(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace kvinfer
