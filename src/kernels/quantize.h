// Conversions between f32 rows and the block types of tensor/quant_blocks.h.
// Each SIMD routine has a scalar `_reference` twin that tests compare it against.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/quant_blocks.h"

namespace kvinfer {

// Quantizes n floats (n a multiple of 32) into n / 32 activation blocks.
void quantize_row_q8_act(const float* x, BlockQ8Act* y, int64_t n);
void quantize_row_q8_act_reference(const float* x, BlockQ8Act* y, int64_t n);

// Quantizes n floats (n a multiple of 32) into weight blocks; used by tests and the
// q8_0 KV cache.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n);

// Converts n elements of a computable type (F32, F16, BF16, Q8_0, Q4_0, Q4_1) to f32.
// n must be a multiple of the type's block size.
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

}  // namespace kvinfer
