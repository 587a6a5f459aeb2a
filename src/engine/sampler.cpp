// Sampling over a candidate list that shrinks filter by filter; no allocation per call.
#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

namespace kvinfer {
namespace {

bool by_value_descending(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  if (a.first != b.first) return a.first > b.first;
  return a.second < b.second;
}

}  // namespace

std::string validate(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) return fmt::format("invalid temperature {}: must be >= 0", p.temperature);
  if (!std::isfinite(p.top_p) || p.top_p <= 0.0f || p.top_p > 1.0f) return fmt::format("invalid top_p {}: must be in (0, 1]", p.top_p);
  if (!std::isfinite(p.min_p) || p.min_p < 0.0f || p.min_p > 1.0f) return fmt::format("invalid min_p {}: must be in [0, 1]", p.min_p);
  if (p.top_k < 0) return fmt::format("invalid top_k {}: must be >= 0", p.top_k);
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f) {
    return fmt::format("invalid repetition penalty {}: must be > 0", p.repetition_penalty);
  }
  if (p.repetition_window < 0) return fmt::format("invalid repetition window {}: must be >= 0", p.repetition_window);
  return "";
}

TokenId argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return TokenId{static_cast<int32_t>(best)};
}

Sampler::Sampler(const SamplingParams& params, int n_vocab)
    : params_(params), rng_(params.seed), candidates_(n_vocab), probabilities_(n_vocab) {}

TokenId Sampler::sample(std::span<const float> logits, std::span<const TokenId> history) {
  // Greedy without a penalty needs no candidate list. argmax() picks what the min_element
  // below would: the largest logit, the lowest id on ties, and a NaN only at index 0.
  if (params_.temperature <= 0.0f && params_.repetition_penalty == 1.0f && !logits.empty()) return argmax(logits);

  n_candidates_ = logits.size();
  for (size_t i = 0; i < n_candidates_; ++i) candidates_[i] = {logits[i], static_cast<int32_t>(i)};
  if (params_.repetition_penalty != 1.0f) apply_repetition_penalty(history);

  if (params_.temperature <= 0.0f) {
    auto best = std::min_element(candidates_.begin(), candidates_.begin() + n_candidates_, by_value_descending);
    return TokenId{best->second};
  }

  keep_top_k(params_.top_k > 0 ? params_.top_k : static_cast<int>(n_candidates_));
  softmax_sorted();
  keep_top_p(params_.top_p);
  keep_min_p(params_.min_p);
  return draw_with_temperature(params_.temperature);
}

// Divides positive logits and multiplies negative ones by the penalty (the CTRL rule,
// Keskar et al. 2019), once per distinct recent token.
void Sampler::apply_repetition_penalty(std::span<const TokenId> history) {
  size_t window = std::min(history.size(), static_cast<size_t>(params_.repetition_window));
  for (size_t i = history.size() - window; i < history.size(); ++i) {
    int32_t token = history[i].value;
    if (token < 0 || static_cast<size_t>(token) >= n_candidates_) continue;
    bool seen_earlier = false;
    for (size_t j = history.size() - window; j < i; ++j) seen_earlier = seen_earlier || history[j].value == token;
    if (seen_earlier) continue;
    float& logit = candidates_[token].first;
    logit = logit > 0.0f ? logit / params_.repetition_penalty : logit * params_.repetition_penalty;
  }
}

void Sampler::keep_top_k(int k) {
  size_t keep = std::min(static_cast<size_t>(k), n_candidates_);
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.begin() + n_candidates_,
                    by_value_descending);
  n_candidates_ = keep;
}

// Turns the (sorted) logits into probabilities in place.
void Sampler::softmax_sorted() {
  float max_logit = candidates_[0].first;
  double sum = 0.0;
  for (size_t i = 0; i < n_candidates_; ++i) {
    candidates_[i].first = std::exp(candidates_[i].first - max_logit);
    sum += candidates_[i].first;
  }
  for (size_t i = 0; i < n_candidates_; ++i) candidates_[i].first = static_cast<float>(candidates_[i].first / sum);
}

void Sampler::keep_top_p(float p) {
  if (p >= 1.0f) return;
  double cumulative = 0.0;
  for (size_t i = 0; i < n_candidates_; ++i) {
    cumulative += candidates_[i].first;
    if (cumulative >= p) {
      n_candidates_ = i + 1;
      return;
    }
  }
}

void Sampler::keep_min_p(float min_p) {
  if (min_p <= 0.0f) return;
  float threshold = candidates_[0].first * min_p;
  size_t keep = 1;
  while (keep < n_candidates_ && candidates_[keep].first >= threshold) ++keep;
  n_candidates_ = keep;
}

// Applies the temperature to the surviving probabilities (p^(1/T), renormalized, which
// equals softmax(logit / T) over the survivors) and draws one token.
TokenId Sampler::draw_with_temperature(float temperature) {
  double sum = 0.0;
  for (size_t i = 0; i < n_candidates_; ++i) {
    probabilities_[i] = std::pow(candidates_[i].first, 1.0f / temperature);
    sum += probabilities_[i];
  }
  double target = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) * sum;
  double cumulative = 0.0;
  for (size_t i = 0; i < n_candidates_; ++i) {
    cumulative += probabilities_[i];
    if (target < cumulative) return TokenId{candidates_[i].second};
  }
  return TokenId{candidates_[n_candidates_ - 1].second};
}

}  // namespace kvinfer
