#include "server/openai_request.h"

#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "engine/engine.h"

namespace kvinfer::server {
namespace {

using Json = nlohmann::ordered_json;

// JSON nesting deeper than this is rejected before parsing; real requests nest a few levels.
constexpr int kMaxJsonDepth = 64;
// Maximum number of stop strings per request.
constexpr size_t kMaxStopStrings = 16;
// Maximum cache salt length in bytes.
constexpr size_t kMaxCacheSaltBytes = 256;

const char* type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::binary: return "binary data";
    case Json::value_t::discarded: return "an invalid value";
    default: return "a number";
  }
}

[[noreturn]] void fail_type(const std::string& name, const char* expected, const Json& value) {
  throw invalid_param(name, fmt::format("invalid type for '{}': expected {}, got {}", name, expected, type_name(value)));
}

[[noreturn]] void fail_value(const std::string& name, const std::string& message) {
  throw invalid_param(name, fmt::format("invalid value for '{}': {}", name, message));
}

// Returns the greatest nesting depth of arrays and objects in `text`, stopping early once
// it exceeds `limit`. Brackets inside strings do not count.
int json_depth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Typed access to the optional fields of a request object. A field that is absent or
// null reads as nullopt; a field of the wrong type or out of range throws ApiError.
class Fields {
 public:
  explicit Fields(const Json& body) : body_(body) {}

  const Json* find(const std::string& name) const {
    auto it = body_.find(name);
    if (it == body_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<bool> boolean(const std::string& name) const {
    const Json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_boolean()) fail_type(name, "a boolean", *value);
    return value->get<bool>();
  }

  std::optional<std::string> string(const std::string& name) const {
    const Json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_string()) fail_type(name, "a string", *value);
    return value->get<std::string>();
  }

  // Returns an integer in [min, max]. A number with a fraction is invalid, but 5.0 counts as 5.
  std::optional<int64_t> integer(const std::string& name, int64_t min, int64_t max) const {
    const Json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_number()) fail_type(name, "an integer", *value);
    const double as_double = value->get<double>();
    if (!std::isfinite(as_double)) fail_value(name, "must be a finite number");
    if (value->is_number_float() && as_double != std::floor(as_double)) fail_type(name, "an integer", *value);
    if (as_double < static_cast<double>(min) || as_double > static_cast<double>(max)) {
      fail_value(name, fmt::format("{} is out of range (must be between {} and {})", value->dump(), min, max));
    }
    return value->is_number_float() ? static_cast<int64_t>(as_double) : value->get<int64_t>();
  }

  // A finite number in [min, max], or (min, max] when `min_exclusive`.
  std::optional<double> number(const std::string& name, double min, double max, bool min_exclusive = false) const {
    const Json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_number()) fail_type(name, "a number", *value);
    const double x = value->get<double>();
    if (!std::isfinite(x)) fail_value(name, "must be a finite number");
    if (x > max || x < min || (min_exclusive && x == min)) {
      fail_value(name, fmt::format("{} is out of range (must be {} {} and at most {})", x, min_exclusive ? "greater than" : "at least",
                                   min, max));
    }
    return x;
  }

 private:
  const Json& body_;
};

// Rejects a request that uses an OpenAI feature kvinfer does not implement.
void reject_unsupported(const Fields& fields, const std::string& name, const std::string& reason) {
  const Json* value = fields.find(name);
  if (!value) return;
  if ((value->is_array() || value->is_object() || value->is_string()) && value->empty()) return;
  throw invalid_param(name, fmt::format("'{}' is not supported: {}", name, reason));
}

// A message's content as text: a string, null, or an array of {"type": "text"} parts.
std::optional<std::string> message_content(const Json& message, const std::string& param) {
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) fail_type(param, "a string, an array of content parts or null", *it);
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& part = (*it)[i];
    const std::string part_param = fmt::format("{}[{}]", param, i);
    if (!part.is_object()) fail_type(part_param, "a content part object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string() || *type != "text") {
      throw invalid_param(part_param, fmt::format("unsupported content part in '{}': only parts of type \"text\" are supported",
                                                  part_param));
    }
    auto part_text = part.find("text");
    if (part_text == part.end() || !part_text->is_string()) {
      fail_type(part_param + ".text", "a string", part_text == part.end() ? Json() : *part_text);
    }
    text += part_text->get<std::string>();
  }
  return text;
}

// Checks the messages array and returns it in the shape templates expect: role and
// content (a string, or null), followed by the message's other fields.
Json checked_messages(const Json& body) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) throw invalid_param("messages", "'messages' is required");
  if (!it->is_array()) fail_type("messages", "an array of messages", *it);
  if (it->empty()) throw invalid_param("messages", "'messages' must contain at least one message");
  Json messages = Json::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& message = (*it)[i];
    const std::string param = fmt::format("messages[{}]", i);
    if (!message.is_object()) fail_type(param, "a message object", message);
    auto role = message.find("role");
    if (role == message.end() || role->is_null()) throw invalid_param(param + ".role", fmt::format("'{}.role' is required", param));
    if (!role->is_string()) fail_type(param + ".role", "a string", *role);
    std::string role_name = role->get<std::string>();
    if (role_name == "developer") role_name = "system";  // OpenAI's newer name for system messages
    if (role_name != "system" && role_name != "user" && role_name != "assistant" && role_name != "tool") {
      fail_value(param + ".role", fmt::format("'{}' (must be system, developer, user, assistant or tool)", role->get<std::string>()));
    }
    if (auto calls = message.find("tool_calls"); calls != message.end() && !calls->is_null() && !(calls->is_array() && calls->empty())) {
      throw invalid_param(param + ".tool_calls", fmt::format("'{}.tool_calls' is not supported: kvinfer does not call tools", param));
    }
    std::optional<std::string> content = message_content(message, param + ".content");
    Json normalized = {{"role", role_name}, {"content", content ? Json(*content) : Json(nullptr)}};
    for (auto field = message.begin(); field != message.end(); ++field) {
      if (field.key() != "role" && field.key() != "content") normalized[field.key()] = field.value();
    }
    messages.push_back(std::move(normalized));
  }
  return messages;
}

}  // namespace

RequestParser::RequestParser(const Tokenizer& tokenizer, const chat::ChatTemplate* chat_template, ParserOptions options)
    : tokenizer_(tokenizer),
      chat_template_(chat_template),
      options_(options),
      bos_text_(tokenizer.token_text_or_empty(tokenizer.bos())),
      eos_text_(tokenizer.token_text_or_empty(tokenizer.eos())) {}

std::variant<CompletionCall, ApiError> RequestParser::parse(Endpoint endpoint, std::string_view body) const {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return ApiError{400, "the request body is empty: expected a JSON object"};
  }
  if (json_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return ApiError{400, fmt::format("the request body nests deeper than {} levels", kMaxJsonDepth)};
  }
  Json parsed;
  try {
    parsed = Json::parse(body);
  } catch (const Json::exception& e) {
    // nlohmann's messages start with "[json.exception.parse_error.101] "; keep the rest.
    std::string_view reason = e.what();
    if (size_t end = reason.find("] "); end != std::string_view::npos) reason.remove_prefix(end + 2);
    return ApiError{400, fmt::format("the request body is not valid JSON: {}", reason)};
  }
  if (!parsed.is_object()) return ApiError{400, fmt::format("the request body must be a JSON object, got {}", type_name(parsed))};
  try {
    return parse_object(endpoint, parsed);
  } catch (const ApiError& error) {
    return error;
  }
}

CompletionCall RequestParser::parse_object(Endpoint endpoint, const Json& body) const {
  const bool chat = endpoint == Endpoint::ChatCompletions;
  const Fields fields(body);
  CompletionCall call;
  call.endpoint = endpoint;
  GenerationRequest& request = call.generation;

  fields.string("model");  // any name is accepted: the server serves one model
  fields.string("user");
  call.stream = fields.boolean("stream").value_or(false);
  if (const Json* options = fields.find("stream_options")) {
    if (!options->is_object()) fail_type("stream_options", "an object", *options);
    if (!call.stream) throw invalid_param("stream_options", "'stream_options' is only allowed when 'stream' is true");
    call.include_usage = Fields(*options).boolean("include_usage").value_or(false);
  }

  // Sampling: OpenAI's defaults, with kvinfer's extensions switched off unless given.
  SamplingParams& sampling = request.sampling;
  sampling.temperature = static_cast<float>(fields.number("temperature", 0.0, 2.0).value_or(1.0));
  sampling.top_p = static_cast<float>(fields.number("top_p", 0.0, 1.0, true).value_or(1.0));
  sampling.top_k = static_cast<int>(std::max<int64_t>(0, fields.integer("top_k", -1, std::numeric_limits<int32_t>::max()).value_or(0)));
  sampling.min_p = static_cast<float>(fields.number("min_p", 0.0, 1.0).value_or(0.0));
  sampling.repetition_penalty = static_cast<float>(fields.number("repetition_penalty", 0.0, 100.0, true).value_or(1.0));
  if (const Json* seed = fields.find("seed")) {
    if (seed->is_number_float() && std::isfinite(seed->get<double>()) && seed->get<double>() == std::floor(seed->get<double>())) {
      fail_value("seed", fmt::format("{} is out of range (must fit in 64 bits)", seed->dump()));
    }
    if (!seed->is_number_integer()) fail_type("seed", "an integer", *seed);
    sampling.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  } else {
    sampling.seed = std::random_device{}();
  }
  for (const char* penalty : {"presence_penalty", "frequency_penalty"}) {
    if (fields.number(penalty, -2.0, 2.0).value_or(0.0) != 0.0) {
      throw invalid_param(penalty, fmt::format("'{}' is not supported; use 'repetition_penalty' instead", penalty));
    }
  }
  reject_unsupported(fields, "logit_bias", "kvinfer does not bias logits");

  request.n = static_cast<int>(fields.integer("n", 1, kMaxSamplesPerRequest).value_or(1));
  request.ignore_eos = fields.boolean("ignore_eos").value_or(false);
  if (std::optional<std::string> salt = fields.string("cache_salt")) {
    if (salt->size() > kMaxCacheSaltBytes) fail_value("cache_salt", fmt::format("longer than {} bytes", kMaxCacheSaltBytes));
    request.cache_salt = std::move(*salt);
  }
  if (const Json* stop = fields.find("stop")) {
    if (stop->is_string()) {
      request.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > kMaxStopStrings) fail_value("stop", fmt::format("at most {} stop strings are allowed", kMaxStopStrings));
      for (const Json& item : *stop) {
        if (!item.is_string()) fail_type("stop", "a string or an array of strings", item);
        request.stop.push_back(item.get<std::string>());
      }
    } else {
      fail_type("stop", "a string or an array of strings", *stop);
    }
    for (const std::string& text : request.stop) {
      if (text.empty()) fail_value("stop", "stop strings must not be empty");
    }
  }

  if (chat) {
    if (fields.boolean("logprobs").value_or(false)) {
      call.logprobs = true;
      call.top_logprobs = static_cast<int>(fields.integer("top_logprobs", 0, kMaxTopLogprobs).value_or(0));
    } else if (fields.find("top_logprobs")) {
      throw invalid_param("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
    }
    reject_unsupported(fields, "tools", "kvinfer does not call tools");
    reject_unsupported(fields, "functions", "kvinfer does not call functions");
    if (std::optional<std::string> choice = fields.string("tool_choice"); choice && *choice != "none") {
      throw invalid_param("tool_choice", "'tool_choice' is not supported: kvinfer does not call tools");
    }
    if (const Json* format = fields.find("response_format")) {
      if (!format->is_object()) fail_type("response_format", "an object", *format);
      auto type = format->find("type");
      if (type == format->end() || *type != "text") {
        throw invalid_param("response_format", "only {\"type\": \"text\"} is supported for 'response_format'");
      }
    }
  } else {
    if (std::optional<int64_t> top = fields.integer("logprobs", 0, kMaxTopLogprobs)) {
      call.logprobs = true;
      call.top_logprobs = static_cast<int>(*top);
    }
    if (fields.boolean("echo").value_or(false)) throw invalid_param("echo", "'echo' is not supported");
    if (fields.string("suffix").value_or("").size() > 0) throw invalid_param("suffix", "'suffix' is not supported");
    if (std::optional<int64_t> best_of = fields.integer("best_of", 1, kMaxSamplesPerRequest); best_of && *best_of != request.n) {
      throw invalid_param("best_of", "'best_of' is not supported unless it equals 'n'");
    }
  }
  request.top_logprobs = call.logprobs ? call.top_logprobs : -1;

  request.prompt = chat ? chat_prompt(body) : completion_prompt(body);
  const char* prompt_param = chat ? "messages" : "prompt";
  const int n_prompt = static_cast<int>(request.prompt.size());
  if (n_prompt == 0) throw invalid_param(prompt_param, "the prompt is empty: it must contain at least one token");
  if (n_prompt >= options_.n_context) {
    ApiError error = invalid_param(prompt_param, fmt::format("the prompt has {} tokens, but the context size of this server is {} tokens "
                                                             "(prompt plus at least one generated token)",
                                                             n_prompt, options_.n_context));
    error.code = "context_length_exceeded";
    throw error;
  }

  // Legacy completions default to 16 tokens as OpenAI's do; chat may fill the context.
  // A limit beyond the context is allowed: the sequence then ends with finish reason "length".
  std::optional<int64_t> max_tokens = fields.integer("max_tokens", 1, 1 << 30);
  if (chat) {
    if (std::optional<int64_t> max_completion = fields.integer("max_completion_tokens", 1, 1 << 30)) max_tokens = max_completion;
  }
  request.max_tokens = static_cast<int>(max_tokens.value_or(chat ? options_.n_context - n_prompt : 16));
  return call;
}

std::string RequestParser::render_messages(const Json& messages) const {
  if (!chat_template_) {
    throw ApiError{400, "this model has no chat template (tokenizer.chat_template); use /v1/completions", "messages"};
  }
  try {
    std::string prompt = chat::render_chat(*chat_template_, messages, true, bos_text_, eos_text_);
    return tokenizer_.add_bos() ? chat::strip_leading_bos(std::move(prompt), bos_text_) : prompt;
  } catch (const chat::ChatTemplateError& e) {
    throw invalid_param("messages", fmt::format("the chat template rejected the messages: {}", e.what()));
  }
}

std::vector<TokenId> RequestParser::chat_prompt(const Json& body) const {
  return tokenizer_.encode_prompt(render_messages(checked_messages(body)));
}

std::vector<TokenId> RequestParser::completion_prompt(const Json& body) const {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) throw invalid_param("prompt", "'prompt' is required");
  const Json* prompt = &*it;
  // A one-element batch is the same as its element.
  if (prompt->is_array() && prompt->size() == 1 && ((*prompt)[0].is_string() || (*prompt)[0].is_array())) prompt = &(*prompt)[0];
  if (prompt->is_string()) {
    if (prompt->get_ref<const std::string&>().empty()) throw invalid_param("prompt", "'prompt' must not be empty");
    return tokenizer_.encode_prompt(prompt->get_ref<const std::string&>());
  }
  if (!prompt->is_array()) fail_type("prompt", "a string or an array of token ids", *prompt);
  if (prompt->empty()) throw invalid_param("prompt", "'prompt' must not be empty");
  std::vector<TokenId> tokens;
  tokens.reserve(prompt->size());
  for (const Json& item : *prompt) {
    if (item.is_string() || item.is_array()) {
      throw invalid_param("prompt", "batches of several prompts are not supported: send one request per prompt");
    }
    if (!item.is_number_integer()) fail_type("prompt", "a string or an array of token ids", item);
    const int64_t id = item.get<int64_t>();
    if (id < 0 || id >= tokenizer_.n_vocab()) {
      fail_value("prompt", fmt::format("token id {} is outside the vocabulary [0, {})", id, tokenizer_.n_vocab()));
    }
    tokens.push_back(TokenId{static_cast<int32_t>(id)});
  }
  return tokens;
}

}  // namespace kvinfer::server
