// SIMD kernels against their scalar references, over many sizes and unaligned inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quantize.h"
#include "tensor/half.h"
#include "util/aligned_allocator.h"

namespace kvinfer {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// Quantizes rows of f32 weights into the byte layout of `type`, at an odd byte offset
// inside `storage` so that SIMD loads are unaligned.
WeightMatrix make_weights(DType type, const std::vector<float>& values, int64_t n_rows, int64_t n_cols,
                          std::vector<uint8_t>& storage) {
  const DTypeTraits& traits = traits_of(type);
  const size_t row_bytes = static_cast<size_t>(n_cols / traits.block_elements) * traits.block_bytes;
  storage.assign(row_bytes * n_rows + 1, 0);
  uint8_t* base = storage.data() + 1;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* src = values.data() + r * n_cols;
    uint8_t* dst = base + r * row_bytes;
    switch (type) {
      case DType::Q4_0: quantize_row_q4_0(src, reinterpret_cast<BlockQ4_0*>(dst), n_cols); break;
      case DType::Q4_1: quantize_row_q4_1(src, reinterpret_cast<BlockQ4_1*>(dst), n_cols); break;
      case DType::Q8_0: quantize_row_q8_0(src, reinterpret_cast<BlockQ8_0*>(dst), n_cols); break;
      case DType::F32: std::memcpy(dst, src, n_cols * sizeof(float)); break;
      case DType::F16:
        for (int64_t j = 0; j < n_cols; ++j) {
          uint16_t h = f32_to_f16(src[j]);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
      default:  // BF16: truncate the f32 bits
        for (int64_t j = 0; j < n_cols; ++j) {
          uint32_t bits;
          std::memcpy(&bits, &src[j], 4);
          uint16_t h = static_cast<uint16_t>(bits >> 16);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
    }
  }
  return WeightMatrix{type, base, n_rows, n_cols, row_bytes};
}

TEST(Quantize, ActivationSimdMatchesReferenceExactly) {
  for (int64_t n : {32, 64, 96, 576, 1536}) {
    std::vector<float> x = random_floats(n + 1, n, 3.0f);
    std::vector<BlockQ8Act> simd(n / 32), reference(n / 32);
    quantize_row_q8_act(x.data() + 1, simd.data(), n);  // unaligned input
    quantize_row_q8_act_reference(x.data() + 1, reference.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
      EXPECT_EQ(simd[b].d, reference[b].d) << "n=" << n << " block " << b;
      EXPECT_EQ(simd[b].s, reference[b].s) << "n=" << n << " block " << b;
      EXPECT_EQ(0, std::memcmp(simd[b].qs, reference[b].qs, 32)) << "n=" << n << " block " << b;
    }
  }
}

TEST(Quantize, ZeroBlockQuantizesToZero) {
  std::vector<float> x(64, 0.0f);
  std::vector<BlockQ8Act> q(2);
  quantize_row_q8_act(x.data(), q.data(), 64);
  EXPECT_EQ(q[0].d, 0.0f);
  EXPECT_EQ(q[1].s, 0.0f);
  for (int8_t v : q[0].qs) EXPECT_EQ(v, 0);
}

TEST(Quantize, DequantizeRoundTripsWithinStep) {
  std::vector<float> x = random_floats(256, 7);
  for (DType type : {DType::Q4_0, DType::Q4_1, DType::Q8_0, DType::F16, DType::F32, DType::BF16}) {
    std::vector<uint8_t> storage;
    WeightMatrix w = make_weights(type, x, 1, 256, storage);
    std::vector<float> back(256);
    dequantize_row(type, w.data, back.data(), 256);
    float tolerance = type == DType::Q4_0 || type == DType::Q4_1 ? 0.6f : 0.05f;
    for (int j = 0; j < 256; ++j) EXPECT_NEAR(back[j], x[j], tolerance) << dtype_name(type) << " element " << j;
  }
}

TEST(Half, ConversionMatchesHardwareForManyValues) {
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; ++i) {
    uint16_t h = static_cast<uint16_t>(rng());
    float f = f16_to_f32_scalar(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16_scalar(f), h) << "bits " << h;
    EXPECT_EQ(f, f16_to_f32(h)) << "bits " << h;
  }
  for (float f : {0.0f, -0.0f, 1e-8f, 6.1e-5f, 65504.0f, 65520.0f, 1e6f, -3.14159f, 5.96e-8f, 2.98e-8f}) {
    EXPECT_EQ(f32_to_f16_scalar(f), f32_to_f16(f)) << "value " << f;
  }
}

class MatmulTest : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulTest, SimdMatchesReferenceOverSizes) {
  const DType type = GetParam();
  ThreadPool pool(2);
  for (int64_t n_cols : {32, 64, 160, 576}) {
    for (int64_t n_rows : {1, 3, 4, 5, 17, 64}) {
      for (int64_t n_tokens : {1, 2, 4, 5, 9, 16, 33}) {
        std::vector<uint8_t> storage;
        WeightMatrix w = make_weights(type, random_floats(n_rows * n_cols, n_rows * 31 + n_cols), n_rows, n_cols, storage);
        std::vector<float> x = random_floats(n_tokens * n_cols + 1, n_tokens);
        std::vector<BlockQ8Act> q8(n_tokens * n_cols / 32);
        quantize_activations(x.data() + 1, q8.data(), n_tokens, n_cols, pool);
        ActivationBatch batch{x.data() + 1, q8.data(), n_tokens, n_cols};

        std::vector<float> y(n_tokens * n_rows);
        matmul(w, batch, y.data(), pool);
        float largest_difference = 0.0f;
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < n_rows; ++r) {
            float expected = matmul_reference_dot(w, batch, r, t);
            float difference = std::fabs(y[t * n_rows + r] - expected);
            largest_difference = std::max(largest_difference, difference / (1.0f + std::fabs(expected)));
          }
        }
        EXPECT_LT(largest_difference, 1e-4f) << dtype_name(type) << " rows=" << n_rows << " cols=" << n_cols
                                             << " tokens=" << n_tokens;
      }
    }
  }
}

TEST_P(MatmulTest, TokenResultIndependentOfBatch) {
  const DType type = GetParam();
  ThreadPool pool(2);
  const int64_t n_rows = 37, n_cols = 96;
  std::vector<uint8_t> storage;
  WeightMatrix w = make_weights(type, random_floats(n_rows * n_cols, 11), n_rows, n_cols, storage);
  // 19 tokens: two 8-token tiles, a 4-token tile and 3 single tokens. 75 tokens: nine
  // 8-token tiles, enough for the lane-major tiles, and 3 single tokens.
  for (int64_t n_tokens : {19, 75}) {
    std::vector<float> x = random_floats(n_tokens * n_cols, 12);
    std::vector<BlockQ8Act> q8(n_tokens * n_cols / 32);
    quantize_activations(x.data(), q8.data(), n_tokens, n_cols, pool);

    std::vector<float> batched(n_tokens * n_rows);
    matmul(w, ActivationBatch{x.data(), q8.data(), n_tokens, n_cols}, batched.data(), pool);
    for (int64_t t = 0; t < n_tokens; ++t) {
      std::vector<float> alone(n_rows);
      matmul(w, ActivationBatch{x.data() + t * n_cols, q8.data() + t * n_cols / 32, 1, n_cols}, alone.data(), pool);
      for (int64_t r = 0; r < n_rows; ++r) {
        ASSERT_EQ(alone[r], batched[t * n_rows + r]) << dtype_name(type) << " tokens=" << n_tokens << " token " << t
                                                     << " row " << r;
      }
    }
  }
}

TEST_P(MatmulTest, PairedActivationsMatchOwnCopy) {
  const DType type = GetParam();
  ThreadPool pool(2);
  const int64_t n_rows = 37, n_cols = 96;
  std::vector<uint8_t> storage;
  WeightMatrix w = make_weights(type, random_floats(n_rows * n_cols, 13), n_rows, n_cols, storage);
  for (int64_t n_tokens : {1, 7, 8, 9, 16, 19, 33, 40}) {
    std::vector<float> x = random_floats(n_tokens * n_cols, 14);
    std::vector<BlockQ8Act> q8(n_tokens * n_cols / 32), paired_q8(n_tokens * n_cols / 32);
    std::vector<uint8_t, AlignedAllocator<uint8_t>> paired(paired_activations_bytes(n_tokens, n_cols));
    PairedActivationBlock* paired_blocks = paired.empty() ? nullptr : reinterpret_cast<PairedActivationBlock*>(paired.data());
    quantize_activations(x.data(), q8.data(), n_tokens, n_cols, pool);
    quantize_activations(x.data(), paired_q8.data(), n_tokens, n_cols, pool, paired_blocks);

    std::vector<float> own(n_tokens * n_rows), given(n_tokens * n_rows);
    matmul(w, ActivationBatch{x.data(), q8.data(), n_tokens, n_cols}, own.data(), pool);
    matmul(w, ActivationBatch{x.data(), paired_q8.data(), n_tokens, n_cols, paired_blocks}, given.data(), pool);
    for (int64_t i = 0; i < n_tokens * n_rows; ++i) {
      ASSERT_EQ(own[i], given[i]) << dtype_name(type) << " tokens=" << n_tokens << " output " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatmulTest,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q8_0, DType::F32, DType::F16, DType::BF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

class AttentionTest : public ::testing::TestWithParam<DType> {};

TEST_P(AttentionTest, SimdMatchesReferenceOverLengths) {
  const DType type = GetParam();
  const int block_size = 16;
  const int n_blocks = 14;
  std::vector<int32_t> table = {5, 2, 7, 0, 1, 3, 6, 4, 13, 8, 12, 9, 11, 10};

  for (int head_dim : {64, 128}) {
    const size_t row_bytes = kv_row_bytes(type, head_dim);
    const size_t head_bytes = row_bytes * block_size;
    const size_t block_bytes = 2 * head_bytes;  // one layer, one KV head: K then V
    std::vector<uint8_t> pool(block_bytes * n_blocks + 3);
    uint8_t* base = pool.data() + 3;  // unaligned rows

    std::vector<float> kv_values = random_floats(2 * n_blocks * block_size * head_dim, 21);
    for (int pos = 0; pos < n_blocks * block_size; ++pos) {
      uint8_t* block = base + table[pos / block_size] * block_bytes;
      store_kv_row(type, &kv_values[pos * head_dim], block + (pos % block_size) * row_bytes, head_dim);
      store_kv_row(type, &kv_values[(n_blocks * block_size + pos) * head_dim],
                   block + head_bytes + (pos % block_size) * row_bytes, head_dim);
    }
    KvHeadView view{base, block_bytes, table.data(), block_size, type, row_bytes, 0, head_bytes};

    for (int n_heads : {1, 2, 3, 8}) {
      std::vector<float> q = random_floats(n_heads * head_dim, 22 + n_heads);
      for (int n_positions : {1, 2, 15, 16, 17, 33, 63, 64, 65, 100, 127, 128, 129, 191, 192, 193, 224}) {
        std::vector<float> scratch(attend_scratch_size(n_heads, head_dim, n_positions) + 16);
        float* aligned_scratch = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
        std::vector<float> out(n_heads * head_dim), expected(n_heads * head_dim);
        attend(q.data(), n_heads, head_dim, view, n_positions, 0.125f, aligned_scratch, out.data());
        attend_reference(q.data(), n_heads, head_dim, view, n_positions, 0.125f, expected.data());
        for (int j = 0; j < n_heads * head_dim; ++j) {
          // Both paths sum in the same order, so they agree exactly.
          ASSERT_EQ(out[j], expected[j]) << dtype_name(type) << " head_dim=" << head_dim << " heads=" << n_heads
                                         << " positions=" << n_positions << " element " << j;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KvTypes, AttentionTest, ::testing::Values(DType::F32, DType::F16, DType::Q8_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Ops, RmsNormOfConstantRowIsWeight) {
  std::vector<float> x(8, 3.0f), weight = {1, 2, 3, 4, 5, 6, 7, 8}, y(8);
  rms_norm(x.data(), weight.data(), y.data(), 8, 0.0f);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(y[i], weight[i], 1e-6f);
}

TEST(Ops, RopeLayoutsRotateTheirPairs) {
  // theta_scale 0.5: pair 0 rotates by pos, pair 1 by pos / 2.
  std::vector<float> adjacent = {1, 0, 1, 0};
  rope(adjacent.data(), 1, 4, 4, 0.5f, nullptr, 1.0f, RopeLayout::Adjacent);
  EXPECT_NEAR(adjacent[0], std::cos(1.0f), 1e-6f);
  EXPECT_NEAR(adjacent[1], std::sin(1.0f), 1e-6f);
  EXPECT_NEAR(adjacent[2], std::cos(0.5f), 1e-6f);
  EXPECT_NEAR(adjacent[3], std::sin(0.5f), 1e-6f);

  std::vector<float> half_split = {1, 1, 0, 0};
  rope(half_split.data(), 1, 4, 4, 0.5f, nullptr, 1.0f, RopeLayout::HalfSplit);
  EXPECT_NEAR(half_split[0], std::cos(1.0f), 1e-6f);
  EXPECT_NEAR(half_split[2], std::sin(1.0f), 1e-6f);
  EXPECT_NEAR(half_split[1], std::cos(0.5f), 1e-6f);
  EXPECT_NEAR(half_split[3], std::sin(0.5f), 1e-6f);
}

TEST(ThreadPool, ParallelForCoversRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 5, 100, 1001}) {
    std::vector<int> hits(n, 0);
    pool.parallel_for(n, 4, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[i]++;
    });
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i], 1) << "n=" << n << " index " << i;
  }
}

}  // namespace
}  // namespace kvinfer
