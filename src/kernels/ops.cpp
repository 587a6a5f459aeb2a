// Scalar loops written so the compiler vectorizes them; none of them dominates a step.
#include "kernels/ops.h"

#include <cmath>

namespace kvinfer {

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  // Accumulate in double so the result does not depend on vectorization order.
  double sum_squares = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_squares += static_cast<double>(x[i]) * x[i];
  float scale = static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void rope(float* x, int n_heads, int head_dim, int rope_dim, const float* freqs, float pos, RopeLayout layout) {
  const int n_pairs = rope_dim / 2;
  for (int i = 0; i < n_pairs; ++i) {
    // One angle per pair, shared by every head.
    float angle = pos * freqs[i];
    float cos_angle = std::cos(angle);
    float sin_angle = std::sin(angle);
    int first = layout == RopeLayout::Adjacent ? 2 * i : i;
    int second = layout == RopeLayout::Adjacent ? 2 * i + 1 : i + n_pairs;

    for (int h = 0; h < n_heads; ++h) {
      float* head = x + static_cast<int64_t>(h) * head_dim;
      float a = head[first];
      float b = head[second];
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
