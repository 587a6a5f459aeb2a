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

// Rounds 16 floats to f16 and back, as round_f16() does each element.
inline __m512 round_f16_x16(__m512 x) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Mask of the first n of 16 lanes.
inline __mmask16 first_lanes(int n) { return n >= kLanes ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// Computes softmax_in_place() 16 lanes at a time, with the same results. The maximum
// selects as std::max does, so a NaN in x[0] wins and later NaNs are skipped. exp() is the
// same scalar call, and each 16-position sum is reduced in reduce_lanes() order. With
// round_to_f16, the weights are then rounded to f16 as an F16 cache requires.
void softmax_simd(float* x, int n, bool round_to_f16) {
  __m512 max_lanes = _mm512_set1_ps(x[0]);
  for (int i = 0; i < n; i += kLanes) {
    const __m512 v = _mm512_mask_loadu_ps(max_lanes, first_lanes(n - i), x + i);
    max_lanes = _mm512_max_ps(v, max_lanes);
  }
  const float max_value = simd::reduce_max(max_lanes);
  for (int i = 0; i < n; ++i) x[i] = std::exp(x[i] - max_value);

  double sum = 0.0;
  for (int i = 0; i < n; i += kLanes) sum += simd::reduce_add(_mm512_maskz_loadu_ps(first_lanes(n - i), x + i));
  const __m512 inverse = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (int i = 0; i < n; i += kLanes) {
    const __mmask16 mask = first_lanes(n - i);
    __m512 weights = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + i), inverse);
    if (round_to_f16) weights = round_f16_x16(weights);
    _mm512_mask_storeu_ps(x + i, mask, weights);
  }
}

// Sums the 16 lanes of each of 16 vectors at once, each in simd::reduce_add() order:
// lane i + 8 to lane i, then i + 4, i + 2 and i + 1. totals[t] is the vector of output
// lane 4 * (t % 4) + t / 4, so the result comes out in lane order without a permute.
//
//   level 1: [t0 lanes 0..7 | t1 lanes 0..7] + [t0 lanes 8..15 | t1 lanes 8..15], ...
//   level 2: 128-bit quarters of 4 partial sums, from 4 vectors each
//   level 3 and 4: pairs, then single lanes, inside each 128-bit quarter
inline __m512 reduce_16_vectors(const __m512* totals) {
  __m512 eights[8];
  for (int k = 0; k < 8; ++k) {
    const __m512 low = _mm512_shuffle_f32x4(totals[2 * k], totals[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 high = _mm512_shuffle_f32x4(totals[2 * k], totals[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2));
    eights[k] = _mm512_add_ps(low, high);
  }
  __m512 fours[4];
  for (int k = 0; k < 4; ++k) {
    const __m512 low = _mm512_shuffle_f32x4(eights[2 * k], eights[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 high = _mm512_shuffle_f32x4(eights[2 * k], eights[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1));
    fours[k] = _mm512_add_ps(low, high);
  }
  __m512 twos[2];
  for (int k = 0; k < 2; ++k) {
    const __m512d first = _mm512_castps_pd(fours[2 * k]);
    const __m512d second = _mm512_castps_pd(fours[2 * k + 1]);
    twos[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(first, second)),
                            _mm512_castpd_ps(_mm512_unpackhi_pd(first, second)));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(twos[0], twos[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(twos[0], twos[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// Requests the cache lines of one K/V row. GCC 12 dropped _mm_prefetch() calls from this
// file at -O1 and above, so the instruction is written out.
inline void prefetch_row(const uint8_t* row, size_t row_bytes) {
  for (size_t line = 0; line < row_bytes; line += 64) asm volatile("prefetcht0 %0" : : "m"(row[line]));
}

// Computes scores[h * n_positions + p] = (query h . key p) * scale for the H heads of a
// group, each dot in the order described at the top of the file. A key row is converted
// to f32 once for all heads, and the dots' final lane sums run 16 positions at a time.
// Also records each position's value row in value_rows.
template <int H>
void score_keys_simd(const float* queries, int head_dim, const KvHeadView& kv, int n_positions, float scale,
                     float* scores, const uint8_t** value_rows) {
  const __m512 scales = _mm512_set1_ps(scale);
  for (int group = 0; group < n_positions; group += kLanes) {
    const int n_in_group = std::min(kLanes, n_positions - group);

    // totals[h][slot]: the 16 lanes of position group + offset, in reduce_16_vectors()'s slot.
    __m512 totals[H][kLanes];
    for (int offset = 0; offset < kLanes; ++offset) {
      const int slot = offset / 4 + 4 * (offset % 4);
      if (offset >= n_in_group) {
        for (int h = 0; h < H; ++h) totals[h][slot] = _mm512_setzero_ps();
        continue;
      }
      const int p = group + offset;
      const uint8_t* key = kv.key_row(p);
      value_rows[p] = kv.value_row(p);

      // A sequence's K/V rows are spread over blocks of the pool and mostly miss the
      // caches, so request the key 16 positions ahead, and this value row for pass 2.
      if (p + kLanes < n_positions) prefetch_row(kv.key_row(p + kLanes), kv.row_bytes);
      prefetch_row(value_rows[p], kv.row_bytes);

      __m512 acc[H][kAccumulators];
      for (int h = 0; h < H; ++h) {
        for (int j = 0; j < kAccumulators; ++j) acc[h][j] = _mm512_setzero_ps();
      }
      for (int i = 0; i < head_dim; i += kStep) {
        for (int j = 0; j < kAccumulators; ++j) {
          const __m512 k = load16(key, kv.type, i + j * kLanes);
          for (int h = 0; h < H; ++h) {
            acc[h][j] = _mm512_fmadd_ps(_mm512_loadu_ps(queries + h * head_dim + i + j * kLanes), k, acc[h][j]);
          }
        }
      }
      for (int h = 0; h < H; ++h) {
        totals[h][slot] = _mm512_add_ps(_mm512_add_ps(acc[h][0], acc[h][2]), _mm512_add_ps(acc[h][1], acc[h][3]));
      }
    }

    for (int h = 0; h < H; ++h) {
      const __m512 dots = reduce_16_vectors(totals[h]);
      _mm512_mask_storeu_ps(scores + h * n_positions + group, first_lanes(n_in_group), _mm512_mul_ps(dots, scales));
    }
  }
}

// Computes out[h][d] = ordered dot over positions of weights[h][p] and v[p][d], 16 dims
// at a time. Position p goes to lane p % 16 of accumulator (p % 64) / 16, so acc[j] for
// lane l runs the FMA chain of positions l + 16 j, l + 16 j + 64, ... in registers, the
// same operations a [4][16] accumulator array in memory would see, without zeroing it.
template <int H>
void sum_weighted_values(const float* weights, int head_dim, DType type, int n_positions,
                         const uint8_t* const* value_rows, float* out) {
  for (int d = 0; d < head_dim; d += kLanes) {
    __m512 lanes[H][kLanes];
    for (int l = 0; l < kLanes; ++l) {
      __m512 acc[kAccumulators][H];
      for (int j = 0; j < kAccumulators; ++j) {
        for (int h = 0; h < H; ++h) acc[j][h] = _mm512_setzero_ps();
      }
      for (int base = l; base < n_positions; base += kStep) {
        for (int j = 0; j < kAccumulators; ++j) {
          const int p = base + j * kLanes;
          if (p >= n_positions) break;
          const __m512 v = load16(value_rows[p], type, d);
          for (int h = 0; h < H; ++h) {
            acc[j][h] = _mm512_fmadd_ps(v, _mm512_set1_ps(weights[h * n_positions + p]), acc[j][h]);
          }
        }
      }
      for (int h = 0; h < H; ++h) {
        lanes[h][l] = _mm512_add_ps(_mm512_add_ps(acc[0][h], acc[2][h]), _mm512_add_ps(acc[1][h], acc[3][h]));
      }
    }

    // The 16 lanes pairwise, as reduce_lanes() does: 8 + 8, 4 + 4, then 2 + 2.
    for (int h = 0; h < H; ++h) {
      for (int i = 0; i < 8; ++i) lanes[h][i] = _mm512_add_ps(lanes[h][i + 8], lanes[h][i]);
      for (int i = 0; i < 4; ++i) lanes[h][i] = _mm512_add_ps(lanes[h][i + 4], lanes[h][i]);
      const __m512 sum = _mm512_add_ps(_mm512_add_ps(lanes[h][0], lanes[h][2]), _mm512_add_ps(lanes[h][1], lanes[h][3]));
      _mm512_storeu_ps(out + h * head_dim + d, sum);
    }
  }
}

template <int H>
void attend_simd(const float* q, int head_dim, const KvHeadView& kv, int n_positions, float scale, float* scratch,
                 float* out) {
  const bool f16_cache = kv.type == DType::F16;
  float* scores = scratch;
  const uint8_t** value_rows = reinterpret_cast<const uint8_t**>(scratch + attend_scores_size(H, n_positions));

  // Pass 1: scores[h][p] = softmax(q[h] . k[p] * scale).
  alignas(64) float queries[H * kMaxHeadDim];
  for (int i = 0; i < H * head_dim; i += kLanes) {
    const __m512 query = _mm512_loadu_ps(q + i);
    _mm512_store_ps(queries + i, f16_cache ? round_f16_x16(query) : query);
  }
  score_keys_simd<H>(queries, head_dim, kv, n_positions, scale, scores, value_rows);
  for (int h = 0; h < H; ++h) softmax_simd(scores + static_cast<size_t>(h) * n_positions, n_positions, f16_cache);

  // Pass 2: out[h] = sum over p of scores[h][p] * v[p].
  sum_weighted_values<H>(scores, head_dim, kv.type, n_positions, value_rows, out);
}

// attend_simd<H> for a head count known only at run time, 1 <= n_query_heads <= 8.
void attend_simd_dispatch(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions,
                          float scale, float* scratch, float* out) {
  switch (n_query_heads) {
    case 1: return attend_simd<1>(q, head_dim, kv, n_positions, scale, scratch, out);
    case 2: return attend_simd<2>(q, head_dim, kv, n_positions, scale, scratch, out);
    case 3: return attend_simd<3>(q, head_dim, kv, n_positions, scale, scratch, out);
    case 4: return attend_simd<4>(q, head_dim, kv, n_positions, scale, scratch, out);
    case 5: return attend_simd<5>(q, head_dim, kv, n_positions, scale, scratch, out);
    case 6: return attend_simd<6>(q, head_dim, kv, n_positions, scale, scratch, out);
    case 7: return attend_simd<7>(q, head_dim, kv, n_positions, scale, scratch, out);
    default: return attend_simd<8>(q, head_dim, kv, n_positions, scale, scratch, out);
  }
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

size_t attend_scratch_size(int n_query_heads, int /*head_dim*/, int max_positions) {
  // The scores, then one value row pointer per position.
  const size_t floats_per_pointer = (sizeof(const uint8_t*) + sizeof(float) - 1) / sizeof(float);
  return attend_scores_size(n_query_heads, max_positions) + floats_per_pointer * static_cast<size_t>(max_positions);
}

void attend(const float* q, int n_query_heads, int head_dim, const KvHeadView& kv, int n_positions, float scale,
            float* scratch, float* out) {
#if defined(__AVX512F__)
  if (kv.type != DType::Q8_0 && head_dim % kStep == 0 && head_dim <= kMaxHeadDim && n_query_heads <= 8) {
    attend_simd_dispatch(q, n_query_heads, head_dim, kv, n_positions, scale, scratch, out);
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
