#include "server/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <charconv>
#include <filesystem>

#include <ctime>
#include <functional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "server/openai_response.h"
#include "server/web_assets.h"
#include "util/error.h"

namespace kvinfer::server {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

// How long a worker waits for engine events before checking the connection.
constexpr auto kStreamPollInterval = std::chrono::milliseconds(100);

// One completion request: written by the engine's callback, read by the HTTP worker.
struct RequestContext {
  RequestContext(CompletionCall parsed, const Tokenizer& tokenizer, const std::string& model, int64_t created)
      : call(std::move(parsed)), response(call, tokenizer, model, created), last_token_time(call.generation.n) {}

  CompletionCall call;
  CompletionResponse response;  // used by the worker thread only
  RequestId id{-1};
  Clock::time_point arrival = Clock::now();

  // Engine thread only: latency bookkeeping.
  bool first_token_seen = false;
  std::vector<Clock::time_point> last_token_time;

  std::mutex mutex;
  std::condition_variable ready;
  std::vector<OutputEvent> pending;
  bool ended = false;  // the request's last event is queued

  // Waits up to `timeout` for events and moves them into `out`.
  void wait_events(std::vector<OutputEvent>& out, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    ready.wait_for(lock, timeout, [&] { return !pending.empty(); });
    out.swap(pending);
    pending.clear();
  }
};

namespace {

// Runs a function when the scope ends.
class ScopeExit {
 public:
  explicit ScopeExit(std::function<void()> on_exit) : on_exit_(std::move(on_exit)) {}
  ~ScopeExit() { on_exit_(); }
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;

 private:
  std::function<void()> on_exit_;
};

// Returns the address and port of a socket address as text, or "" for other families.
std::pair<std::string, int> address_and_port(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
    return {text, ntohs(v4.sin_port)};
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
    return {text, ntohs(v6.sin6_port)};
  }
  return {"", -1};
}

// Finds the descriptor of the connection a request came in on, by matching both ends'
// addresses against this process's open sockets. Returns -1 when none matches.
// httplib 0.11 does not give handlers the socket, and a non-streaming handler needs it to
// notice that its client left.
int connection_socket(const httplib::Request& request) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_size = sizeof(local), peer_size = sizeof(peer);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0) continue;
    if (address_and_port(local) == std::pair(request.local_addr, request.local_port) &&
        address_and_port(peer) == std::pair(request.remote_addr, request.remote_port)) {
      return fd;
    }
  }
  return -1;
}

// True when the client closed its side of the connection. Peeking leaves any data that
// arrived (a next request on a kept-alive connection) for httplib to read.
bool client_closed(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

bool is_last_event(const OutputEvent& event) {
  return event.kind == OutputEvent::Kind::RequestFinished || event.kind == OutputEvent::Kind::Error;
}

double seconds_since(Clock::time_point start, Clock::time_point now) {
  return std::chrono::duration<double>(now - start).count();
}

// Compares without an early exit, so timing does not reveal how much of a key matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(b.size(), 1)]);
  return difference == 0;
}

const char* error_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 405: return "invalid_request_error";
    case 413: return "invalid_request_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

}  // namespace

void RateLimitedLog::print(const std::string& line) {
  std::lock_guard lock(mutex_);
  const Clock::time_point now = Clock::now();
  if (now - window_start_ >= window_) {
    if (n_dropped_ > 0) {
      fmt::print(stderr, "kvinfer: {} earlier log lines were dropped (at most {} lines per {} s)\n", n_dropped_, max_lines_,
                 window_.count());
    }
    window_start_ = now;
    n_printed_ = 0;
    n_dropped_ = 0;
  }
  if (n_printed_ >= max_lines_) {
    ++n_dropped_;
    return;
  }
  ++n_printed_;
  fmt::print(stderr, "kvinfer: {}\n", line);
}

HttpServer::HttpServer(Engine& engine, const Tokenizer& tokenizer, const chat::ChatTemplate* chat_template, ServerOptions options)
    : engine_(engine),
      tokenizer_(tokenizer),
      options_(std::move(options)),
      parser_(tokenizer, chat_template, ParserOptions{engine.n_context()}),
      http_(std::make_unique<httplib::Server>()),
      created_(static_cast<int64_t>(std::time(nullptr))) {
  const int n_threads = options_.n_http_threads;
  http_->new_task_queue = [n_threads] { return new httplib::ThreadPool(n_threads); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // httplib's default sets SO_REUSEPORT, which lets a second server listen on a port in
  // use. SO_REUSEADDR alone still allows a quick restart while old connections linger.
  http_->set_socket_options([](int socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  add_routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::send_error(httplib::Response& response, const ApiError& error) {
  response.status = error.status;
  response.set_content(dump_json(to_json(error)), "application/json");
}

bool HttpServer::authorized(const httplib::Request& request, httplib::Response& response) const {
  if (options_.api_key.empty()) return true;
  const std::string header = request.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (header.size() > prefix.size() && header.compare(0, prefix.size(), prefix) == 0 &&
      same_secret(header.substr(prefix.size()), options_.api_key)) {
    return true;
  }
  ApiError error{401, header.empty() ? "missing API key: send the header 'Authorization: Bearer <key>'" : "invalid API key"};
  error.code = "invalid_api_key";
  response.status = 401;
  response.set_content(dump_json(to_json(error)), "application/json");
  return false;
}

void HttpServer::add_routes() {
  httplib::Server& http = *http_;

  // Authorization for the OpenAI routes, before any body is parsed.
  http.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (request.path.rfind("/v1/", 0) == 0 && !authorized(request, response)) return httplib::Server::HandlerResponse::Handled;
    return httplib::Server::HandlerResponse::Unhandled;
  });

  for (const WebAsset& asset : web_assets()) {
    http.Get(std::string(asset.path), [asset](const httplib::Request&, httplib::Response& response) {
      response.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type).c_str());
    });
  }

  http.Get("/health", [this](const httplib::Request&, httplib::Response& response) {
    std::lock_guard lock(active_mutex_);
    response.status = draining_ ? 503 : 200;
    response.set_content(draining_ ? R"({"status":"shutting down"})" : R"({"status":"ok"})", "application/json");
  });

  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(dump_json({{"object", "list"}, {"data", Json::array({model_json()})}}), "application/json");
  });
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& request, httplib::Response& response) {
    const std::string id = request.matches[1];
    if (id != options_.model_name) {
      send_error(response, ApiError{404, fmt::format("model '{}' not found; this server serves '{}'", id, options_.model_name),
                                    "model", "model_not_found"});
      return;
    }
    response.set_content(dump_json(model_json()), "application/json");
  });

  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.render(engine_.stats()), "text/plain; version=0.0.4; charset=utf-8");
  });

  http.Get("/stats", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(stats_json(), "application/json");
  });

  http.Post("/v1/chat/completions", [this](const httplib::Request& request, httplib::Response& response) {
    handle_completion(Endpoint::ChatCompletions, request, response);
  });
  http.Post("/v1/completions", [this](const httplib::Request& request, httplib::Response& response) {
    handle_completion(Endpoint::Completions, request, response);
  });
  // A known path with the wrong method gets 405 and the method it accepts.
  auto wrong_method = [this](const char* allowed) {
    return [this, allowed](const httplib::Request& request, httplib::Response& response) {
      response.set_header("Allow", allowed);
      send_error(response, ApiError{405, fmt::format("{} accepts {} only, not {}", request.path, allowed, request.method)});
    };
  };
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    http.Get(path, wrong_method("POST"));
    http.Put(path, wrong_method("POST"));
    http.Patch(path, wrong_method("POST"));
    http.Delete(path, wrong_method("POST"));
  }
  for (const char* path : {"/v1/models", "/health", "/metrics", "/stats"}) {
    http.Post(path, wrong_method("GET"));
    http.Put(path, wrong_method("GET"));
    http.Patch(path, wrong_method("GET"));
    http.Delete(path, wrong_method("GET"));
  }

  // Every error status gets an OpenAI error object, also those httplib sets itself
  // (unknown route 404, body too large 413, malformed HTTP 400).
  http.set_error_handler([this](const httplib::Request& request, httplib::Response& response) {
    metrics_.count_http_error();
    if (response.body.empty()) {
      std::string message;
      switch (response.status) {
        case 404: message = fmt::format("no route for {} {}", request.method, request.path); break;
        case 413: message = fmt::format("the request body is larger than the limit of {} bytes", options_.max_body_bytes); break;
        case 400: message = "malformed or incomplete HTTP request (check the request line, headers and Content-Length)"; break;
        default: message = fmt::format("{} {} failed with HTTP status {}", request.method, request.path, response.status); break;
      }
      send_error(response, ApiError{response.status, std::move(message), "", "", error_type(response.status)});
    }
    // One log line per rejected request, with the message the client got.
    Json body = Json::parse(response.body, nullptr, false);
    const std::string message = body.is_object() && body.contains("error") ? body["error"].value("message", "") : response.body;
    log_.print(fmt::format("{} {} from {}: HTTP {}: {}", request.method, request.path, request.remote_addr, response.status, message));
  });
  http.set_exception_handler([this](const httplib::Request&, httplib::Response& response, std::exception_ptr thrown) {
    std::string description = "unknown error";
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      description = e.what();
    } catch (...) {
    }
    ApiError error{500, fmt::format("internal error: {}", description)};
    error.type = "server_error";
    send_error(response, error);
  });
}

nlohmann::ordered_json HttpServer::model_json() const {
  return {{"id", options_.model_name}, {"object", "model"}, {"created", created_}, {"owned_by", "kvinfer"},
          {"max_model_len", engine_.n_context()}};
}

std::string HttpServer::stats_json() const {
  const EngineStats stats = engine_.stats();
  const KvCacheStats& kv = stats.kv;
  const double hit_rate = kv.n_prefix_query_tokens > 0 ? static_cast<double>(kv.n_prefix_hit_tokens) / kv.n_prefix_query_tokens : 0.0;
  return dump_json({{"model", options_.model_name},
                    {"block_size", engine_.kv_layout().block_size},
                    {"kv_type", options_.kv_type},
                    {"kv_blocks_total", kv.n_blocks_total},
                    {"kv_blocks_used", kv.n_blocks_used},
                    {"kv_blocks_cached", kv.n_blocks_cached},
                    {"prefix_cache_query_tokens", kv.n_prefix_query_tokens},
                    {"prefix_cache_hit_tokens", kv.n_prefix_hit_tokens},
                    {"prefix_cache_hit_rate", hit_rate},
                    {"requests_running", stats.n_running},
                    {"requests_waiting", stats.n_waiting},
                    {"prompt_tokens_total", stats.n_prompt_tokens},
                    {"generation_tokens_total", stats.n_generation_tokens},
                    {"preemptions_total", stats.n_preemptions}});
}

bool HttpServer::begin_request() {
  std::lock_guard lock(active_mutex_);
  if (draining_) return false;
  ++n_active_;
  return true;
}

void HttpServer::end_request(const std::shared_ptr<RequestContext>& context) {
  std::lock_guard lock(active_mutex_);
  if (context && context->id.value >= 0) active_.erase(context->id.value);
  --n_active_;
  active_changed_.notify_all();
}

void HttpServer::cancel_all() {
  for (const auto& [id, context] : active_) engine_.cancel(context->id);
}

void HttpServer::handle_completion(Endpoint endpoint, const httplib::Request& request, httplib::Response& response) {
  if (!begin_request()) {
    send_error(response, ApiError{503, "the server is shutting down", "", "", "service_unavailable"});
    return;
  }
  // Ends the request's bookkeeping on every way out of this function, exceptions
  // included, unless a stream takes it over.
  std::shared_ptr<RequestContext> context;
  bool handed_to_stream = false;
  ScopeExit end_on_exit([&] {
    if (handed_to_stream) return;
    if (context && context->id.value >= 0 && !context->response.finished()) engine_.cancel(context->id);
    end_request(context);
  });

  std::variant<CompletionCall, ApiError> parsed = parser_.parse(endpoint, request.body);
  if (const ApiError* error = std::get_if<ApiError>(&parsed)) {
    send_error(response, *error);
    return;
  }
  context = std::make_shared<RequestContext>(std::get<CompletionCall>(std::move(parsed)), tokenizer_, options_.model_name,
                                             static_cast<int64_t>(std::time(nullptr)));
  const char* prompt_param = endpoint == Endpoint::ChatCompletions ? "messages" : "prompt";

  // Runs on the engine thread: record latencies, queue the event, wake the worker.
  auto on_event = [this, context](const OutputEvent& event) {
    const Clock::time_point now = Clock::now();
    if (event.kind == OutputEvent::Kind::Token) {
      if (!context->first_token_seen) {
        context->first_token_seen = true;
        metrics_.observe_time_to_first_token(seconds_since(context->arrival, now));
      }
      Clock::time_point& last = context->last_token_time.at(event.index);
      if (last != Clock::time_point{}) metrics_.observe_inter_token_latency(seconds_since(last, now));
      last = now;
    } else if (event.kind == OutputEvent::Kind::SequenceFinished) {
      metrics_.count_finished(event.finish_reason);
    }
    std::lock_guard lock(context->mutex);
    context->pending.push_back(event);
    if (is_last_event(event)) context->ended = true;
    context->ready.notify_one();
  };

  {
    // Submit under the lock, so that a shutdown's cancel_all() finds every submitted request.
    std::lock_guard lock(active_mutex_);
    Engine::Submission submission = engine_.submit(context->call.generation, on_event);
    if (!submission.error.empty()) {
      send_error(response, invalid_param(prompt_param, submission.error));
      return;
    }
    context->id = submission.id;
    active_.emplace(context->id.value, context);
    if (cancelling_) engine_.cancel(context->id);
  }

  if (context->call.stream) {
    handed_to_stream = true;
    stream_response(context, response);
    return;
  }
  // Wait for the whole reply, checking between events that the client is still there.
  const int socket = connection_socket(request);
  bool cancelled = false;
  std::vector<OutputEvent> events;
  while (!context->response.finished()) {
    context->wait_events(events, kStreamPollInterval);
    for (const OutputEvent& event : events) context->response.record(event);
    if (!cancelled && socket >= 0 && !context->response.finished() && client_closed(socket)) {
      log_.print(fmt::format("request {}: the client closed the connection; cancelled", context->id.value));
      engine_.cancel(context->id);
      cancelled = true;
    }
  }
  if (!context->response.error().empty()) {
    send_error(response, invalid_param(prompt_param, context->response.error()));
    return;
  }
  response.set_content(dump_json(context->response.body()), "application/json");
}

void HttpServer::stream_response(const std::shared_ptr<RequestContext>& context, httplib::Response& response) {
  response.set_header("Cache-Control", "no-cache");
  auto started = std::make_shared<bool>(false);
  auto events = std::make_shared<std::vector<OutputEvent>>();
  response.set_chunked_content_provider(
      "text/event-stream",
      [context, started, events](size_t, httplib::DataSink& sink) {
        std::string out;
        if (!*started) {
          *started = true;
          out = context->response.stream_start();
        } else {
          context->wait_events(*events, kStreamPollInterval);
          for (const OutputEvent& event : *events) out += context->response.stream_event(event);
        }
        // A failed write means the client went away; returning false ends the response
        // and the releaser below cancels the request.
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (context->response.finished()) sink.done();
        return true;
      },
      [this, context](bool) {
        if (!context->response.finished()) {
          log_.print(fmt::format("request {}: the client closed the stream; cancelled", context->id.value));
          engine_.cancel(context->id);
        }
        end_request(context);
      });
}

int HttpServer::bind() {
  if (options_.port < 0 || options_.port > 65535) fail("invalid port {}: must be between 0 and 65535", options_.port);
  if (options_.host.empty()) fail("invalid host '': give an address such as 127.0.0.1, ::1 or 0.0.0.0");

  // Text that looks like an IP address must parse as one, so a mistyped address never
  // reaches DNS. Other text is looked up as a host name, as httplib does.
  const bool looks_numeric = options_.host.find_first_not_of("0123456789.") == std::string::npos ||
                             options_.host.find(':') != std::string::npos;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | (looks_numeric ? AI_NUMERICHOST : 0);
  addrinfo* found = nullptr;
  if (const int status = getaddrinfo(options_.host.c_str(), nullptr, &hints, &found); status != 0) {
    fail("invalid host '{}': {}", options_.host, looks_numeric ? "not a valid IP address" : gai_strerror(status));
  }

  // Try the address first, so that the error can tell a busy port from a foreign address.
  const int probe = socket(found->ai_family, SOCK_STREAM, 0);
  int bind_error = 0;
  if (probe >= 0) {
    int yes = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_storage address{};
    std::memcpy(&address, found->ai_addr, found->ai_addrlen);
    const uint16_t port_be = htons(static_cast<uint16_t>(options_.port));
    if (address.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(address).sin_port = port_be;
    if (address.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6&>(address).sin6_port = port_be;
    if (::bind(probe, reinterpret_cast<sockaddr*>(&address), found->ai_addrlen) != 0) bind_error = errno;
    close(probe);
  }
  freeaddrinfo(found);
  if (bind_error == EADDRINUSE) fail("cannot listen on {}:{}: the port is in use", options_.host, options_.port);
  if (bind_error == EADDRNOTAVAIL) fail("cannot listen on {}: the address is not on this machine", options_.host);
  if (bind_error == EACCES) fail("cannot listen on port {}: permission denied (ports below 1024 need privileges)", options_.port);

  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host);
    if (port < 0) fail("cannot listen on {}: binding a free port failed", options_.host);
  } else if (!http_->bind_to_port(options_.host, port)) {
    fail("cannot listen on {}:{}: binding failed", options_.host, port);
  }
  return port;
}

void HttpServer::serve() {
  std::thread listener([this] { http_->listen_after_bind(); });
  {
    std::unique_lock lock(active_mutex_);
    active_changed_.wait(lock, [&] { return draining_; });
    const auto deadline = Clock::now() + options_.shutdown_timeout;
    if (!active_changed_.wait_until(lock, deadline, [&] { return n_active_ == 0 || cancelling_; })) {
      fmt::print(stderr, "kvinfer: the shutdown timeout of {} s ran out; cancelling {} in-flight requests\n",
                 options_.shutdown_timeout.count(), active_.size());
      cancelling_ = true;
    }
    if (cancelling_) cancel_all();
    active_changed_.wait(lock, [&] { return n_active_ == 0; });
  }
  http_->stop();
  listener.join();
}

bool HttpServer::request_shutdown() {
  std::lock_guard lock(active_mutex_);
  const bool cancel = draining_;
  cancelling_ = cancelling_ || cancel;
  draining_ = true;
  active_changed_.notify_all();
  return cancel;
}

}  // namespace kvinfer::server
