// Evaluated arguments of a call, filter, test or method, and their binding to named
// parameters the way Python binds them: positionally in order, or by keyword.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace kvinfer::chat::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Binds `args` to the parameters `param_names` of `function` (a name such as
// "filter 'join'", used in messages). Throws ChatTemplateError for too many positional
// arguments, an unknown keyword or a parameter given twice.
class BoundArgs {
 public:
  BoundArgs(std::string function, const CallArgs& args, std::initializer_list<std::string_view> param_names);

  // The argument of parameter `index`, or null when it was not given.
  const Value* get(size_t index) const;
  bool has(size_t index) const { return get(index) != nullptr; }

  // Typed getters. They return `fallback` when the argument is absent (nullopt also for
  // None in get_optional_string) and throw ChatTemplateError for a wrong type.
  int64_t get_int(size_t index, int64_t fallback) const;
  bool get_bool(size_t index, bool fallback) const;
  std::string get_string(size_t index, std::string fallback) const;
  std::optional<std::string> get_optional_string(size_t index) const;

  // Throws ChatTemplateError naming the function and the parameter.
  [[noreturn]] void fail_type(size_t index, std::string_view expected) const;

 private:
  std::string function_;
  std::vector<std::string_view> param_names_;
  std::vector<const Value*> values_;
};

}  // namespace kvinfer::chat::jinja
