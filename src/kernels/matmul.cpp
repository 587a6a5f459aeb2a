// Tiled integer matmul kernels for Q4_0, Q4_1 and Q8_0 weights, and float kernels for
// F32, F16 and BF16 weights, each with a scalar reference.
//
// A tile computes R weight rows x C tokens. Per 32-element block it unpacks each weight
// row once and each activation block once, and does R*C integer dot products (VNNI
// vpdpbusd where available, else vpmaddubsw + vpmaddwd), so every weight byte loaded is
// reused for C tokens. This is what makes prompt processing compute-bound rather than
// bandwidth-bound.
#include "kernels/matmul.h"

#include "util/simd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/quantize.h"
#include "kernels/simd_reduce.h"
#include "tensor/half.h"

namespace kvinfer {
namespace {

constexpr int kTileRows = 4;
constexpr int kTileTokens = 4;
constexpr int kTilePairs = 4;  // token pairs per 512-bit tile: 8 tokens

#if defined(__AVX2__) && defined(__FMA__)
#define KVINFER_MATMUL_SIMD 1

// 32 unsigned x 32 signed bytes -> 8 int32 sums of 4 adjacent products.
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  // Pair sums stay below 2 * 128 * 127 = 32512, so vpmaddubsw never saturates here.
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

inline float horizontal_sum(__m256 v) { return simd::reduce_add(v); }

// 16 packed bytes -> 32 nibbles: element j in lane j, element j + 16 in lane j + 16.
inline __m256i unpack_nibbles(const uint8_t* packed_bytes) {
  __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed_bytes));
  __m128i mask = _mm_set1_epi8(0x0f);
  __m128i low = _mm_and_si128(packed, mask);
  __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
  return _mm256_set_m128i(high, low);
}

// Per weight type: how to unpack a block, the integer dot with an activation block, and
// the per-block offset term (0 for Q8_0). Q4_0 and Q4_1 unpack and multiply alike. The
// 512-bit tile takes weights as pack() stores them, and each integer dot of a token pair
// starts from pair_start() of the pair's activation bytes.
template <typename BlockType>
struct NibbleKernel {
  using Block = BlockType;
  static constexpr bool kHasOffset = true;
  static constexpr bool kSignedWeights = false;
  static __m256i unpack(const Block& b) { return unpack_nibbles(b.qs); }
  static __m256i dot(__m256i w, __m256i a) { return dot_u8_s8(w, a); }
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  static __m256i pack(const Block& b) { return unpack(b); }
  static __m512i pair_start(__m512i /*a*/) { return _mm512_setzero_si512(); }
  static __m512i dot_pair(__m512i start, __m512i w, __m512i a) { return _mm512_dpbusd_epi32(start, w, a); }
#endif
};

struct Q4_1Kernel : NibbleKernel<BlockQ4_1> {
  // The block's contribution beyond d * dot is coefficient * (activation block's s).
  static float offset_coefficient(const Block& b, float /*d*/) { return f16_to_f32(b.m); }
};

struct Q4_0Kernel : NibbleKernel<BlockQ4_0> {
  static float offset_coefficient(const Block& /*b*/, float d) { return -8.0f * d; }
};

struct Q8_0Kernel {
  using Block = BlockQ8_0;
  static constexpr bool kHasOffset = false;
  static constexpr bool kSignedWeights = true;
  static __m256i unpack(const Block& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
  // Signed x signed through the unsigned x signed instruction: |w| * (a with w's sign).
  static __m256i dot(__m256i w, __m256i a) { return dot_u8_s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)); }
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  // Packed weights are w + 128, which fits an unsigned byte, and each lane starts from
  // -128 * (sum of its 4 activations), so vpdpbusd yields sum(w * a) in one instruction.
  // Those are the integers of dot(), whose vpsignb negation is exact because
  // quantize_row_q8_act() keeps finite activations in [-127, 127].
  static __m256i pack(const Block& b) { return _mm256_xor_si256(unpack(b), _mm256_set1_epi8(static_cast<char>(0x80))); }
  static __m512i pair_start(__m512i a) {
    const __m512i scaled_sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(0x80)), a);
    return _mm512_sub_epi32(_mm512_setzero_si512(), scaled_sums);
  }
  static __m512i dot_pair(__m512i start, __m512i w, __m512i a) { return _mm512_dpbusd_epi32(start, w, a); }
#endif
  static float offset_coefficient(const Block&, float) { return 0.0f; }
};

// One block per step on 256-bit registers. Each output accumulates, per block, the 8
// lanes of (d_w * d_a) * dot by FMA and sums the offset terms separately. The lanes are
// added pairwise at the end. That is the order of ggml's vec_dot_q4_1_q8_1 and
// vec_dot_q8_0_q8_0 on x86, so with the same activation quantization the logits match
// llama.cpp's exactly. A 512-bit variant that reordered the sums was faster, but lost
// that match; attention.cpp explains why the order matters for a low-bit model.
template <typename Kernel, int R, int C>
void quantized_tile(const WeightMatrix& w, const ActivationBatch& x, float* y, int64_t row_begin, int64_t token_begin) {
  using Block = typename Kernel::Block;
  const int64_t n_blocks = w.n_cols / kQuantBlock;

  const Block* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = reinterpret_cast<const Block*>(w.row(row_begin + r));
  const BlockQ8Act* acts[C];
  for (int c = 0; c < C; ++c) acts[c] = x.q8 + (token_begin + c) * n_blocks;

  __m256 sums[R][C];
  float offsets[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      sums[r][c] = _mm256_setzero_ps();
      offsets[r][c] = 0.0f;
    }
  }

  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i weights[R];
    float scales[R];
    for (int r = 0; r < R; ++r) {
      weights[r] = Kernel::unpack(rows[r][b]);
      scales[r] = f16_to_f32(rows[r][b].d);
    }
    for (int c = 0; c < C; ++c) {
      const BlockQ8Act& act = acts[c][b];
      __m256i act_bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act.qs));
      for (int r = 0; r < R; ++r) {
        __m256 dot = _mm256_cvtepi32_ps(Kernel::dot(weights[r], act_bytes));
        sums[r][c] = _mm256_fmadd_ps(dot, _mm256_set1_ps(scales[r] * act.d), sums[r][c]);
        if constexpr (Kernel::kHasOffset) offsets[r][c] += Kernel::offset_coefficient(rows[r][b], scales[r]) * act.s;
      }
    }
  }

  for (int c = 0; c < C; ++c) {
    for (int r = 0; r < R; ++r) y[(token_begin + c) * w.n_rows + row_begin + r] = horizontal_sum(sums[r][c]) + offsets[r][c];
  }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#define KVINFER_MATMUL_TOKEN_PAIRS 1

// Weight rows unpacked once for all token tiles of a matmul: per block, the 32 bytes of
// Kernel::pack(), the scale d as f32 and the offset coefficient. The scale and the
// coefficient are exactly those the 256-bit tile computes from the GGUF blocks, and the
// integer dots are equal, so packed and direct tiles agree bit for bit.
struct PackedRows {
  std::vector<uint8_t> bytes;  // [R][n_blocks][32], as Kernel::pack() returns them
  std::vector<float> scales;   // [R][n_blocks]
  std::vector<float> offset_coefficients;  // [R][n_blocks]
  int64_t n_blocks = 0;
};

template <typename Kernel, int R>
void pack_rows(const WeightMatrix& w, int64_t row_begin, PackedRows& packed) {
  using Block = typename Kernel::Block;
  const int64_t n_blocks = w.n_cols / kQuantBlock;
  packed.n_blocks = n_blocks;
  packed.bytes.resize(static_cast<size_t>(R * n_blocks) * 32);
  packed.scales.resize(static_cast<size_t>(R * n_blocks));
  packed.offset_coefficients.resize(static_cast<size_t>(R * n_blocks));
  // Raw pointers, because stores through uint8_t* could alias the vectors' own members
  // and would make the compiler reload them from thread-local storage on every block.
  uint8_t* bytes = packed.bytes.data();
  float* scales = packed.scales.data();
  float* offset_coefficients = packed.offset_coefficients.data();
  for (int r = 0; r < R; ++r) {
    const Block* row = reinterpret_cast<const Block*>(w.row(row_begin + r));
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t i = static_cast<size_t>(r * n_blocks + b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(bytes + i * 32), Kernel::pack(row[b]));
      scales[i] = f16_to_f32(row[b].d);
      offset_coefficients[i] = Kernel::offset_coefficient(row[b], scales[i]);
    }
  }
}

}  // namespace

// One block of the activations of 2 * kTilePairs consecutive tokens, laid out so a tile
// reads each token pair with plain aligned loads instead of inserts and a gather. The
// values are copies of the BlockQ8Act fields.
struct alignas(64) PairedActivationBlock {
  int8_t qs[kTilePairs][2 * kQuantBlock];  // pair p: qs of token 2p, then of token 2p + 1
  float scales[kTilePairs][16];            // pair p: d of token 2p in lanes 0..7, of 2p + 1 in 8..15
  float sums[2 * kTilePairs];              // s of each token
};

namespace {

// Rearranges the activations of tokens [tile_begin * 8, tile_end * 8) into
// paired[tile * n_blocks + block].
void pair_activations(const BlockQ8Act* q8, int64_t n_cols, int64_t tile_begin, int64_t tile_end,
                      PairedActivationBlock* paired) {
  const int64_t n_blocks = n_cols / kQuantBlock;
  PairedActivationBlock* out = paired + tile_begin * n_blocks;
  for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
    for (int64_t b = 0; b < n_blocks; ++b, ++out) {
      for (int c = 0; c < 2 * kTilePairs; ++c) {
        const BlockQ8Act& act = q8[(tile * 2 * kTilePairs + c) * n_blocks + b];
        const int pair = c / 2;
        const int half = c % 2;
        _mm256_store_si256(reinterpret_cast<__m256i*>(&out->qs[pair][half * kQuantBlock]),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act.qs)));
        _mm256_store_ps(&out->scales[pair][half * 8], _mm256_set1_ps(act.d));
        out->sums[c] = act.s;
      }
    }
  }
}

// The tile of quantized_tile<Kernel, R, 2 * P> on 512-bit registers. Each register
// carries the 8 lanes of two tokens side by side, [token 2p | token 2p + 1]. Every lane
// goes through the same operations in the same order as in the 256-bit tile, so the
// results are identical bit for bit. The wider registers only halve the instruction count.
template <typename Kernel, int R, int P>
void quantized_tile_pairs(const WeightMatrix& w, float* y, int64_t row_begin, int64_t token_begin,
                          const PackedRows& packed, const PairedActivationBlock* acts) {
  static_assert(P == kTilePairs, "PairedActivationBlock holds kTilePairs token pairs");
  const int64_t n_blocks = w.n_cols / kQuantBlock;

  __m512 sums[R][P];
  __m256 offsets[R];
  for (int r = 0; r < R; ++r) {
    for (int p = 0; p < P; ++p) sums[r][p] = _mm512_setzero_ps();
    offsets[r] = _mm256_setzero_ps();
  }

  for (int64_t b = 0; b < n_blocks; ++b) {
    __m512i weights[R];
    float scales[R];
    for (int r = 0; r < R; ++r) {
      const size_t i = static_cast<size_t>(r * n_blocks + b);
      weights[r] = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&packed.bytes[i * 32])));
      scales[r] = packed.scales[i];
    }
    const PairedActivationBlock& act = acts[b];
    for (int p = 0; p < P; ++p) {
      const __m512i act_bytes = _mm512_load_si512(act.qs[p]);
      const __m512 act_scales = _mm512_load_ps(act.scales[p]);
      const __m512i start = Kernel::pair_start(act_bytes);
      for (int r = 0; r < R; ++r) {
        __m512 dot = _mm512_cvtepi32_ps(Kernel::dot_pair(start, weights[r], act_bytes));
        sums[r][p] = _mm512_fmadd_ps(dot, _mm512_mul_ps(_mm512_set1_ps(scales[r]), act_scales), sums[r][p]);
      }
    }
    if constexpr (Kernel::kHasOffset) {
      // Lane c: token c's s of this block.
      const __m256 token_sums = _mm256_load_ps(act.sums);
      for (int r = 0; r < R; ++r) {
        __m256 coefficient = _mm256_set1_ps(packed.offset_coefficients[static_cast<size_t>(r * n_blocks + b)]);
        offsets[r] = _mm256_add_ps(offsets[r], _mm256_mul_ps(coefficient, token_sums));
      }
    }
  }

  for (int r = 0; r < R; ++r) {
    alignas(32) float offset_lanes[8];
    _mm256_store_ps(offset_lanes, offsets[r]);
    for (int p = 0; p < P; ++p) {
      const int64_t row = row_begin + r;
      y[(token_begin + 2 * p) * w.n_rows + row] = horizontal_sum(simd::low_half(sums[r][p])) + offset_lanes[2 * p];
      y[(token_begin + 2 * p + 1) * w.n_rows + row] = horizontal_sum(simd::high_half(sums[r][p])) + offset_lanes[2 * p + 1];
    }
  }
}

// Lane-major tiles for large batches of Q4_0 and Q4_1 cover 4 weight rows x 8 tokens.
// Register j holds lane j (elements 4j..4j+3 of each block) of 16 (row, token) outputs,
// and lane i is row i / 4 and token i % 4 of a 4-token group. Each output lane still
// goes through vpdpbusd, conversion, the (d_w * d_a) multiply and the FMA of
// quantized_tile(), block after block, and the 8 lanes are added in
// simd::reduce_add(__m256) order, so results are bit-identical to the other tiles. One
// scale multiply now serves 16 outputs instead of 2, and the final lane sums are vertical
// adds. Packing the rows costs more than for the pair tiles, so this pays off only when
// many token tiles reuse each packed row group.
// 4 weight rows laid out for lane_tile(): per block, 8 vectors of 64 bytes (lane i of
// vector j: bytes 4j..4j+3 of row i / 4), and per lane the row's d and offset coefficient.
struct LaneRows {
  std::vector<uint8_t> bytes;  // [n_blocks][8][64]
  std::vector<float> scales;   // [n_blocks][16]
  std::vector<float> coefs;    // [n_blocks][16]
};

template <typename Kernel>
void pack_lane_rows(const WeightMatrix& w, int64_t row_begin, LaneRows& packed) {
  using Block = typename Kernel::Block;
  const int64_t n_blocks = w.n_cols / kQuantBlock;
  packed.bytes.resize(static_cast<size_t>(n_blocks) * 512);
  packed.scales.resize(static_cast<size_t>(n_blocks) * 16);
  packed.coefs.resize(static_cast<size_t>(n_blocks) * 16);
  uint8_t* bytes = packed.bytes.data();
  float* scales = packed.scales.data();
  float* coefs = packed.coefs.data();
  const Block* rows[4];
  for (int r = 0; r < 4; ++r) rows[r] = reinterpret_cast<const Block*>(w.row(row_begin + r));

  // Lane i of vector j: row i / 4, bytes 4j..4j+3, which is dword 8 * (i / 4) + j of
  // the 4 unpacked rows side by side.
  const __m512i index = _mm512_setr_epi32(0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24);
  for (int64_t b = 0; b < n_blocks; ++b) {
    alignas(64) uint8_t unpacked[4][32];
    float d[4], coefficient[4];
    for (int r = 0; r < 4; ++r) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(unpacked[r]), Kernel::unpack(rows[r][b]));
      d[r] = f16_to_f32(rows[r][b].d);
      coefficient[r] = Kernel::offset_coefficient(rows[r][b], d[r]);
    }
    const __m512i rows_01 = _mm512_load_si512(unpacked[0]);
    const __m512i rows_23 = _mm512_load_si512(unpacked[2]);
    for (int j = 0; j < 8; ++j) {
      const __m512i idx = _mm512_add_epi32(index, _mm512_set1_epi32(j));
      const __m512i v = _mm512_permutex2var_epi32(rows_01, idx, rows_23);
      _mm512_storeu_si512(bytes + b * 512 + j * 64, v);
    }
    for (int i = 0; i < 16; ++i) {
      scales[b * 16 + i] = d[i / 4];
      coefs[b * 16 + i] = coefficient[i / 4];
    }
  }
}

// The activations of 4 consecutive tokens for one block. qs[j] contains bytes 4j..4j+3 of
// each token in turn, so a 128-bit broadcast lines them up with the rows of LaneRows.
struct alignas(32) QuadBlock {
  int8_t qs[8][16];
  float d[4];
  float s[4];
};

// Rearranges the activations of tokens [0, n_groups * 4) into out[group * n_blocks + block].
void quad_activations(const BlockQ8Act* q8, int64_t n_cols, int64_t n_groups, QuadBlock* out) {
  const int64_t n_blocks = n_cols / kQuantBlock;
  for (int64_t g = 0; g < n_groups; ++g) {
    for (int64_t b = 0; b < n_blocks; ++b, ++out) {
      for (int c = 0; c < 4; ++c) {
        const BlockQ8Act& act = q8[(g * 4 + c) * n_blocks + b];
        for (int j = 0; j < 8; ++j) std::memcpy(&out->qs[j][4 * c], act.qs + 4 * j, 4);
        out->d[c] = act.d;
        out->s[c] = act.s;
      }
    }
  }
}

// Computes y for weight rows [row_begin, row_begin + 4) and tokens [token_begin,
// token_begin + 4 * G); quads points at the first group's block 0.
template <int G>
void lane_tile(const WeightMatrix& w, float* y, int64_t row_begin, int64_t token_begin, const LaneRows& packed,
               const QuadBlock* quads, int64_t n_blocks) {
  __m512 sums[G][8];
  __m512 offsets[G];
  for (int g = 0; g < G; ++g) {
    for (int j = 0; j < 8; ++j) sums[g][j] = _mm512_setzero_ps();
    offsets[g] = _mm512_setzero_ps();
  }
  const uint8_t* bytes = packed.bytes.data();
  const float* scales = packed.scales.data();
  const float* coefs = packed.coefs.data();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m512 dw = _mm512_loadu_ps(scales + b * 16);
    const __m512 coefficient = _mm512_loadu_ps(coefs + b * 16);
    __m512 block_scales[G];
    const QuadBlock* q[G];
    for (int g = 0; g < G; ++g) {
      q[g] = quads + g * n_blocks + b;
      block_scales[g] = _mm512_mul_ps(dw, _mm512_broadcast_f32x4(_mm_load_ps(q[g]->d)));
      offsets[g] = _mm512_add_ps(offsets[g], _mm512_mul_ps(coefficient, _mm512_broadcast_f32x4(_mm_load_ps(q[g]->s))));
    }
    for (int j = 0; j < 8; ++j) {
      const __m512i weights = _mm512_loadu_si512(bytes + b * 512 + j * 64);
      for (int g = 0; g < G; ++g) {
        const __m512i acts = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(q[g]->qs[j])));
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), weights, acts));
        sums[g][j] = _mm512_fmadd_ps(dot, block_scales[g], sums[g][j]);
      }
    }
  }
  // Lanes k and k + 4, then (0 + 2) + (1 + 3): the order of simd::reduce_add(__m256).
  for (int g = 0; g < G; ++g) {
    __m512 t[4];
    for (int k = 0; k < 4; ++k) t[k] = _mm512_add_ps(sums[g][k], sums[g][k + 4]);
    const __m512 total = _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3]));
    alignas(64) float out[16];
    _mm512_store_ps(out, _mm512_add_ps(total, offsets[g]));
    for (int i = 0; i < 16; ++i) y[(token_begin + 4 * g + i % 4) * w.n_rows + row_begin + i / 4] = out[i];
  }
}
#endif  // KVINFER_MATMUL_TOKEN_PAIRS

template <typename Kernel>
void quantized_rows(const WeightMatrix& w, const ActivationBatch& x, float* y, int64_t row_begin, int64_t row_end) {
#if defined(KVINFER_MATMUL_TOKEN_PAIRS)
  // Both buffers grow to the largest matrix and batch once, then are reused.
  thread_local PackedRows packed;
  thread_local std::vector<PairedActivationBlock> own_paired;
  const int64_t n_paired_tiles = row_end - row_begin >= kTileRows ? x.n_tokens / (2 * kTilePairs) : 0;
  const PairedActivationBlock* paired = x.paired;
  if (n_paired_tiles > 0 && paired == nullptr) {
    own_paired.resize(static_cast<size_t>(n_paired_tiles * (x.n_cols / kQuantBlock)));
    pair_activations(x.q8, x.n_cols, 0, n_paired_tiles, own_paired.data());
    paired = own_paired.data();
  }

  // Lane-major tiles for nibble weights, once enough token tiles share each packed row
  // group. In a one-core measurement they beat the pair tiles from 128 tokens on and lost
  // at 32, so the cut is 8 tiles (64 tokens): prompt chunks take them, decode batches not.
  thread_local LaneRows lane_rows;
  thread_local std::vector<QuadBlock> quads;
  const bool use_lanes = !Kernel::kSignedWeights && n_paired_tiles >= 8;
  if (use_lanes) {
    quads.resize(static_cast<size_t>(n_paired_tiles * 2 * (x.n_cols / kQuantBlock)));
    quad_activations(x.q8, x.n_cols, n_paired_tiles * 2, quads.data());
  }
#endif

  int64_t r = row_begin;
  for (; r + kTileRows <= row_end; r += kTileRows) {
    int64_t t = 0;
#if defined(KVINFER_MATMUL_TOKEN_PAIRS)
    if (use_lanes) {
      pack_lane_rows<Kernel>(w, r, lane_rows);
      const int64_t n_blocks = w.n_cols / kQuantBlock;
      for (int64_t tile = 0; tile < n_paired_tiles; ++tile, t += 2 * kTilePairs) {
        lane_tile<2>(w, y, r, t, lane_rows, quads.data() + tile * 2 * n_blocks, n_blocks);
      }
    } else if (n_paired_tiles > 0) {
      pack_rows<Kernel, kTileRows>(w, r, packed);
      const int64_t n_blocks = w.n_cols / kQuantBlock;

      // The next tile's weight rows, requested a share per token tile so the requests
      // overlap the arithmetic instead of queueing up at once.
      const char* next_rows = reinterpret_cast<const char*>(w.row(std::min(r + kTileRows, row_end)));
      const int64_t next_bytes = static_cast<int64_t>(w.row_bytes) * (std::min(r + 2 * kTileRows, row_end) - std::min(r + kTileRows, row_end));
      const int64_t share = (next_bytes + n_paired_tiles - 1) / n_paired_tiles;
      for (int64_t tile = 0; tile < n_paired_tiles; ++tile, t += 2 * kTilePairs) {
        for (int64_t offset = tile * share; offset < std::min((tile + 1) * share, next_bytes); offset += 64) {
          asm volatile("prefetcht0 %0" : : "m"(next_rows[offset]));
        }
        quantized_tile_pairs<Kernel, kTileRows, kTilePairs>(w, y, r, t, packed, paired + tile * n_blocks);
      }
    }
#endif
    for (; t + kTileTokens <= x.n_tokens; t += kTileTokens) quantized_tile<Kernel, kTileRows, kTileTokens>(w, x, y, r, t);
    for (; t < x.n_tokens; ++t) quantized_tile<Kernel, kTileRows, 1>(w, x, y, r, t);
  }
  for (; r < row_end; ++r) {
    int64_t t = 0;
    for (; t + kTileTokens <= x.n_tokens; t += kTileTokens) quantized_tile<Kernel, 1, kTileTokens>(w, x, y, r, t);
    for (; t < x.n_tokens; ++t) quantized_tile<Kernel, 1, 1>(w, x, y, r, t);
  }
}

// Eight consecutive weights as f32, for each float weight type.
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p, DType type) {
  __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (type == DType::F16) return _mm256_cvtph_ps(bits);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}

float float_dot(const WeightMatrix& w, int64_t row, const float* x) {
  const int64_t n = w.n_cols;
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  float tail = 0.0f;
  if (w.type == DType::F32) {
    const float* weights = reinterpret_cast<const float*>(w.row(row));
    for (; j + 8 <= n; j += 8) sum = _mm256_fmadd_ps(load8(weights + j), _mm256_loadu_ps(x + j), sum);
    for (; j < n; ++j) tail += weights[j] * x[j];
  } else {
    const uint16_t* weights = reinterpret_cast<const uint16_t*>(w.row(row));
    for (; j + 8 <= n; j += 8) sum = _mm256_fmadd_ps(load8(weights + j, w.type), _mm256_loadu_ps(x + j), sum);
    for (; j < n; ++j) tail += (w.type == DType::F16 ? f16_to_f32(weights[j]) : bf16_to_f32(weights[j])) * x[j];
  }
  return horizontal_sum(sum) + tail;
}

#endif  // AVX2 && FMA

float float_dot_reference(const WeightMatrix& w, int64_t row, const float* x) {
  float sum = 0.0f;
  for (int64_t j = 0; j < w.n_cols; ++j) {
    float weight = 0.0f;
    if (w.type == DType::F32) {
      weight = reinterpret_cast<const float*>(w.row(row))[j];
    } else {
      uint16_t bits = reinterpret_cast<const uint16_t*>(w.row(row))[j];
      weight = w.type == DType::F16 ? f16_to_f32_scalar(bits) : bf16_to_f32(bits);
    }
    sum += weight * x[j];
  }
  return sum;
}

// Integer dot of one weight block with one activation block, in plain C++.
template <typename Block>
int block_int_dot(const Block& b, const BlockQ8Act& a) {
  int sum = 0;
  for (int j = 0; j < kQuantBlock / 2; ++j) {
    sum += (b.qs[j] & 0xf) * a.qs[j];
    sum += (b.qs[j] >> 4) * a.qs[j + 16];
  }
  return sum;
}

template <>
int block_int_dot<BlockQ8_0>(const BlockQ8_0& b, const BlockQ8Act& a) {
  int sum = 0;
  for (int j = 0; j < kQuantBlock; ++j) sum += b.qs[j] * a.qs[j];
  return sum;
}

float quantized_dot_reference(const WeightMatrix& w, int64_t row, const BlockQ8Act* acts) {
  const int64_t n_blocks = w.n_cols / kQuantBlock;
  float sum = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ8Act& a = acts[b];
    if (w.type == DType::Q4_1) {
      const BlockQ4_1& block = reinterpret_cast<const BlockQ4_1*>(w.row(row))[b];
      sum += f16_to_f32_scalar(block.d) * a.d * block_int_dot(block, a) + f16_to_f32_scalar(block.m) * a.s;
    } else if (w.type == DType::Q4_0) {
      const BlockQ4_0& block = reinterpret_cast<const BlockQ4_0*>(w.row(row))[b];
      float d = f16_to_f32_scalar(block.d);
      sum += d * a.d * block_int_dot(block, a) - 8.0f * d * a.s;
    } else {
      const BlockQ8_0& block = reinterpret_cast<const BlockQ8_0*>(w.row(row))[b];
      sum += f16_to_f32_scalar(block.d) * a.d * block_int_dot(block, a);
    }
  }
  return sum;
}

}  // namespace

bool uses_q8_activations(DType type) { return type == DType::Q4_0 || type == DType::Q4_1 || type == DType::Q8_0; }

size_t paired_activations_bytes(int64_t n_tokens, int64_t n_cols) {
#if defined(KVINFER_MATMUL_TOKEN_PAIRS)
  return static_cast<size_t>(n_tokens / (2 * kTilePairs) * (n_cols / kQuantBlock)) * sizeof(PairedActivationBlock);
#else
  (void)n_tokens;
  (void)n_cols;
  return 0;
#endif
}

void quantize_activations(const float* x, BlockQ8Act* q8, int64_t n_tokens, int64_t n_cols, ThreadPool& pool,
                          PairedActivationBlock* paired) {
  const int64_t n_blocks = n_cols / kQuantBlock;
#if defined(KVINFER_MATMUL_TOKEN_PAIRS)
  // Whole 8-token tiles per thread, so each thread pairs the tokens it quantized.
  const int64_t tile_tokens = 2 * kTilePairs;
  pool.parallel_for(n_tokens, paired != nullptr ? tile_tokens : 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) quantize_row_q8_act(x + t * n_cols, q8 + t * n_blocks, n_cols);
    if (paired != nullptr) pair_activations(q8, n_cols, begin / tile_tokens, end / tile_tokens, paired);
  });
#else
  (void)paired;
  pool.parallel_for(n_tokens, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) quantize_row_q8_act(x + t * n_cols, q8 + t * n_blocks, n_cols);
  });
#endif
}

float matmul_reference_dot(const WeightMatrix& w, const ActivationBatch& x, int64_t row, int64_t token) {
  if (uses_q8_activations(w.type)) return quantized_dot_reference(w, row, x.q8 + token * (x.n_cols / kQuantBlock));
  return float_dot_reference(w, row, x.f32 + token * x.n_cols);
}

void matmul_rows(const WeightMatrix& w, const ActivationBatch& x, float* y, int64_t row_begin, int64_t row_end) {
#if defined(KVINFER_MATMUL_SIMD)
  switch (w.type) {
    case DType::Q4_1:
      return quantized_rows<Q4_1Kernel>(w, x, y, row_begin, row_end);
    case DType::Q4_0:
      return quantized_rows<Q4_0Kernel>(w, x, y, row_begin, row_end);
    case DType::Q8_0:
      return quantized_rows<Q8_0Kernel>(w, x, y, row_begin, row_end);
    default:
      for (int64_t t = 0; t < x.n_tokens; ++t) {
        for (int64_t r = row_begin; r < row_end; ++r) y[t * w.n_rows + r] = float_dot(w, r, x.f32 + t * x.n_cols);
      }
      return;
  }
#else
  for (int64_t t = 0; t < x.n_tokens; ++t) {
    for (int64_t r = row_begin; r < row_end; ++r) y[t * w.n_rows + r] = matmul_reference_dot(w, x, r, t);
  }
#endif
}

void matmul(const WeightMatrix& w, const ActivationBatch& x, float* y, ThreadPool& pool) {
  pool.parallel_for(w.n_rows, 4 * kTileRows, [&](int64_t begin, int64_t end) { matmul_rows(w, x, y, begin, end); });
}

}  // namespace kvinfer
