// Two-pass attention: scores for every position, softmax, then the weighted sum of
// values. The reduction order per query is fixed, so results do not depend on batching.
#include "kernels/attention.h"

#include "util/simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/quantize.h"
#include "kernels/simd_reduce.h"
#include "tensor/half.h"
#include "tensor/quant_blocks.h"

namespace kvinfer {
namespace {

// Largest head_dim the stack buffers below take; every llama-family model uses <= 256.
constexpr int kMaxHeadDim = 512;

void softmax_in_place(float* x, int n) {
  float max_value = x[0];
  for (int i = 1; i < n; ++i) max_value = std::max(max_value, x[i]);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  float inverse = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inverse;
}

#if defined(__AVX512F__)
// Loads 16 elements of a K/V row as f32.
inline __m512 load16(const uint8_t* row, DType type, int j) {
  if (type == DType::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * j)));
  }
  return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + j);
}

void attend_simd(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
                 float* scores, float* out) {
  const int n_chunks = head_dim / 16;

  // Pass 1: scores[h][p] = q[h] . k[p] * scale; each key row is loaded once for all heads.
  for (int p = 0; p < n_positions; ++p) {
    const uint8_t* key = kv.key_row(p);
    for (int h = 0; h < n_query_heads; ++h) {
      const float* query = q + h * head_dim;
      __m512 sum = _mm512_setzero_ps();
      for (int c = 0; c < n_chunks; ++c) sum = _mm512_fmadd_ps(_mm512_loadu_ps(query + 16 * c), load16(key, kv.type, 16 * c), sum);
      scores[h * n_positions + p] = simd::reduce_add(sum) * scale;
    }
  }
  for (int h = 0; h < n_query_heads; ++h) softmax_in_place(scores + h * n_positions, n_positions);

  // Pass 2: out[h] = sum over p of scores[h][p] * v[p].
  __m512 sums[4 * 8];  // up to 8 heads of up to 64 elements kept in registers
  const bool in_registers = n_chunks <= 4 && n_query_heads <= 8;
  if (in_registers) {
    for (int i = 0; i < n_query_heads * n_chunks; ++i) sums[i] = _mm512_setzero_ps();
    for (int p = 0; p < n_positions; ++p) {
      const uint8_t* value = kv.value_row(p);
      for (int c = 0; c < n_chunks; ++c) {
        __m512 v = load16(value, kv.type, 16 * c);
        for (int h = 0; h < n_query_heads; ++h) {
          sums[h * n_chunks + c] = _mm512_fmadd_ps(_mm512_set1_ps(scores[h * n_positions + p]), v, sums[h * n_chunks + c]);
        }
      }
    }
    for (int h = 0; h < n_query_heads; ++h) {
      for (int c = 0; c < n_chunks; ++c) _mm512_storeu_ps(out + h * head_dim + 16 * c, sums[h * n_chunks + c]);
    }
    return;
  }
  std::fill(out, out + n_query_heads * head_dim, 0.0f);
  for (int p = 0; p < n_positions; ++p) {
    const uint8_t* value = kv.value_row(p);
    for (int h = 0; h < n_query_heads; ++h) {
      __m512 weight = _mm512_set1_ps(scores[h * n_positions + p]);
      float* dst = out + h * head_dim;
      for (int c = 0; c < n_chunks; ++c) {
        _mm512_storeu_ps(dst + 16 * c, _mm512_fmadd_ps(weight, load16(value, kv.type, 16 * c), _mm512_loadu_ps(dst + 16 * c)));
      }
    }
  }
}
#endif

// Generic path: dequantize each row, then plain loops. Also serves Q8_0 K/V.
void attend_generic(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
                    float* scores, float* out) {
  float row[kMaxHeadDim];
  for (int p = 0; p < n_positions; ++p) {
    dequantize_row(kv.type, kv.key_row(p), row, head_dim);
    for (int h = 0; h < n_query_heads; ++h) {
      float sum = 0.0f;
      for (int j = 0; j < head_dim; ++j) sum += q[h * head_dim + j] * row[j];
      scores[h * n_positions + p] = sum * scale;
    }
  }
  for (int h = 0; h < n_query_heads; ++h) softmax_in_place(scores + h * n_positions, n_positions);

  std::fill(out, out + n_query_heads * head_dim, 0.0f);
  for (int p = 0; p < n_positions; ++p) {
    dequantize_row(kv.type, kv.value_row(p), row, head_dim);
    for (int h = 0; h < n_query_heads; ++h) {
      float weight = scores[h * n_positions + p];
      for (int j = 0; j < head_dim; ++j) out[h * head_dim + j] += weight * row[j];
    }
  }
}

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

void attend(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
            float* scores, float* out) {
#if defined(__AVX512F__)
  if (kv.type != DType::Q8_0 && head_dim % 16 == 0) {
    attend_simd(q, n_query_heads, head_dim, kv, n_positions, scale, scores, out);
    return;
  }
#endif
  attend_generic(q, n_query_heads, head_dim, kv, n_positions, scale, scores, out);
}

void attend_reference(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions,
                      float scale, float* out) {
  std::vector<float> scores(static_cast<size_t>(n_query_heads) * n_positions);
  attend_generic(q, n_query_heads, head_dim, kv, n_positions, scale, scores.data(), out);
}

}  // namespace kvinfer
