// Builds OpenAI response bodies from the engine's output events: one JSON object for a
// finished request, or server-sent events (`data: {chunk}\n\n` ... `data: [DONE]\n\n`)
// while it streams. Text arrives from the engine already cut at UTF-8 character
// boundaries and with possible stop-string text held back, so deltas are safe to send.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/api_error.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace kvinfer::server {

// Serializes JSON for the wire; bytes that are not valid UTF-8 become U+FFFD.
std::string dump_json(const nlohmann::ordered_json& value);

// One server-sent event carrying `payload`.
std::string sse_event(const std::string& payload);

class CompletionResponse {
 public:
  CompletionResponse(const CompletionCall& call, const Tokenizer& tokenizer, std::string model, int64_t created);

  // Streaming: the events that open the stream (the assistant role of each chat choice).
  std::string stream_start();
  // Streaming: the events for `event`; the request's last event also ends the stream.
  std::string stream_event(const OutputEvent& event);

  // Non-streaming: records `event` for body().
  void record(const OutputEvent& event);
  // Non-streaming: the response object, once finished() and error() is empty.
  nlohmann::ordered_json body() const;

  bool finished() const { return finished_; }
  // The request's failure message, when the engine reported one.
  const std::string& error() const { return error_; }
  const Usage& usage() const { return usage_; }
  const std::string& id() const { return id_; }

 private:
  struct Choice {
    std::string text;
    std::string finish_reason;
    nlohmann::ordered_json logprobs = nlohmann::ordered_json::array();  // chat: entries of logprobs.content
    // Completions: the parallel arrays of the legacy logprobs object.
    nlohmann::ordered_json tokens = nlohmann::ordered_json::array();
    nlohmann::ordered_json token_logprobs = nlohmann::ordered_json::array();
    nlohmann::ordered_json top_logprobs = nlohmann::ordered_json::array();
    nlohmann::ordered_json text_offsets = nlohmann::ordered_json::array();
    size_t n_token_bytes = 0;
  };

  bool chat() const { return call_.endpoint == Endpoint::ChatCompletions; }
  void add_logprobs(Choice& choice, const TokenLogprobs& logprobs);
  nlohmann::ordered_json logprobs_json(const Choice& choice) const;
  nlohmann::ordered_json chunk(nlohmann::ordered_json choices) const;
  nlohmann::ordered_json chunk_choice(int index, const std::string& text, const nlohmann::ordered_json& logprobs,
                                      const std::string& finish_reason) const;
  nlohmann::ordered_json usage_json() const;
  std::string token_string(TokenId token) const;

  const CompletionCall& call_;
  const Tokenizer& tokenizer_;
  std::string model_;
  int64_t created_;
  std::string id_;
  std::vector<Choice> choices_;
  Usage usage_;
  bool finished_ = false;
  std::string error_;
};

}  // namespace kvinfer::server
