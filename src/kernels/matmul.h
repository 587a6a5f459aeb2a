// Matrix products of a weight matrix with a batch of activation rows:
//   y[t, r] = dot(W[r, :], x[t, :])   for t in [0, n_tokens), r in [0, n_rows)
// Quantized weights (Q4_0, Q4_1, Q8_0) multiply activations quantized to BlockQ8Act
// with integer dot products; float weights (F32, F16, BF16) multiply f32 activations.
// Each output is computed by the same sequence of operations whatever the batch size or
// tile it falls in, so a token's result does not depend on what it is batched with.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/quant_blocks.h"
#include "util/thread_pool.h"

namespace kvinfer {

// A row-major weight matrix in GGUF layout: n_rows rows of n_cols elements.
struct WeightMatrix {
  DType type;
  const void* data;
  int64_t n_rows;
  int64_t n_cols;
  size_t row_bytes;

  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * row_bytes; }
};

// The quantized activations of 8 consecutive tokens for one block, interleaved in the
// layout the 512-bit kernels read. Defined in matmul.cpp.
struct PairedActivationBlock;

// A batch of activation rows, in f32 and, for quantized weights, in BlockQ8Act.
struct ActivationBatch {
  const float* f32;       // [n_tokens, n_cols]
  const BlockQ8Act* q8;   // [n_tokens, n_cols / 32], or null when only float weights are used
  int64_t n_tokens;
  int64_t n_cols;
  // [n_tokens / 8, n_cols / 32], the same values as q8, as quantize_activations() stores
  // them. When null, each matmul call builds its own copy from q8.
  const PairedActivationBlock* paired = nullptr;
};

// True when `type` multiplies quantized activations (ActivationBatch::q8 must be set).
bool uses_q8_activations(DType type);

// Bytes (a multiple of 64) of the PairedActivationBlock array for a batch of n_tokens x
// n_cols activations; 0 where the 512-bit kernels are not compiled.
size_t paired_activations_bytes(int64_t n_tokens, int64_t n_cols);

// Quantizes a batch of f32 rows [n_tokens, n_cols] into BlockQ8Act rows, in parallel.
// With `paired` (64-byte aligned, paired_activations_bytes() long), also stores the
// interleaved copy there, so matmul calls on this batch need not build it.
void quantize_activations(const float* x, BlockQ8Act* q8, int64_t n_tokens, int64_t n_cols, ThreadPool& pool,
                          PairedActivationBlock* paired = nullptr);

// y: [n_tokens, n_rows]. Splits the weight rows over the pool's threads.
void matmul(const WeightMatrix& w, const ActivationBatch& x, float* y, ThreadPool& pool);

// Same product restricted to weight rows [row_begin, row_end), single-threaded.
void matmul_rows(const WeightMatrix& w, const ActivationBatch& x, float* y, int64_t row_begin, int64_t row_end);

// Scalar reference of one output: dot(W[row, :], x[token, :]).
float matmul_reference_dot(const WeightMatrix& w, const ActivationBatch& x, int64_t row, int64_t token);

}  // namespace kvinfer
