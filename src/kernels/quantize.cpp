// Row quantization and dequantization. Rounding is to nearest, ties to even, in both the
// SIMD and the scalar path, so the two agree bit for bit.
#include "kernels/quantize.h"

#include "util/simd.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kernels/simd_reduce.h"
#include "tensor/half.h"

namespace kvinfer {
namespace {

float max_abs(const float* x, int n) {
  float result = 0.0f;
  for (int j = 0; j < n; ++j) result = std::max(result, std::fabs(x[j]));
  return result;
}

// ggml stores these scales as f16 (block_q8_1); rounding them the same way keeps kvinfer's
// logits closest to llama.cpp's, at no measurable cost in accuracy.
float round_to_f16(float value) { return f16_to_f32(f32_to_f16(value)); }

}  // namespace

void quantize_row_q8_act_reference(const float* x, BlockQ8Act* y, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = max_abs(xb, kQuantBlock);
    float d = amax / 127.0f;
    float inverse = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < kQuantBlock; ++j) {
      int q = static_cast<int>(std::nearbyint(xb[j] * inverse));
      y[b].qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    y[b].d = round_to_f16(d);
    y[b].s = round_to_f16(d * static_cast<float>(sum));
  }
}

void quantize_row_q8_act(const float* x, BlockQ8Act* y, int64_t n) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
  const __m512 sign_mask = _mm512_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    __m512 lo = _mm512_loadu_ps(xb);
    __m512 hi = _mm512_loadu_ps(xb + 16);

    // d = max |x| / 127, and 127 / max |x| as the multiplier (as ggml computes it), exactly
    // as the scalar path does.
    __m512 abs_max = _mm512_max_ps(_mm512_andnot_ps(sign_mask, lo), _mm512_andnot_ps(sign_mask, hi));
    float amax = simd::reduce_max(abs_max);
    float d = amax / 127.0f;
    float inverse = amax != 0.0f ? 127.0f / amax : 0.0f;

    // Round to nearest even, convert to int32, narrow to int8.
    __m512 scale = _mm512_set1_ps(inverse);
    __m512i q_lo = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(lo, scale), _MM_FROUND_TO_NEAREST_INT));
    __m512i q_hi = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(hi, scale), _MM_FROUND_TO_NEAREST_INT));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs), _mm512_cvtepi32_epi8(q_lo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16), _mm512_cvtepi32_epi8(q_hi));

    int sum = simd::reduce_add(_mm512_add_epi32(q_lo, q_hi));
    y[b].d = round_to_f16(d);
    y[b].s = round_to_f16(d * static_cast<float>(sum));
  }
#else
  quantize_row_q8_act_reference(x, y, n);
#endif
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float d = max_abs(xb, kQuantBlock) / 127.0f;
    float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) y[b].qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * inverse));
    y[b].d = f32_to_f16(d);
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;

    // The value of largest magnitude maps to -8, as ggml does, so its sign is kept.
    float extreme = 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) {
      if (std::fabs(xb[j]) > std::fabs(extreme)) extreme = xb[j];
    }
    float d = extreme / -8.0f;
    float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      int q_lo = std::clamp(static_cast<int>(std::nearbyint(xb[j] * inverse)) + 8, 0, 15);
      int q_hi = std::clamp(static_cast<int>(std::nearbyint(xb[j + 16] * inverse)) + 8, 0, 15);
      y[b].qs[j] = static_cast<uint8_t>(q_lo | (q_hi << 4));
    }
    y[b].d = f32_to_f16(d);
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float lowest = *std::min_element(xb, xb + kQuantBlock);
    float highest = *std::max_element(xb, xb + kQuantBlock);
    float d = (highest - lowest) / 15.0f;
    float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      int q_lo = std::clamp(static_cast<int>(std::nearbyint((xb[j] - lowest) * inverse)), 0, 15);
      int q_hi = std::clamp(static_cast<int>(std::nearbyint((xb[j + 16] - lowest) * inverse)), 0, 15);
      y[b].qs[j] = static_cast<uint8_t>(q_lo | (q_hi << 4));
    }
    y[b].d = f32_to_f16(d);
    y[b].m = f32_to_f16(lowest);
  }
}

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case DType::F32: {
      const float* x = static_cast<const float*>(src);
      std::copy(x, x + n, dst);
      return;
    }
    case DType::F16: {
      const uint16_t* x = static_cast<const uint16_t*>(src);
      for (int64_t j = 0; j < n; ++j) dst[j] = f16_to_f32(x[j]);
      return;
    }
    case DType::BF16: {
      const uint16_t* x = static_cast<const uint16_t*>(src);
      for (int64_t j = 0; j < n; ++j) dst[j] = bf16_to_f32(x[j]);
      return;
    }
    case DType::Q8_0: {
      const BlockQ8_0* x = static_cast<const BlockQ8_0*>(src);
      for (int64_t b = 0; b < n / kQuantBlock; ++b) {
        float d = f16_to_f32(x[b].d);
        for (int j = 0; j < kQuantBlock; ++j) dst[b * kQuantBlock + j] = d * x[b].qs[j];
      }
      return;
    }
    case DType::Q4_0: {
      const BlockQ4_0* x = static_cast<const BlockQ4_0*>(src);
      for (int64_t b = 0; b < n / kQuantBlock; ++b) {
        float d = f16_to_f32(x[b].d);
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          dst[b * kQuantBlock + j] = d * ((x[b].qs[j] & 0xf) - 8);
          dst[b * kQuantBlock + j + 16] = d * ((x[b].qs[j] >> 4) - 8);
        }
      }
      return;
    }
    case DType::Q4_1: {
      const BlockQ4_1* x = static_cast<const BlockQ4_1*>(src);
      for (int64_t b = 0; b < n / kQuantBlock; ++b) {
        float d = f16_to_f32(x[b].d);
        float m = f16_to_f32(x[b].m);
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          dst[b * kQuantBlock + j] = d * (x[b].qs[j] & 0xf) + m;
          dst[b * kQuantBlock + j + 16] = d * (x[b].qs[j] >> 4) + m;
        }
      }
      return;
    }
    default:
      std::abort();  // callers check DTypeTraits::computable before reaching here
  }
}

}  // namespace kvinfer
