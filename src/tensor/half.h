// IEEE half (f16) and bfloat16 conversions to and from f32.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include "util/simd.h"
#endif

namespace kvinfer {

// Converts f16 bits to f32 without hardware support; the reference for the F16C path.
inline float f16_to_f32_scalar(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);  // inf or nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {
    // Subnormal: shift the mantissa up until its leading one reaches the implicit bit.
    int shift = 0;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | ((113 - shift) << 23) | ((mantissa & 0x3ff) << 13);
  } else {
    bits = sign;
  }
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

// Converts f32 to f16 bits, rounding to nearest even, without hardware support.
inline uint16_t f32_to_f16_scalar(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  uint32_t sign = (bits >> 16) & 0x8000;
  uint32_t abs_bits = bits & 0x7fffffff;
  if (abs_bits >= 0x7f800000) {
    return static_cast<uint16_t>(sign | 0x7c00 | (abs_bits > 0x7f800000 ? 0x200 : 0));
  }
  if (abs_bits >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // overflows to inf
  if (abs_bits < 0x38800000) {
    // Result is subnormal or zero: align the mantissa to 2^-24 units and round.
    if (abs_bits < 0x33000000) return static_cast<uint16_t>(sign);
    uint32_t mantissa = (abs_bits & 0x7fffff) | 0x800000;
    int shift = 126 - static_cast<int>(abs_bits >> 23);
    uint32_t half_ulp = 1u << (shift - 1);
    uint32_t rounded = (mantissa + half_ulp - 1 + ((mantissa >> shift) & 1)) >> shift;
    return static_cast<uint16_t>(sign | rounded);
  }
  uint32_t rounded = abs_bits + 0xfff + ((abs_bits >> 13) & 1);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000) >> 13));
}

inline float f16_to_f32(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return f16_to_f32_scalar(h);
#endif
}

inline uint16_t f32_to_f16(float value) {
#if defined(__F16C__)
  return _cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT);
#else
  return f32_to_f16_scalar(value);
#endif
}

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

}  // namespace kvinfer
