// Sampler: greedy ties, each filter's effect, seeds, and parameter validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "engine/sampler.h"

namespace kvinfer {
namespace {

SamplingParams sampling(float temperature, int top_k, float top_p, float min_p, uint64_t seed = 1) {
  SamplingParams params;
  params.temperature = temperature;
  params.top_k = top_k;
  params.top_p = top_p;
  params.min_p = min_p;
  params.seed = seed;
  return params;
}

std::map<int32_t, int> draw_counts(const SamplingParams& params, const std::vector<float>& logits, int n_draws) {
  Sampler sampler(params, static_cast<int>(logits.size()));
  std::map<int32_t, int> counts;
  for (int i = 0; i < n_draws; ++i) counts[sampler.sample(logits, {}).value]++;
  return counts;
}

TEST(Sampler, GreedyPicksLargestLogitLowestIdOnTie) {
  Sampler sampler(sampling(0.0f, 0, 1.0f, 0.0f), 4);
  std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(sampler.sample(logits, {}).value, 1);
  EXPECT_EQ(argmax(logits).value, 1);
}

TEST(Sampler, GreedyMatchesCandidateOrder) {
  // The greedy path without a penalty skips the candidate list. It must still pick what
  // the candidate order (largest value, then lowest id) picks, NaNs and ties included.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> level(0, 6);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> logits(1 + trial % 37);
    for (float& logit : logits) logit = static_cast<float>(level(rng)) - 3.0f;
    if (trial % 3 == 0) logits[trial % logits.size()] = nan;
    if (trial % 10 == 0) logits[0] = nan;

    std::vector<std::pair<float, int32_t>> candidates;
    for (size_t i = 0; i < logits.size(); ++i) candidates.push_back({logits[i], static_cast<int32_t>(i)});
    auto by_value_descending = [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; };
    const int32_t expected = std::min_element(candidates.begin(), candidates.end(), by_value_descending)->second;

    Sampler sampler(sampling(0.0f, 0, 1.0f, 0.0f), static_cast<int>(logits.size()));
    EXPECT_EQ(sampler.sample(logits, {}).value, expected) << "trial " << trial;
  }
}

TEST(Sampler, TopKOneIsGreedy) {
  std::vector<float> logits = {0.1f, 0.3f, 3.0f, 0.2f};
  auto counts = draw_counts(sampling(1.0f, 1, 1.0f, 0.0f), logits, 200);
  EXPECT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[2], 200);
}

TEST(Sampler, TopKKeepsOnlyKTokens) {
  std::vector<float> logits = {1.0f, 1.1f, 1.2f, 1.3f, 1.4f};
  auto counts = draw_counts(sampling(1.0f, 2, 1.0f, 0.0f), logits, 2000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[3], 0);
  EXPECT_GT(counts[4], 0);
}

TEST(Sampler, TopPDropsTail) {
  // Probabilities about 0.64, 0.24, 0.09, 0.03: top_p 0.8 keeps the first two.
  std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  auto counts = draw_counts(sampling(1.0f, 0, 0.8f, 0.0f), logits, 2000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_EQ(counts.count(3), 0u);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  std::vector<float> logits = {3.0f, 2.9f, 0.0f, -1.0f};
  auto counts = draw_counts(sampling(1.0f, 0, 1.0f, 0.2f), logits, 2000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.count(2), 0u);
}

TEST(Sampler, TemperatureSharpensDistribution) {
  std::vector<float> logits = {1.0f, 0.0f};
  auto hot = draw_counts(sampling(2.0f, 0, 1.0f, 0.0f), logits, 4000);
  auto cold = draw_counts(sampling(0.25f, 0, 1.0f, 0.0f), logits, 4000);
  EXPECT_GT(cold[0], hot[0]);
  EXPECT_GT(hot[1], 0);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
  Sampler first(sampling(1.0f, 0, 1.0f, 0.0f, 42), 6);
  Sampler second(sampling(1.0f, 0, 1.0f, 0.0f, 42), 6);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(first.sample(logits, {}), second.sample(logits, {})) << "draw " << i;
}

TEST(Sampler, RepetitionPenaltyAvoidsRecentToken) {
  SamplingParams params = sampling(0.0f, 0, 1.0f, 0.0f);
  params.repetition_penalty = 2.0f;
  Sampler sampler(params, 3);
  std::vector<float> logits = {2.0f, 1.5f, 0.0f};
  std::vector<TokenId> history = {TokenId{0}};
  EXPECT_EQ(sampler.sample(logits, history).value, 1);
  EXPECT_EQ(sampler.sample(logits, {}).value, 0);
}

TEST(Sampler, ValidateRejectsOutOfRangeValues) {
  EXPECT_EQ(validate(SamplingParams{}), "");
  EXPECT_NE(validate(sampling(-1.0f, 0, 1.0f, 0.0f)), "");
  EXPECT_NE(validate(sampling(1.0f, -1, 1.0f, 0.0f)), "");
  EXPECT_NE(validate(sampling(1.0f, 0, 0.0f, 0.0f)), "");
  EXPECT_NE(validate(sampling(1.0f, 0, 1.5f, 0.0f)), "");
  EXPECT_NE(validate(sampling(1.0f, 0, 1.0f, 2.0f)), "");
  EXPECT_NE(validate(sampling(std::numeric_limits<float>::quiet_NaN(), 0, 1.0f, 0.0f)), "");
}

}  // namespace
}  // namespace kvinfer
