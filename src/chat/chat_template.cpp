// The chat template facade: parse once, render conversations, strip a doubled BOS.
#include "chat/chat_template.h"

#include <fmt/format.h>

#include "chat/jinja_ast.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"
#include "chat/jinja_value.h"

namespace kvinfer::chat {

nlohmann::ordered_json ChatMessage::to_json() const {
  nlohmann::ordered_json message = nlohmann::ordered_json::object();
  message["role"] = role;
  message["content"] = content ? nlohmann::ordered_json(*content) : nlohmann::ordered_json(nullptr);
  if (extra.is_object()) {
    for (const auto& [key, value] : extra.items()) message[key] = value;
  }
  return message;
}

ChatTemplate::ChatTemplate(std::string source, const RenderLimits& limits) : source_(std::move(source)), limits_(limits) {
  if (source_.size() > limits_.max_source_bytes) {
    throw ChatTemplateError(ChatTemplateErrorKind::limit,
                            fmt::format("chat template source of {} bytes exceeds the limit of {} bytes",
                                        source_.size(), limits_.max_source_bytes));
  }
  const std::vector<jinja::Token> tokens = jinja::tokenize(source_);
  body_ = std::make_shared<const jinja::Body>(jinja::parse_template(tokens, limits_.max_depth));
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) {
    throw ChatTemplateError(ChatTemplateErrorKind::runtime,
                            fmt::format("chat template context must be a JSON object, not {}", context.type_name()));
  }
  const jinja::Value variables = jinja::from_json(context);
  return jinja::render_template(*body_, variables, limits_, clock_());
}

std::string render_chat(const ChatTemplate& chat_template, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const std::string& bos_token, const std::string& eos_token,
                        const nlohmann::ordered_json& extra_context) {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  if (extra_context.is_object()) context = extra_context;

  nlohmann::ordered_json converted = messages;
  if (converted.is_array()) {
    for (nlohmann::ordered_json& message : converted) {
      const bool null_content = message.is_object() && message.contains("content") && message["content"].is_null();
      if (null_content && !message.contains("tool_calls")) message["content"] = "";
    }
  }
  context["messages"] = std::move(converted);
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = bos_token;
  context["eos_token"] = eos_token;
  return chat_template.render(context);
}

std::string render_chat(const ChatTemplate& chat_template, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const std::string& bos_token, const std::string& eos_token,
                        const nlohmann::ordered_json& extra_context) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const ChatMessage& message : messages) array.push_back(message.to_json());
  return render_chat(chat_template, array, add_generation_prompt, bos_token, eos_token, extra_context);
}

std::string strip_leading_bos(std::string rendered, std::string_view bos_text) {
  if (!bos_text.empty() && rendered.starts_with(bos_text)) rendered.erase(0, bos_text.size());
  return rendered;
}

}  // namespace kvinfer::chat
