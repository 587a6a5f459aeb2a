// Global functions of the template sandbox.
#include "chat/jinja_globals.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>

#include "chat/chat_template_error.h"

namespace kvinfer::chat::jinja {
namespace {

constexpr std::array<std::string_view, 5> kGlobalFunctions = {"range", "namespace", "dict", "raise_exception",
                                                               "strftime_now"};

[[noreturn]] void fail(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::runtime, message);
}

// range(stop) or range(start, stop[, step]) as a list.
Value call_range(const CallArgs& args, const RenderLimits& limits) {
  if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
    fail("range() takes 1 to 3 positional arguments");
  }
  for (const Value& bound : args.positional) {
    if (!bound.is_integral()) fail(fmt::format("range() arguments must be integers, not '{}'", type_name(bound)));
  }
  const bool has_start = args.positional.size() > 1;
  const int64_t start = has_start ? args.positional[0].as_int() : 0;
  const int64_t stop = has_start ? args.positional[1].as_int() : args.positional[0].as_int();
  const int64_t step = args.positional.size() == 3 ? args.positional[2].as_int() : 1;
  if (step == 0) fail("range() step must not be zero");

  // Count in double so that extreme bounds cannot overflow.
  const double span = step > 0 ? static_cast<double>(stop) - static_cast<double>(start)
                               : static_cast<double>(start) - static_cast<double>(stop);
  const double n_items = span <= 0 ? 0 : std::ceil(span / std::abs(static_cast<double>(step)));
  if (n_items > static_cast<double>(limits.max_loop_iterations)) {
    throw ChatTemplateError(ChatTemplateErrorKind::limit,
                            fmt::format("range() of {:.0f} items exceeds the loop iteration limit of {}", n_items,
                                        limits.max_loop_iterations));
  }

  std::vector<Value> items;
  items.reserve(static_cast<size_t>(n_items));
  for (size_t i = 0; i < static_cast<size_t>(n_items); ++i) {
    items.push_back(Value::from_int(start + static_cast<int64_t>(i) * step));
  }
  return Value::make_list(std::move(items));
}

// namespace(dict?, key=value...) and dict(dict?, key=value...): one optional positional
// dict, then keyword arguments.
Dict collect_attributes(std::string_view function, const CallArgs& args) {
  Dict attributes;
  if (args.positional.size() > 1) fail(fmt::format("{}() takes at most one positional argument", function));
  if (!args.positional.empty()) {
    if (!args.positional[0].is_dict()) fail(fmt::format("{}() positional argument must be a dict", function));
    for (const auto& [key, value] : args.positional[0].as_dict().entries()) attributes.set(key, value);
  }
  for (const auto& [name, value] : args.keyword) attributes.set(Value::from_string(name), value);
  return attributes;
}

Value call_strftime_now(const CallArgs& args, std::chrono::system_clock::time_point now, const RenderLimits& limits) {
  const BoundArgs bound("strftime_now()", args, {"format"});
  const std::string format = bound.get_string(0, "");
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&seconds, &local);

  // strftime returns 0 both for an empty result and for a full buffer, so a 0 from a
  // buffer of the maximum string size means the result is empty.
  for (const size_t buffer_size : {format.size() * 8 + 64, limits.max_output_bytes + 1}) {
    std::string out(std::min(buffer_size, limits.max_output_bytes + 1), '\0');
    const size_t n_written = std::strftime(out.data(), out.size(), format.c_str(), &local);
    if (n_written > 0) {
      out.resize(n_written);
      return Value::from_string(std::move(out));
    }
  }
  return Value::from_string("");
}

}  // namespace

bool is_global_function(std::string_view name) {
  return std::find(kGlobalFunctions.begin(), kGlobalFunctions.end(), name) != kGlobalFunctions.end();
}

Value call_global_function(std::string_view name, const CallArgs& args, GlobalsContext& context) {
  if (name == "range") return call_range(args, context.limits);
  if (name == "dict") return Value::make_dict(collect_attributes(name, args));
  if (name == "namespace") {
    auto ns = std::make_shared<Namespace>(Namespace{collect_attributes(name, args)});
    context.namespaces.push_back(ns);
    return Value::make_namespace(std::move(ns));
  }
  if (name == "raise_exception") {
    const BoundArgs bound("raise_exception()", args, {"message"});
    throw ChatTemplateError(ChatTemplateErrorKind::raised, bound.has(0) ? to_str(*bound.get(0)) : "");
  }
  if (name == "strftime_now") return call_strftime_now(args, context.now, context.limits);
  fail(fmt::format("unknown function '{}'", name));
}

}  // namespace kvinfer::chat::jinja
