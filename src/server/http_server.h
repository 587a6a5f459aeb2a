// `kvinfer serve`'s HTTP face: OpenAI-compatible routes over the engine, Prometheus
// metrics, a JSON snapshot of the KV cache for the web page, and the web page itself.
//
// Each completion request gets a RequestContext shared by the HTTP worker thread and
// the engine's event callback. The callback (engine thread) records latencies and queues
// the event; the worker waits on the queue and writes the response or the stream. A
// streaming client that goes away makes the next write fail, and the request is cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/engine.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/openai_request.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace kvinfer::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0 picks a free port
  std::string api_key;                   // non-empty: /v1/ routes require "Authorization: Bearer <key>"
  std::string model_name;                // the id in /v1/models and in responses
  std::string kv_type = "f16";           // reported by /stats
  size_t max_body_bytes = 4 << 20;       // larger request bodies get 413
  int n_http_threads = 64;               // connections served at once
  std::chrono::seconds shutdown_timeout{30};  // how long in-flight requests may finish after SIGTERM
};

struct RequestContext;

// Prints log lines to standard error, at most max_lines per window, so that a client
// repeating a bad request cannot flood the log. The first line of the next window
// reports how many were dropped.
class RateLimitedLog {
 public:
  RateLimitedLog(int max_lines, std::chrono::seconds window) : max_lines_(max_lines), window_(window) {}
  void print(const std::string& line);

 private:
  std::mutex mutex_;
  const int max_lines_;
  const std::chrono::seconds window_;
  std::chrono::steady_clock::time_point window_start_{};
  int n_printed_ = 0;
  int64_t n_dropped_ = 0;
};

class HttpServer {
 public:
  // `chat_template` may be null (the model has none); the engine and the tokenizer must
  // outlive the server.
  HttpServer(Engine& engine, const Tokenizer& tokenizer, const chat::ChatTemplate* chat_template, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket and returns the port. Throws Error when it cannot.
  int bind();

  // Serves until a shutdown was requested and every in-flight request has ended.
  void serve();

  // Stops the server, thread-safe and without waiting. The first call stops taking new
  // requests and lets in-flight ones finish for up to shutdown_timeout, then cancels
  // them. A second call cancels them at once, and returns true.
  bool request_shutdown();

 private:
  void add_routes();
  bool authorized(const httplib::Request& request, httplib::Response& response) const;
  void handle_completion(Endpoint endpoint, const httplib::Request& request, httplib::Response& response);
  void stream_response(const std::shared_ptr<RequestContext>& context, httplib::Response& response);
  nlohmann::ordered_json model_json() const;
  std::string stats_json() const;

  // Counts a completion request in flight. Returns false while shutting down.
  bool begin_request();
  void end_request(const std::shared_ptr<RequestContext>& context);
  void cancel_all();
  void send_error(httplib::Response& response, const ApiError& error);

  Engine& engine_;
  const Tokenizer& tokenizer_;
  ServerOptions options_;
  RequestParser parser_;
  ServerMetrics metrics_;
  RateLimitedLog log_{20, std::chrono::seconds(10)};
  std::unique_ptr<httplib::Server> http_;
  int64_t created_;  // start time, Unix seconds

  std::mutex active_mutex_;
  std::condition_variable active_changed_;
  int n_active_ = 0;  // completion requests in flight, including their streams
  std::unordered_map<int64_t, std::shared_ptr<RequestContext>> active_;
  bool draining_ = false;
  bool cancelling_ = false;
};

}  // namespace kvinfer::server
