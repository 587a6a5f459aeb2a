// The one error type of the chat template renderer. A template is user input that is
// parsed and run once per request, so the renderer is a parse boundary: it throws.
#pragma once

#include <string>

#include "util/error.h"

namespace kvinfer::chat {

enum class ChatTemplateErrorKind {
  syntax,   // the template source does not parse
  runtime,  // an operation failed while rendering: a type mismatch, a bad argument
  limit,    // a sandbox limit was exceeded: source, output or string size, loop
            // iterations, nesting depth
  raised,   // the template called raise_exception(message); what() is that message
};

// A one-line message (unless raise_exception gave a multi-line one) plus its kind, so
// that callers can tell a template rejecting a conversation from a broken template.
class ChatTemplateError : public Error {
 public:
  ChatTemplateError(ChatTemplateErrorKind kind, const std::string& message) : Error(message), kind_(kind) {}

  ChatTemplateErrorKind kind() const { return kind_; }

 private:
  ChatTemplateErrorKind kind_;
};

}  // namespace kvinfer::chat
