// Python-style binding of call arguments to parameters.
#include "chat/jinja_call_args.h"

#include <fmt/format.h>

#include "chat/chat_template_error.h"

namespace kvinfer::chat::jinja {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::runtime, message);
}

}  // namespace

BoundArgs::BoundArgs(std::string function, const CallArgs& args, std::initializer_list<std::string_view> param_names)
    : function_(std::move(function)), param_names_(param_names), values_(param_names.size(), nullptr) {
  if (args.positional.size() > param_names_.size()) {
    fail(fmt::format("{} takes at most {} arguments, got {}", function_, param_names_.size(), args.positional.size()));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) values_[i] = &args.positional[i];

  for (const auto& [name, value] : args.keyword) {
    size_t index = 0;
    while (index < param_names_.size() && param_names_[index] != name) ++index;
    if (index == param_names_.size()) fail(fmt::format("{} got an unexpected argument '{}'", function_, name));
    if (values_[index] != nullptr) fail(fmt::format("{} got argument '{}' twice", function_, name));
    values_[index] = &value;
  }
}

const Value* BoundArgs::get(size_t index) const { return index < values_.size() ? values_[index] : nullptr; }

int64_t BoundArgs::get_int(size_t index, int64_t fallback) const {
  const Value* value = get(index);
  if (value == nullptr) return fallback;
  if (!value->is_integral()) fail_type(index, "an integer");
  return value->as_int();
}

bool BoundArgs::get_bool(size_t index, bool fallback) const {
  const Value* value = get(index);
  return value == nullptr ? fallback : truthy(*value);
}

std::string BoundArgs::get_string(size_t index, std::string fallback) const {
  const Value* value = get(index);
  if (value == nullptr) return fallback;
  if (!value->is_string()) fail_type(index, "a string");
  return value->as_string();
}

std::optional<std::string> BoundArgs::get_optional_string(size_t index) const {
  const Value* value = get(index);
  if (value == nullptr || value->is_none()) return std::nullopt;
  if (!value->is_string()) fail_type(index, "a string or none");
  return value->as_string();
}

void BoundArgs::fail_type(size_t index, std::string_view expected) const {
  const Value* value = get(index);
  fail(fmt::format("{}: argument '{}' must be {}, not '{}'", function_, param_names_[index], expected,
                   value != nullptr ? type_name(*value) : "missing"));
}

}  // namespace kvinfer::chat::jinja
