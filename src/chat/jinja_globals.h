// The global functions a chat template can call: range, namespace, dict,
// raise_exception (as Hugging Face's apply_chat_template defines it) and strftime_now
// (the date of the render). There are no functions that reach files, the environment
// or the network.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "chat/jinja_call_args.h"
#include "chat/jinja_value.h"
#include "chat/render_limits.h"

namespace kvinfer::chat::jinja {

// The render state that global functions read or record.
struct GlobalsContext {
  const RenderLimits& limits;
  // The time strftime_now formats, in the local time zone, as Python's datetime.now().
  std::chrono::system_clock::time_point now;
  // Every namespace created, so that the render can break reference cycles
  // ({% set ns.self = ns %}) when it ends.
  std::vector<std::shared_ptr<Namespace>>& namespaces;
};

bool is_global_function(std::string_view name);

// Calls global function `name`. raise_exception throws ChatTemplateError of kind
// raised with the template's message. A range() longer than limits.max_loop_iterations
// throws kind limit, and bad arguments throw kind runtime.
Value call_global_function(std::string_view name, const CallArgs& args, GlobalsContext& context);

}  // namespace kvinfer::chat::jinja
