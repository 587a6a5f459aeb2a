#include "server/openai_response.h"

#include <random>

#include <fmt/format.h>

namespace kvinfer::server {
namespace {

using Json = nlohmann::ordered_json;

// A random id such as "chatcmpl-3f9a...": 24 hex digits.
std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}-{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

Json byte_values(const std::string& text) {
  Json bytes = Json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}

}  // namespace

std::string dump_json(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string sse_event(const std::string& payload) { return "data: " + payload + "\n\n"; }

CompletionResponse::CompletionResponse(const CompletionCall& call, const Tokenizer& tokenizer, std::string model, int64_t created)
    : call_(call),
      tokenizer_(tokenizer),
      model_(std::move(model)),
      created_(created),
      id_(random_id(call.endpoint == Endpoint::ChatCompletions ? "chatcmpl" : "cmpl")),
      choices_(call.generation.n) {}

std::string CompletionResponse::token_string(TokenId token) const {
  return tokenizer_.contains(token) ? std::string(tokenizer_.piece_view(token, true)) : std::string();
}

void CompletionResponse::add_logprobs(Choice& choice, const TokenLogprobs& logprobs) {
  const std::string chosen = token_string(logprobs.chosen.token);
  if (chat()) {
    Json top = Json::array();
    for (const TokenLogprob& alternative : logprobs.top) {
      const std::string text = token_string(alternative.token);
      top.push_back({{"token", text}, {"logprob", alternative.logprob}, {"bytes", byte_values(text)}});
    }
    choice.logprobs.push_back(
        {{"token", chosen}, {"logprob", logprobs.chosen.logprob}, {"bytes", byte_values(chosen)}, {"top_logprobs", std::move(top)}});
    return;
  }
  Json top = Json::object();
  for (const TokenLogprob& alternative : logprobs.top) top[token_string(alternative.token)] = alternative.logprob;
  choice.tokens.push_back(chosen);
  choice.token_logprobs.push_back(logprobs.chosen.logprob);
  choice.top_logprobs.push_back(std::move(top));
  choice.text_offsets.push_back(choice.n_token_bytes);
  choice.n_token_bytes += chosen.size();
}

Json CompletionResponse::logprobs_json(const Choice& choice) const {
  if (!call_.logprobs) return nullptr;
  if (chat()) return {{"content", choice.logprobs}};
  return {{"tokens", choice.tokens},
          {"token_logprobs", choice.token_logprobs},
          {"top_logprobs", choice.top_logprobs},
          {"text_offset", choice.text_offsets}};
}

Json CompletionResponse::usage_json() const {
  return {{"prompt_tokens", usage_.prompt_tokens},
          {"completion_tokens", usage_.completion_tokens},
          {"total_tokens", usage_.prompt_tokens + usage_.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage_.cached_tokens}}}};
}

Json CompletionResponse::chunk(Json choices) const {
  Json out = {{"id", id_},
              {"object", chat() ? "chat.completion.chunk" : "text_completion"},
              {"created", created_},
              {"model", model_},
              {"choices", std::move(choices)}};
  if (call_.include_usage) out["usage"] = nullptr;
  return out;
}

Json CompletionResponse::chunk_choice(int index, const std::string& text, const Json& logprobs, const std::string& finish_reason) const {
  Json finish = finish_reason.empty() ? Json(nullptr) : Json(finish_reason);
  if (chat()) {
    Json delta = text.empty() ? Json::object() : Json{{"content", text}};
    return {{"index", index}, {"delta", std::move(delta)}, {"logprobs", logprobs}, {"finish_reason", std::move(finish)}};
  }
  return {{"index", index}, {"text", text}, {"logprobs", logprobs}, {"finish_reason", std::move(finish)}};
}

std::string CompletionResponse::stream_start() {
  if (!chat()) return "";
  std::string out;
  for (int index = 0; index < static_cast<int>(choices_.size()); ++index) {
    Json choice = {{"index", index},
                   {"delta", {{"role", "assistant"}, {"content", ""}}},
                   {"logprobs", nullptr},
                   {"finish_reason", nullptr}};
    out += sse_event(dump_json(chunk(Json::array({std::move(choice)}))));
  }
  return out;
}

std::string CompletionResponse::stream_event(const OutputEvent& event) {
  std::string out;
  switch (event.kind) {
    case OutputEvent::Kind::Token: {
      Choice& choice = choices_.at(event.index);
      Json logprobs = nullptr;
      if (call_.logprobs) {
        // Only this token's entry: reset the arrays after reading them.
        Choice fresh;
        fresh.n_token_bytes = choice.n_token_bytes;
        choice = std::move(fresh);
        add_logprobs(choice, event.logprobs);
        logprobs = logprobs_json(choice);
      }
      if (!event.text.empty() || call_.logprobs) {
        out += sse_event(dump_json(chunk(Json::array({chunk_choice(event.index, event.text, logprobs, "")}))));
      }
      break;
    }
    case OutputEvent::Kind::SequenceFinished: {
      if (!event.text.empty()) {
        out += sse_event(dump_json(chunk(Json::array({chunk_choice(event.index, event.text, nullptr, "")}))));
      }
      out += sse_event(dump_json(chunk(Json::array({chunk_choice(event.index, "", nullptr, event.finish_reason)}))));
      break;
    }
    case OutputEvent::Kind::RequestFinished: {
      usage_ = event.usage;
      finished_ = true;
      if (call_.include_usage) {
        Json last = chunk(Json::array());
        last["usage"] = usage_json();
        out += sse_event(dump_json(last));
      }
      out += sse_event("[DONE]");
      break;
    }
    case OutputEvent::Kind::Error: {
      finished_ = true;
      error_ = event.error;
      out += sse_event(dump_json(to_json(ApiError{400, event.error})));
      out += sse_event("[DONE]");
      break;
    }
  }
  return out;
}

void CompletionResponse::record(const OutputEvent& event) {
  switch (event.kind) {
    case OutputEvent::Kind::Token: {
      Choice& choice = choices_.at(event.index);
      choice.text += event.text;
      if (call_.logprobs) add_logprobs(choice, event.logprobs);
      break;
    }
    case OutputEvent::Kind::SequenceFinished: {
      Choice& choice = choices_.at(event.index);
      choice.text += event.text;
      choice.finish_reason = event.finish_reason;
      break;
    }
    case OutputEvent::Kind::RequestFinished:
      usage_ = event.usage;
      finished_ = true;
      break;
    case OutputEvent::Kind::Error:
      error_ = event.error;
      finished_ = true;
      break;
  }
}

Json CompletionResponse::body() const {
  Json choices = Json::array();
  for (int index = 0; index < static_cast<int>(choices_.size()); ++index) {
    const Choice& choice = choices_[index];
    if (chat()) {
      choices.push_back({{"index", index},
                         {"message", {{"role", "assistant"}, {"content", choice.text}}},
                         {"logprobs", logprobs_json(choice)},
                         {"finish_reason", choice.finish_reason}});
    } else {
      choices.push_back(
          {{"index", index}, {"text", choice.text}, {"logprobs", logprobs_json(choice)}, {"finish_reason", choice.finish_reason}});
    }
  }
  return {{"id", id_},
          {"object", chat() ? "chat.completion" : "text_completion"},
          {"created", created_},
          {"model", model_},
          {"choices", std::move(choices)},
          {"usage", usage_json()}};
}

}  // namespace kvinfer::server
