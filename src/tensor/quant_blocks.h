// Byte layouts of the quantized blocks kvinfer computes with. The weight blocks match
// ggml's (ggml-common.h) so GGUF tensor data is used in place, without conversion.
#pragma once

#include <cstdint>

namespace kvinfer {

constexpr int kQuantBlock = 32;  // elements per block of every type below

// Q4_0: value = d * (q - 8), q in [0, 15]. qs[j] stores element j in its low nibble and
// element j + 16 in its high nibble.
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: value = d * q + m, q in [0, 15]; nibbles packed as in Q4_0.
struct BlockQ4_1 {
  uint16_t d;  // f16
  uint16_t m;  // f16
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q8_0: value = d * q, q in [-127, 127].
struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[kQuantBlock];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Activations quantized for integer dot products with the weight blocks above:
// value = d * q, and s = d * sum(q) so offset terms (Q4_1's m, Q4_0's -8) cost one
// multiply per block. d and s are rounded to f16 precision as in ggml's Q8_1, but kept
// as f32 so kernels need no conversion. Not a GGUF type; it lives only in scratch memory.
struct BlockQ8Act {
  float d;
  float s;
  int8_t qs[kQuantBlock];
};
static_assert(sizeof(BlockQ8Act) == 40);

}  // namespace kvinfer
