// Two-pass attention: scores for every position, softmax, then the weighted sum of
// values. The order of every floating-point sum is fixed per query, so results do not
// depend on batching.
//
// The order is also ggml's (llama.cpp's CPU backend without flash attention), because
// low-bit models are chaotic: a one-ulp difference in one attention output flips the
// rounding of a quantized activation a few layers later and the logits drift apart.
// Matching the order keeps kvinfer's logits within noise of llama.cpp's:
//   - with an F16 cache, the query and the softmax weights are rounded to f16 before
//     their dot products, as ggml converts them to the cache's type;
//   - a dot product over n elements keeps 4 accumulators of 16 lanes. Element i goes to
//     accumulator (i % 64) / 16, lane i % 16. The accumulators are added as
//     (a0 + a2) + (a1 + a3), then the 16 lanes pairwise (8 + 8, 4 + 4, 2 + 2, 1 + 1).
//     Elements past the last multiple of 64 are added one by one in double;
//   - softmax sums exp() per 16 positions in f32 (same lane order), those sums in
//     double, and scales by the f32 value of 1 / sum.
// The V pass applies the same dot order along positions, lane = position, over a length
// padded to a multiple of 64 as llama.cpp pads its KV length.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/quantize.h"
#include "kernels/simd_reduce.h"
#include "tensor/half.h"
#include "tensor/quant_blocks.h"
#include "util/simd.h"

namespace kvinfer {
namespace {

constexpr int kLanes = 16;
constexpr int kAccumulators = 4;
constexpr int kStep = kLanes * kAccumulators;  // elements per step of a dot product
constexpr int kMaxHeadDim = 512;

inline float round_f16(float value) { return f16_to_f32(f32_to_f16(value)); }

// Adds 16 lanes as GCC's _mm512_reduce_add_ps does: halves of 8, then 4, then 2 + 2.
float reduce_lanes(const float* lanes) {
  float eight[8], four[4];
  for (int i = 0; i < 8; ++i) eight[i] = lanes[i + 8] + lanes[i];
  for (int i = 0; i < 4; ++i) four[i] = eight[i + 4] + eight[i];
  return (four[0] + four[2]) + (four[1] + four[3]);
}

// Dot product in the order described at the top of the file; x and y have n elements.
// With `padded`, n counts as rounded up to a multiple of 64 with zeros after it, as
// llama.cpp's KV length is padded, so no element takes the one-by-one path.
float ordered_dot(const float* x, const float* y, int n, bool padded) {
  const int n_stepped = padded ? n : n / kStep * kStep;
  double sum = 0.0;
  if (n_stepped > 0) {
    float acc[kAccumulators][kLanes] = {};
    for (int i = 0; i < n_stepped; ++i) {
      float& a = acc[(i % kStep) / kLanes][i % kLanes];
      a = std::fma(x[i], y[i], a);
    }
    float lanes[kLanes];
    for (int l = 0; l < kLanes; ++l) lanes[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    sum = reduce_lanes(lanes);
  }
  for (int i = n_stepped; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

// exp(x - max) in place, then scaled to sum to 1, in the order described above.
void softmax_in_place(float* x, int n) {
  float max_value = x[0];
  for (int i = 1; i < n; ++i) max_value = std::max(max_value, x[i]);
  for (int i = 0; i < n; ++i) x[i] = std::exp(x[i] - max_value);

  double sum = 0.0;
  for (int begin = 0; begin < n; begin += kLanes) {
    float lanes[kLanes] = {};
    for (int i = begin; i < std::min(n, begin + kLanes); ++i) lanes[i - begin] = x[i];
    sum += reduce_lanes(lanes);
  }
  const float inverse = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inverse;
}

// Scores of one query head against every key, already scaled and normalized.
void score_keys(const float* query, int head_dim, const KvHeadView& kv, int n_positions, float scale, float* scores,
                float* row) {
  for (int p = 0; p < n_positions; ++p) {
    dequantize_row(kv.type, kv.key_row(p), row, head_dim);
    scores[p] = ordered_dot(query, row, head_dim, false) * scale;
  }
  softmax_in_place(scores, n_positions);
}

void attend_generic(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
                    float* scores, float* out) {
  const bool f16_cache = kv.type == DType::F16;
  float query[kMaxHeadDim];
  float row[kMaxHeadDim];
  for (int h = 0; h < n_query_heads; ++h) {
    for (int j = 0; j < head_dim; ++j) query[j] = f16_cache ? round_f16(q[h * head_dim + j]) : q[h * head_dim + j];
    float* weights = scores + static_cast<size_t>(h) * n_positions;
    score_keys(query, head_dim, kv, n_positions, scale, weights, row);
    if (f16_cache) {
      for (int p = 0; p < n_positions; ++p) weights[p] = round_f16(weights[p]);
    }
  }

  // out[h][d] = ordered dot over positions of weights[h][p] and v[p][d].
  std::vector<float> column(n_positions);
  std::vector<float> values(static_cast<size_t>(n_positions) * head_dim);
  for (int p = 0; p < n_positions; ++p) dequantize_row(kv.type, kv.value_row(p), &values[static_cast<size_t>(p) * head_dim], head_dim);
  for (int d = 0; d < head_dim; ++d) {
    for (int p = 0; p < n_positions; ++p) column[p] = values[static_cast<size_t>(p) * head_dim + d];
    for (int h = 0; h < n_query_heads; ++h) {
      out[h * head_dim + d] = ordered_dot(column.data(), scores + static_cast<size_t>(h) * n_positions, n_positions, true);
    }
  }
}

#if defined(__AVX512F__)
// Loads 16 elements of a K/V row as f32.
inline __m512 load16(const uint8_t* row, DType type, int j) {
  if (type == DType::F16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * j)));
  return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + j);
}

// The ordered dot of a query with one key row, head_dim a multiple of 64.
inline float key_dot(const float* query, const uint8_t* key, DType type, int head_dim) {
  __m512 acc[kAccumulators];
  for (int j = 0; j < kAccumulators; ++j) acc[j] = _mm512_setzero_ps();
  for (int i = 0; i < head_dim; i += kStep) {
    for (int j = 0; j < kAccumulators; ++j) {
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(query + i + j * kLanes), load16(key, type, i + j * kLanes), acc[j]);
    }
  }
  __m512 total = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3]));
  return simd::reduce_add(total);
}

// Adds weight * v[p] into the accumulator lane of position p; acc: [4][16][head_dim].
inline void accumulate_value(float* acc, int p, float weight, const uint8_t* value, DType type, int head_dim) {
  float* target = acc + (static_cast<size_t>((p % kStep) / kLanes) * kLanes + p % kLanes) * head_dim;
  const __m512 w = _mm512_set1_ps(weight);
  for (int d = 0; d < head_dim; d += kLanes) {
    _mm512_storeu_ps(target + d, _mm512_fmadd_ps(load16(value, type, d), w, _mm512_loadu_ps(target + d)));
  }
}

// Reduces the [4][16][head_dim] accumulators to out[head_dim], vectorized over d.
void reduce_value_accumulators(const float* acc, int head_dim, float* out) {
  const size_t lane_stride = static_cast<size_t>(head_dim);
  const size_t acc_stride = kLanes * lane_stride;
  for (int d = 0; d < head_dim; d += kLanes) {
    __m512 lanes[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      const float* base = acc + l * lane_stride + d;
      lanes[l] = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(base), _mm512_loadu_ps(base + 2 * acc_stride)),
                               _mm512_add_ps(_mm512_loadu_ps(base + acc_stride), _mm512_loadu_ps(base + 3 * acc_stride)));
    }
    for (int i = 0; i < 8; ++i) lanes[i] = _mm512_add_ps(lanes[i + 8], lanes[i]);
    for (int i = 0; i < 4; ++i) lanes[i] = _mm512_add_ps(lanes[i + 4], lanes[i]);
    _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(lanes[0], lanes[2]), _mm512_add_ps(lanes[1], lanes[3])));
  }
}

void attend_simd(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
                 float* scratch, float* out) {
  const bool f16_cache = kv.type == DType::F16;
  float* scores = scratch;
  float* acc = scratch + attend_scores_size(n_query_heads, n_positions);
  const size_t acc_size = static_cast<size_t>(kAccumulators) * kLanes * head_dim;

  // Pass 1: scores[h][p] = softmax(q[h] . k[p] * scale); each key row is read once for all heads.
  alignas(64) float queries[8 * kMaxHeadDim];
  for (int i = 0; i < n_query_heads * head_dim; ++i) queries[i] = f16_cache ? round_f16(q[i]) : q[i];
  for (int p = 0; p < n_positions; ++p) {
    const uint8_t* key = kv.key_row(p);
    for (int h = 0; h < n_query_heads; ++h) scores[h * n_positions + p] = key_dot(queries + h * head_dim, key, kv.type, head_dim) * scale;
  }
  for (int h = 0; h < n_query_heads; ++h) {
    float* weights = scores + static_cast<size_t>(h) * n_positions;
    softmax_in_place(weights, n_positions);
    if (f16_cache) {
      for (int p = 0; p < n_positions; ++p) weights[p] = round_f16(weights[p]);
    }
  }

  // Pass 2: out[h] = sum over p of scores[h][p] * v[p], one accumulator lane per position.
  std::fill(acc, acc + n_query_heads * acc_size, 0.0f);
  for (int p = 0; p < n_positions; ++p) {
    const uint8_t* value = kv.value_row(p);
    for (int h = 0; h < n_query_heads; ++h) accumulate_value(acc + h * acc_size, p, scores[h * n_positions + p], value, kv.type, head_dim);
  }
  for (int h = 0; h < n_query_heads; ++h) reduce_value_accumulators(acc + h * acc_size, head_dim, out + h * head_dim);
}
#endif

}  // namespace

size_t kv_row_bytes(DType type, int head_dim) {
  switch (type) {
    case DType::F32:
      return static_cast<size_t>(head_dim) * 4;
    case DType::F16:
      return static_cast<size_t>(head_dim) * 2;
    default:  // Q8_0
      return static_cast<size_t>(head_dim / kQuantBlock) * sizeof(BlockQ8_0);
  }
}

void store_kv_row(DType type, const float* src, uint8_t* dst, int head_dim) {
  switch (type) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(head_dim) * sizeof(float));
      return;
    case DType::F16: {
      uint16_t* halves = reinterpret_cast<uint16_t*>(dst);
      for (int j = 0; j < head_dim; ++j) halves[j] = f32_to_f16(src[j]);
      return;
    }
    default:
      quantize_row_q8_0(src, reinterpret_cast<BlockQ8_0*>(dst), head_dim);
      return;
  }
}

size_t attend_scores_size(int n_query_heads, int n_positions) {
  // Rounded up to 16 floats so the accumulators after the scores stay 64-byte aligned.
  return (static_cast<size_t>(n_query_heads) * n_positions + 15) / 16 * 16;
}

size_t attend_scratch_size(int n_query_heads, int head_dim, int max_positions) {
  return attend_scores_size(n_query_heads, max_positions) + static_cast<size_t>(n_query_heads) * kAccumulators * kLanes * head_dim;
}

void attend(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
            float* scratch, float* out) {
#if defined(__AVX512F__)
  if (kv.type != DType::Q8_0 && head_dim % kStep == 0 && head_dim <= kMaxHeadDim && n_query_heads <= 8) {
    attend_simd(q, n_query_heads, head_dim, kv, n_positions, scale, scratch, out);
    return;
  }
#endif
  attend_generic(q, n_query_heads, head_dim, kv, n_positions, scale, scratch, out);
}

void attend_reference(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions,
                      float scale, float* out) {
  std::vector<float> scores(static_cast<size_t>(n_query_heads) * n_positions);
  attend_generic(q, n_query_heads, head_dim, kv, n_positions, scale, scores.data(), out);
}

}  // namespace kvinfer
