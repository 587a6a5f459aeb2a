// Picks the next token from logits: repetition penalty, then greedy or top-k -> top-p ->
// min-p -> temperature -> a draw from a seeded generator (the order llama.cpp's default
// sampler chain uses).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "util/ids.h"

namespace kvinfer {

struct SamplingParams {
  float temperature = 0.8f;  // <= 0 means greedy
  int top_k = 40;            // <= 0 keeps every token
  float top_p = 0.95f;       // >= 1 keeps every token
  float min_p = 0.05f;       // <= 0 keeps every token
  float repetition_penalty = 1.0f;  // 1 disables it
  int repetition_window = 64;       // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

// Validates ranges; returns an empty string when valid, else a one-line message naming
// the parameter and its value.
std::string validate(const SamplingParams& params);

class Sampler {
 public:
  // Allocates candidate storage for n_vocab tokens once.
  Sampler(const SamplingParams& params, int n_vocab);

  // Returns the next token. `logits` has n_vocab entries and is not modified.
  // `history` is the sequence so far (prompt and output), for the repetition penalty.
  TokenId sample(std::span<const float> logits, std::span<const TokenId> history);

 private:
  void apply_repetition_penalty(std::span<const TokenId> history);
  void keep_top_k(int k);
  void softmax_sorted();
  void keep_top_p(float p);
  void keep_min_p(float min_p);
  TokenId draw_with_temperature(float temperature);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // (logit or probability, token)
  size_t n_candidates_ = 0;
  std::vector<float> probabilities_;
};

// Index of the largest logit; ties go to the lowest token id.
TokenId argmax(std::span<const float> logits);

}  // namespace kvinfer
