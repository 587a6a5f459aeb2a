// Server metrics in Prometheus' text exposition format: engine and KV-cache counters read
// from EngineStats, plus latency histograms the server observes per request.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace kvinfer::server {

// A cumulative histogram with fixed upper bounds, in seconds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the _bucket, _sum and _count lines of metric `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last one is +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  // Thread-safe.
  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  void count_finished(const std::string& finish_reason);
  void count_http_error();

  // The whole exposition, ending in a newline.
  std::string render(const EngineStats& stats) const;

 private:
  mutable std::mutex mutex_;
  Histogram time_to_first_token_;
  Histogram inter_token_latency_;
  int64_t n_finished_stop_ = 0;
  int64_t n_finished_length_ = 0;
  int64_t n_finished_cancelled_ = 0;
  int64_t n_http_errors_ = 0;
};

}  // namespace kvinfer::server
