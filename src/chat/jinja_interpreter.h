// Renders a parsed template: runs its statements over scopes of variables and writes
// the output, with jinja2's scoping rules:
//
//   - the context variables and top-level {% set %} share the template scope;
//   - every for-loop iteration gets a fresh child scope, so assignments inside a loop
//     are gone after the iteration (a namespace carries values out);
//   - if blocks open no scope;
//   - a macro call runs in a child of the scope the macro was defined in.
//
// Every sandbox limit of RenderLimits is enforced here or in the functions it calls.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"
#include "chat/render_limits.h"

namespace kvinfer::chat::jinja {

// A scope of variables. Lookups walk up the parents.
struct Scope {
  std::unordered_map<std::string, Value> variables;
  std::shared_ptr<Scope> parent;
};

// Renders `body` with the variables of `context` (a dict with string keys);
// strftime_now() formats `now`. Throws ChatTemplateError: kind raised with the
// template's own message for raise_exception, otherwise a one-line message
// "chat template error at line N: ..." of kind runtime or limit.
std::string render_template(const Body& body, const Value& context, const RenderLimits& limits,
                            std::chrono::system_clock::time_point now);

}  // namespace kvinfer::chat::jinja
