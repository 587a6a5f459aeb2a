// Chat templates turn a conversation into the prompt text a model expects. This renders
// the model's Jinja template (GGUF key tokenizer.chat_template) the way Hugging Face's
// apply_chat_template does with jinja2: trim_blocks and lstrip_blocks on, loop controls,
// a tojson that keeps non-ASCII text, raise_exception and strftime_now.
//
// The renderer is a sandbox for untrusted templates: it has no way to read files, the
// environment or the network, and RenderLimits bounds its output, loops, nesting and
// source size. It does not tokenize; strip_leading_bos helps the caller avoid a doubled
// BOS when the tokenizer adds one itself.
//
// Context JSON must be nlohmann::ordered_json: plain nlohmann::json sorts object keys,
// which would change the key order that `tojson` prints (tool schemas, arguments).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template_error.h"
#include "chat/render_limits.h"

namespace kvinfer::chat {

namespace jinja {
struct Stmt;
}

// One message of a conversation. `extra` contains the other fields of the message
// object (tool_calls, tool_call_id, name, ...) as they came in.
struct ChatMessage {
  std::string role;
  std::optional<std::string> content;  // nullopt: JSON null
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();

  // The message as a JSON object: role, content, then the fields of `extra`.
  nlohmann::ordered_json to_json() const;
};

// A parsed chat template. Parsing happens once in the constructor, and render() can
// then be called any number of times, also from several threads at once.
class ChatTemplate {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Parses `source`. Throws ChatTemplateError: kind syntax with a one-line message
  // naming the line, or kind limit when the source is larger than
  // limits.max_source_bytes or nests deeper than limits.max_depth.
  explicit ChatTemplate(std::string source, const RenderLimits& limits = {});

  // Renders with the variables of `context`, a JSON object (messages,
  // add_generation_prompt, bos_token, eos_token, tools, ...). JSON null is None in the
  // template. Throws ChatTemplateError: kind raised with the template's own message when
  // it calls raise_exception, else kind runtime or limit with a one-line message naming
  // the line.
  std::string render(const nlohmann::ordered_json& context) const;

  // Sets the clock that strftime_now() reads (once per render). The default is
  // std::chrono::system_clock::now; tests pass a fixed time.
  void set_clock(Clock clock) { clock_ = std::move(clock); }

  const std::string& source() const { return source_; }
  const RenderLimits& limits() const { return limits_; }

 private:
  std::string source_;
  RenderLimits limits_;
  std::shared_ptr<const std::vector<std::unique_ptr<jinja::Stmt>>> body_;
  Clock clock_ = [] { return std::chrono::system_clock::now(); };
};

// Renders a conversation. The context contains `messages`, `add_generation_prompt`,
// `bos_token` and `eos_token`, plus the members of `extra_context` (an object such as
// {"tools": [...]}, or null for none).
//
// A message whose content is null gets "" instead, because most templates concatenate
// content as a string. Messages with tool_calls keep null content: templates such as
// DeepSeek-R1's choose the tool-call rendering by testing `content is none`.
std::string render_chat(const ChatTemplate& chat_template, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const std::string& bos_token, const std::string& eos_token,
                        const nlohmann::ordered_json& extra_context = nullptr);

// The same for messages held as ChatMessage.
std::string render_chat(const ChatTemplate& chat_template, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const std::string& bos_token, const std::string& eos_token,
                        const nlohmann::ordered_json& extra_context = nullptr);

// Removes one leading `bos_text` from a rendered prompt. Templates usually write
// {{ bos_token }} themselves, so when the tokenizer also adds BOS, strip the text first
// and the prompt does not start with two BOS tokens. An empty `bos_text` changes nothing.
std::string strip_leading_bos(std::string rendered, std::string_view bos_text);

}  // namespace kvinfer::chat
