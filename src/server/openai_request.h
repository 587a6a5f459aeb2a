// Turns the JSON body of POST /v1/chat/completions or /v1/completions into a
// GenerationRequest: checks every field's type and range, renders the chat template and
// tokenizes the prompt. Every problem becomes an ApiError naming the field.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "chat/chat_template.h"
#include "engine/request.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace kvinfer::server {

enum class Endpoint { ChatCompletions, Completions };

// A validated completion request, ready for the engine.
struct CompletionCall {
  Endpoint endpoint = Endpoint::ChatCompletions;
  GenerationRequest generation;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // return the chosen tokens' log-probabilities
  int top_logprobs = 0;        // and this many alternatives per token
};

struct ParserOptions {
  int n_context = 4096;  // the engine's maximum sequence length
};

class RequestParser {
 public:
  // `chat_template` may be null: chat completions are then rejected with a clear error.
  RequestParser(const Tokenizer& tokenizer, const chat::ChatTemplate* chat_template, ParserOptions options);

  // Parses and validates `body`. Sampling defaults follow OpenAI's: temperature 1,
  // top_p 1, no top-k or min-p. Without max_tokens a request may fill the context.
  std::variant<CompletionCall, ApiError> parse(Endpoint endpoint, std::string_view body) const;

  // Renders a chat conversation (a JSON array of messages, already validated) into
  // prompt text. Throws ApiError when the template fails.
  std::string render_messages(const nlohmann::ordered_json& messages) const;

 private:
  CompletionCall parse_object(Endpoint endpoint, const nlohmann::ordered_json& body) const;
  std::vector<TokenId> chat_prompt(const nlohmann::ordered_json& body) const;
  std::vector<TokenId> completion_prompt(const nlohmann::ordered_json& body) const;

  const Tokenizer& tokenizer_;
  const chat::ChatTemplate* chat_template_;
  ParserOptions options_;
  std::string bos_text_;
  std::string eos_text_;
};

}  // namespace kvinfer::server
