// Tensor element types as numbered by GGUF/ggml, with their block layouts.
// This file only describes types; the kernels that compute with them live in kernels/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kvinfer {

// The ggml type ids stored in GGUF tensor infos. Ids 4, 5, 31-33 and 36-38 were
// removed from ggml and are rejected as unknown.
enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// Storage layout of one type: `block_bytes` bytes hold `block_elements` consecutive
// elements of a row. Rows must be a whole number of blocks.
struct DTypeTraits {
  std::string_view name;
  uint32_t block_elements;
  uint32_t block_bytes;
  bool computable;  // kvinfer has kernels that read this type
};

// Returns the traits of a type id, or nullopt for an id ggml does not define.
std::optional<DTypeTraits> dtype_traits(uint32_t type_id);

// Returns the traits of a known type.
const DTypeTraits& traits_of(DType type);

// Returns the type's name as ggml spells it ("Q4_1", "F16", ...).
std::string_view dtype_name(DType type);

}  // namespace kvinfer
