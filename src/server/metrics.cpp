#include "server/metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace kvinfer::server {
namespace {

void write_header(std::string& out, const std::string& name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <typename T>
void write_metric(std::string& out, const std::string& name, const char* type, const char* help, T value) {
  write_header(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, upper_bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count_);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_, name, count_);
}

ServerMetrics::ServerMetrics()
    : time_to_first_token_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      inter_token_latency_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {}

void ServerMetrics::observe_time_to_first_token(double seconds) {
  std::lock_guard lock(mutex_);
  time_to_first_token_.observe(seconds);
}

void ServerMetrics::observe_inter_token_latency(double seconds) {
  std::lock_guard lock(mutex_);
  inter_token_latency_.observe(seconds);
}

void ServerMetrics::count_finished(const std::string& finish_reason) {
  std::lock_guard lock(mutex_);
  if (finish_reason == "stop") ++n_finished_stop_;
  else if (finish_reason == "length") ++n_finished_length_;
  else ++n_finished_cancelled_;
}

void ServerMetrics::count_http_error() {
  std::lock_guard lock(mutex_);
  ++n_http_errors_;
}

std::string ServerMetrics::render(const EngineStats& stats) const {
  std::string out;
  write_metric(out, "kvinfer_kv_pool_blocks", "gauge", "KV-cache blocks in the pool.", stats.kv.n_blocks_total);
  write_metric(out, "kvinfer_kv_blocks_used", "gauge", "KV-cache blocks referenced by running sequences.", stats.kv.n_blocks_used);
  write_metric(out, "kvinfer_kv_blocks_cached", "gauge", "Free KV-cache blocks still holding a reusable prefix.",
               stats.kv.n_blocks_cached);
  write_metric(out, "kvinfer_prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.",
               stats.kv.n_prefix_query_tokens);
  write_metric(out, "kvinfer_prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.",
               stats.kv.n_prefix_hit_tokens);
  write_metric(out, "kvinfer_kv_evictions_total", "counter", "Cached KV blocks evicted for reuse.", stats.kv.n_evictions);
  write_metric(out, "kvinfer_requests_running", "gauge", "Requests with sequences in the running batch.", stats.n_running);
  write_metric(out, "kvinfer_requests_waiting", "gauge", "Requests waiting to be scheduled.", stats.n_waiting);
  write_metric(out, "kvinfer_preemptions_total", "counter", "Sequences preempted because the KV pool ran out of blocks.",
               stats.n_preemptions);
  write_metric(out, "kvinfer_prompt_tokens_total", "counter", "Prompt tokens computed (cached ones excluded).",
               stats.n_prompt_tokens);
  write_metric(out, "kvinfer_generation_tokens_total", "counter", "Tokens generated.", stats.n_generation_tokens);
  write_metric(out, "kvinfer_engine_steps_total", "counter", "Engine steps (batched forward passes).", stats.n_steps);

  std::lock_guard lock(mutex_);
  write_header(out, "kvinfer_sequences_finished_total", "counter", "Finished sequences by finish reason.");
  out += fmt::format("kvinfer_sequences_finished_total{{finish_reason=\"stop\"}} {}\n", n_finished_stop_);
  out += fmt::format("kvinfer_sequences_finished_total{{finish_reason=\"length\"}} {}\n", n_finished_length_);
  out += fmt::format("kvinfer_sequences_finished_total{{finish_reason=\"cancelled\"}} {}\n", n_finished_cancelled_);
  write_metric(out, "kvinfer_http_errors_total", "counter", "HTTP requests answered with an error status.", n_http_errors_);
  write_header(out, "kvinfer_time_to_first_token_seconds", "histogram", "Time from receiving a request to its first token.");
  time_to_first_token_.render("kvinfer_time_to_first_token_seconds", out);
  write_header(out, "kvinfer_inter_token_latency_seconds", "histogram", "Time between consecutive tokens of a sequence.");
  inter_token_latency_.render("kvinfer_inter_token_latency_seconds", out);
  return out;
}

}  // namespace kvinfer::server
