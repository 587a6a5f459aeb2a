// Built-in filters and tests, dispatched by name through two tables.
#include "chat/jinja_filters.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <unordered_set>
#include <utility>

#include "chat/chat_template_error.h"
#include "chat/jinja_json.h"
#include "chat/jinja_members.h"
#include "chat/py_string.h"

namespace kvinfer::chat::jinja {
namespace {

using FilterFunction = Value (*)(const Value& input, const CallArgs& args, const RenderLimits& limits);
using TestFunction = bool (*)(const Value& input, const CallArgs& args);

[[noreturn]] void fail(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::runtime, message);
}

void check_string_size(size_t n_bytes, const RenderLimits& limits, std::string_view what) {
  if (n_bytes > limits.max_output_bytes) {
    throw ChatTemplateError(ChatTemplateErrorKind::limit,
                            fmt::format("{} result exceeds the string size limit of {} bytes", what,
                                        limits.max_output_bytes));
  }
}

Value string_value(std::string text, const RenderLimits& limits, std::string_view what) {
  check_string_size(text.size(), limits, what);
  return Value::from_string(std::move(text));
}

// Lower-cases strings when comparisons ignore case, as jinja2's ignore_case does.
Value case_key(const Value& value, bool case_sensitive) {
  if (case_sensitive || !value.is_string()) return value;
  return Value::from_string(to_lower(value.as_string()));
}

// Follows a dotted attribute path such as "function.name" (integer parts index lists)
// with item lookup first, as jinja2's make_attrgetter does.
Value lookup_path(const Value& item, const std::string& path) {
  Value current = item;
  size_t begin = 0;
  while (begin <= path.size()) {
    const size_t dot = std::min(path.find('.', begin), path.size());
    const std::string part = path.substr(begin, dot - begin);
    int64_t index = 0;
    const auto parsed = std::from_chars(part.data(), part.data() + part.size(), index);
    const bool is_index = !part.empty() && parsed.ec == std::errc() && parsed.ptr == part.data() + part.size() &&
                          part[0] != '-';
    current = get_item(current, is_index ? Value::from_int(index) : Value::from_string(part));
    begin = dot + 1;
  }
  return current;
}

// ---- string filters ----

Value filter_trim(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'trim'", args, {"chars"});
  return Value::from_string(strip(to_str(input), bound.get_optional_string(0), true, true));
}

Value filter_upper(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'upper'", args, {});
  return Value::from_string(to_upper(to_str(input)));
}

Value filter_lower(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'lower'", args, {});
  return Value::from_string(to_lower(to_str(input)));
}

Value filter_capitalize(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'capitalize'", args, {});
  return Value::from_string(capitalize(to_str(input)));
}

Value filter_title(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'title'", args, {});
  return Value::from_string(jinja_title(to_str(input)));
}

Value filter_replace(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  const BoundArgs bound("filter 'replace'", args, {"old", "new", "count"});
  const Value* count = bound.get(2);
  const int64_t max_count = count == nullptr || count->is_none() ? -1 : bound.get_int(2, -1);
  return Value::from_string(replace(to_str(input), to_str(bound.has(0) ? *bound.get(0) : Value()),
                                    to_str(bound.has(1) ? *bound.get(1) : Value()), max_count, limits.max_output_bytes));
}

Value filter_string(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  const BoundArgs no_arguments("filter 'string'", args, {});
  return Value::from_string(to_str(input, limits.max_output_bytes));
}

Value filter_safe(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'safe'", args, {});
  return input;
}

// HTML escaping as markupsafe does it.
Value filter_escape(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  const BoundArgs no_arguments("filter 'escape'", args, {});
  std::string out;
  for (const char c : to_str(input)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return string_value(std::move(out), limits, "filter 'escape'");
}

Value filter_center(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  const BoundArgs bound("filter 'center'", args, {"width"});
  const std::string text = to_str(input);
  const int64_t width = bound.get_int(0, 80);
  const int64_t n_code_points = static_cast<int64_t>(count_code_points(text));
  if (width <= n_code_points) return Value::from_string(text);
  check_string_size(text.size() + static_cast<uint64_t>(width - n_code_points), limits, "filter 'center'");

  // Python's str.center puts the odd space on the left when the width is odd.
  const int64_t padding = width - n_code_points;
  const int64_t left = padding / 2 + (padding & width & 1);
  return Value::from_string(std::string(static_cast<size_t>(left), ' ') + text +
                            std::string(static_cast<size_t>(padding - left), ' '));
}

// jinja2 3.1's indent: every line but the first (unless `first`) gets the indentation,
// and blank lines get it only when `blank`.
Value filter_indent(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  const BoundArgs bound("filter 'indent'", args, {"width", "first", "blank"});
  const Value* width = bound.get(0);
  std::string indentation;
  if (width != nullptr && width->is_string()) {
    indentation = width->as_string();
  } else {
    const int64_t n_spaces = std::max<int64_t>(0, bound.get_int(0, 4));
    check_string_size(static_cast<size_t>(n_spaces), limits, "filter 'indent'");
    indentation.assign(static_cast<size_t>(n_spaces), ' ');
  }
  const std::string text = to_str(input);
  check_string_size(text.size() + indentation.size() * (1 + static_cast<size_t>(std::count(text.begin(), text.end(), '\n'))),
                    limits, "filter 'indent'");

  // NOTE: lines are split on "\n" only, where Python's splitlines() also splits on
  // "\r", "\v", "\f" and Unicode line separators.
  std::vector<std::string> lines = split(text, std::string_view("\n"), -1);
  if (!lines.empty() && lines.back().empty() && lines.size() > 1) lines.pop_back();
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    const bool indent_line = (i > 0 || bound.get_bool(1, false)) && (!lines[i].empty() || bound.get_bool(2, false));
    if (indent_line) out += indentation;
    out += lines[i];
  }
  return Value::from_string(std::move(out));
}

Value filter_wordcount(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'wordcount'", args, {});
  // A word is a run of letters, digits, underscores or non-ASCII bytes, like "\w+".
  int64_t n_words = 0;
  bool in_word = false;
  for (const char c : to_str(input)) {
    const auto byte = static_cast<unsigned char>(c);
    const bool word_char = std::isalnum(byte) || c == '_' || byte >= 0x80;
    if (word_char && !in_word) ++n_words;
    in_word = word_char;
  }
  return Value::from_int(n_words);
}

// Runs snprintf with a printf spec and one argument, rejecting results (a huge width or
// precision) beyond the string size limit before allocating them.
template <typename T>
std::string checked_snprintf(const std::string& printf_spec, T argument, const RenderLimits& limits) {
  const int n_bytes = std::snprintf(nullptr, 0, printf_spec.c_str(), argument);
  if (n_bytes < 0) fail(fmt::format("format: invalid conversion '{}'", printf_spec));
  check_string_size(static_cast<size_t>(n_bytes), limits, "format");
  std::string out(static_cast<size_t>(n_bytes), '\0');
  std::snprintf(out.data(), out.size() + 1, printf_spec.c_str(), argument);
  return out;
}

// Rejects a width or precision in `spec` ("-08.3") beyond the string size limit, which
// snprintf would spend seconds padding even when only measuring.
void check_conversion_spec(std::string_view spec, const RenderLimits& limits) {
  uint64_t number = 0;
  for (const char c : spec) {
    if (c >= '0' && c <= '9') {
      number = std::min<uint64_t>(number * 10 + static_cast<uint64_t>(c - '0'), uint64_t{1} << 62);
      check_string_size(number, limits, "format width or precision");
    } else {
      number = 0;
    }
  }
}

// One %-conversion of Python's printf-style formatting: %s %r %d %i %f %F %e %g %x %X
// with flags, width and precision.
std::string format_conversion(std::string_view spec, char conversion, const Value& value, const RenderLimits& limits) {
  check_conversion_spec(spec, limits);
  if (conversion == 's' || conversion == 'r') {
    const std::string text = conversion == 's' ? to_str(value, limits.max_output_bytes) : to_repr(value, limits.max_output_bytes);
    return checked_snprintf(fmt::format("%{}s", spec), text.c_str(), limits);
  }
  if (!value.is_number()) fail(fmt::format("format: %{} needs a number, not '{}'", conversion, type_name(value)));
  if (conversion == 'd' || conversion == 'i' || conversion == 'x' || conversion == 'X') {
    if (!value.is_integral() && !(std::abs(value.as_double()) < 9.2e18)) {
      fail(fmt::format("format: %{} argument {} does not fit in 64 bits", conversion, format_float(value.as_double())));
    }
    const long long number = value.is_integral() ? value.as_int() : static_cast<long long>(value.as_double());
    return checked_snprintf(fmt::format("%{}ll{}", spec, conversion == 'i' ? 'd' : conversion), number, limits);
  }
  return checked_snprintf(fmt::format("%{}{}", spec, conversion), value.as_double(), limits);
}

}  // namespace

std::string percent_format(const std::string& pattern, const Value& arguments, const RenderLimits& limits) {
  const std::vector<Value> positional =
      arguments.is_list() && arguments.as_list().is_tuple ? arguments.as_list().items : std::vector<Value>{arguments};
  size_t next_index = 0;
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') {
      out += pattern[i];
      continue;
    }
    // %[(name)][flags][width][.precision]conversion
    size_t at = i + 1;
    const Value* value = nullptr;
    if (at < pattern.size() && pattern[at] == '(') {
      const size_t close = pattern.find(')', at);
      if (close == std::string::npos || !arguments.is_dict()) fail("format: %(name) needs a closing ')' and a dict");
      value = arguments.as_dict().find(std::string_view(pattern).substr(at + 1, close - at - 1));
      if (value == nullptr) fail(fmt::format("format: no key '{}'", pattern.substr(at + 1, close - at - 1)));
      at = close + 1;
    }
    const size_t spec_begin = at;
    while (at < pattern.size() && std::string_view("-+ #0123456789.").find(pattern[at]) != std::string_view::npos) ++at;
    if (at >= pattern.size()) fail("format: incomplete format");
    const char conversion = pattern[at];
    i = at;
    if (conversion == '%') {
      out += '%';
      continue;
    }
    if (std::string_view("srdixXfFeEgG").find(conversion) == std::string_view::npos) {
      fail(fmt::format("format: unsupported format character '{}'", conversion));
    }
    if (value == nullptr) {
      if (next_index >= positional.size()) fail("format: not enough arguments for format string");
      value = &positional[next_index++];
    }
    out += format_conversion(std::string_view(pattern).substr(spec_begin, at - spec_begin), conversion, *value, limits);
    check_string_size(out.size(), limits, "format");
  }
  return out;
}

namespace {

Value filter_format(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  if (!args.keyword.empty()) {
    Dict named;
    for (const auto& [name, value] : args.keyword) named.set(Value::from_string(name), value);
    return Value::from_string(percent_format(to_str(input), Value::make_dict(std::move(named)), limits));
  }
  return Value::from_string(percent_format(to_str(input), Value::make_list(args.positional, true), limits));
}

// ---- sequence filters ----

Value filter_length(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'length'", args, {});
  return Value::from_int(length_of(input));
}

Value filter_first(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'first'", args, {});
  const std::vector<Value> items = iterate(input);
  return items.empty() ? Value::undefined("first: the sequence is empty") : items.front();
}

Value filter_last(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'last'", args, {});
  const std::vector<Value> items = iterate(input);
  return items.empty() ? Value::undefined("last: the sequence is empty") : items.back();
}

Value filter_list(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'list'", args, {});
  return Value::make_list(iterate(input));
}

Value filter_items(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'items'", args, {});
  if (input.is_undefined()) return Value::make_list({});
  if (!input.is_dict()) fail(fmt::format("filter 'items' needs a dict, not '{}'", type_name(input)));
  return call_method(input, "items", CallArgs{}, RenderLimits{});
}

Value filter_join(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  const BoundArgs bound("filter 'join'", args, {"d", "attribute"});
  const std::string separator = to_str(bound.has(0) ? *bound.get(0) : Value::from_string(""));
  const std::optional<std::string> attribute = bound.get_optional_string(1);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(input)) {
    if (!first) out += separator;
    first = false;
    out += to_str(attribute ? lookup_path(item, *attribute) : item, limits.max_output_bytes);
    check_string_size(out.size(), limits, "filter 'join'");
  }
  return Value::from_string(std::move(out));
}

Value filter_reverse(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'reverse'", args, {});
  if (input.is_string()) return get_slice(input, std::nullopt, std::nullopt, -1);
  std::vector<Value> items = iterate(input);
  std::reverse(items.begin(), items.end());
  return Value::make_list(std::move(items));
}

Value filter_sort(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'sort'", args, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = bound.get_bool(0, false);
  const bool case_sensitive = bound.get_bool(1, false);
  const std::optional<std::string> attribute = bound.get_optional_string(2);
  auto key = [&](const Value& item) { return case_key(attribute ? lookup_path(item, *attribute) : item, case_sensitive); };

  std::vector<Value> items = iterate(input);
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? compare(key(b), key(a)) < 0 : compare(key(a), key(b)) < 0;
  });
  return Value::make_list(std::move(items));
}

Value filter_dictsort(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'dictsort'", args, {"case_sensitive", "by", "reverse"});
  if (!input.is_dict()) fail(fmt::format("filter 'dictsort' needs a dict, not '{}'", type_name(input)));
  const bool case_sensitive = bound.get_bool(0, false);
  const std::string by = bound.get_string(1, "key");
  if (by != "key" && by != "value") fail("filter 'dictsort': 'by' must be 'key' or 'value'");
  const bool reverse = bound.get_bool(2, false);
  const size_t position = by == "key" ? 0 : 1;

  std::vector<Value> pairs = call_method(input, "items", CallArgs{}, RenderLimits{}).as_list().items;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
    const int order = compare(case_key(a.as_list().items[position], case_sensitive),
                              case_key(b.as_list().items[position], case_sensitive));
    return reverse ? order > 0 : order < 0;
  });
  return Value::make_list(std::move(pairs));
}

// A text that is equal for two scalars exactly when Python's == is true (so 1, 1.0 and
// True share one), or nullopt for lists and dicts.
std::optional<std::string> scalar_identity(const Value& value) {
  if (value.is_string()) return "s" + value.as_string();
  if (value.is_none()) return std::string("z");
  if (value.is_integral()) return "n" + std::to_string(value.as_int());
  if (value.kind() == Value::Kind::floating) {
    const double number = value.as_double();
    if (std::trunc(number) == number && std::abs(number) < 9.2e18) return "n" + std::to_string(static_cast<int64_t>(number));
    return "f" + format_float(number);
  }
  return std::nullopt;
}

// Keeps the first of equal items. Scalars are found through a hash set, so long lists
// stay fast; lists and dicts fall back to comparing with every earlier one.
Value filter_unique(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'unique'", args, {"case_sensitive", "attribute"});
  const bool case_sensitive = bound.get_bool(0, false);
  const std::optional<std::string> attribute = bound.get_optional_string(1);
  std::unordered_set<std::string> seen_scalars;
  std::vector<Value> seen_containers;
  std::vector<Value> unique_items;
  for (const Value& item : iterate(input)) {
    Value key = case_key(attribute ? lookup_path(item, *attribute) : item, case_sensitive);
    if (std::optional<std::string> identity = scalar_identity(key)) {
      if (!seen_scalars.insert(std::move(*identity)).second) continue;
    } else {
      const bool seen = std::any_of(seen_containers.begin(), seen_containers.end(),
                                    [&](const Value& earlier) { return equals(earlier, key); });
      if (seen) continue;
      seen_containers.push_back(std::move(key));
    }
    unique_items.push_back(item);
  }
  return Value::make_list(std::move(unique_items));
}

Value extreme(const Value& input, const CallArgs& args, std::string_view name, bool want_max) {
  const BoundArgs bound(fmt::format("filter '{}'", name), args, {"case_sensitive", "attribute"});
  const bool case_sensitive = bound.get_bool(0, false);
  const std::optional<std::string> attribute = bound.get_optional_string(1);
  auto key = [&](const Value& item) { return case_key(attribute ? lookup_path(item, *attribute) : item, case_sensitive); };

  const std::vector<Value> items = iterate(input);
  if (items.empty()) return Value::undefined(fmt::format("{}: the sequence is empty", name));
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const int order = compare(key(items[i]), key(items[best]));
    if (want_max ? order > 0 : order < 0) best = i;
  }
  return items[best];
}

Value filter_max(const Value& input, const CallArgs& args, const RenderLimits&) { return extreme(input, args, "max", true); }
Value filter_min(const Value& input, const CallArgs& args, const RenderLimits&) { return extreme(input, args, "min", false); }

Value filter_batch(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'batch'", args, {"linecount", "fill_with"});
  const int64_t line_count = bound.get_int(0, 0);
  if (line_count <= 0) fail("filter 'batch': linecount must be positive");
  std::vector<Value> batches;
  std::vector<Value> batch;
  for (const Value& item : iterate(input)) {
    batch.push_back(item);
    if (static_cast<int64_t>(batch.size()) == line_count) batches.push_back(Value::make_list(std::exchange(batch, {})));
  }
  if (!batch.empty()) {
    while (bound.has(1) && static_cast<int64_t>(batch.size()) < line_count) batch.push_back(*bound.get(1));
    batches.push_back(Value::make_list(std::move(batch)));
  }
  return Value::make_list(std::move(batches));
}

Value filter_sum(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'sum'", args, {"attribute", "start"});
  const std::optional<std::string> attribute = bound.get_optional_string(0);
  Value total = bound.has(1) ? *bound.get(1) : Value::from_int(0);
  for (const Value& item : iterate(input)) {
    const Value term = attribute ? lookup_path(item, *attribute) : item;
    if (!total.is_number() || !term.is_number()) fail(fmt::format("filter 'sum' cannot add '{}'", type_name(term)));
    if (total.is_integral() && term.is_integral()) {
      int64_t result = 0;
      if (__builtin_add_overflow(total.as_int(), term.as_int(), &result)) fail("filter 'sum': integer overflow");
      total = Value::from_int(result);
    } else {
      total = Value::from_float(total.as_double() + term.as_double());
    }
  }
  return total;
}

// ---- selecting and mapping ----

// select/reject/selectattr/rejectattr: keeps items whose (attribute) value passes the
// test, or is true when no test is named.
Value select_items(const Value& input, const CallArgs& args, bool by_attribute, bool keep_matches) {
  size_t next = 0;
  std::optional<std::string> attribute;
  if (by_attribute) {
    if (args.positional.empty() || !args.positional[0].is_string()) fail("selectattr/rejectattr need an attribute name");
    attribute = args.positional[next++].as_string();
  }
  std::optional<std::string> test_name;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) fail("select/reject: the test name must be a string");
    test_name = args.positional[next++].as_string();
    if (!is_test_name(*test_name)) fail(fmt::format("unknown test '{}'", *test_name));
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
  test_args.keyword = args.keyword;

  std::vector<Value> kept;
  for (const Value& item : iterate(input)) {
    const Value subject = attribute ? lookup_path(item, *attribute) : item;
    const bool passes = test_name ? apply_test(*test_name, subject, test_args) : truthy(subject);
    if (passes == keep_matches) kept.push_back(item);
  }
  return Value::make_list(std::move(kept));
}

Value filter_select(const Value& input, const CallArgs& args, const RenderLimits&) { return select_items(input, args, false, true); }
Value filter_reject(const Value& input, const CallArgs& args, const RenderLimits&) { return select_items(input, args, false, false); }
Value filter_selectattr(const Value& input, const CallArgs& args, const RenderLimits&) { return select_items(input, args, true, true); }
Value filter_rejectattr(const Value& input, const CallArgs& args, const RenderLimits&) { return select_items(input, args, true, false); }

// map(attribute="x", default=...) or map("filter", args...).
Value filter_map(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  std::vector<Value> mapped;
  const auto attribute = std::find_if(args.keyword.begin(), args.keyword.end(), [](const auto& kw) { return kw.first == "attribute"; });
  if (attribute != args.keyword.end()) {
    if (!attribute->second.is_string()) fail("filter 'map': attribute must be a string");
    const auto fallback = std::find_if(args.keyword.begin(), args.keyword.end(), [](const auto& kw) { return kw.first == "default"; });
    for (const Value& item : iterate(input)) {
      Value value = lookup_path(item, attribute->second.as_string());
      if (value.is_undefined() && fallback != args.keyword.end()) value = fallback->second;
      mapped.push_back(std::move(value));
    }
    return Value::make_list(std::move(mapped));
  }

  if (args.positional.empty() || !args.positional[0].is_string()) fail("filter 'map' needs a filter name or attribute=");
  const std::string& name = args.positional[0].as_string();
  if (!is_filter_name(name)) fail(fmt::format("unknown filter '{}'", name));
  CallArgs filter_args{{args.positional.begin() + 1, args.positional.end()}, args.keyword};
  for (const Value& item : iterate(input)) mapped.push_back(apply_filter(name, item, filter_args, limits));
  return Value::make_list(std::move(mapped));
}

Value filter_attr(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'attr'", args, {"name"});
  return get_attribute(input, bound.get_string(0, ""));
}

// ---- values and numbers ----

Value filter_default(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'default'", args, {"default_value", "boolean"});
  const bool use_default = bound.get_bool(1, false) ? !truthy(input) : input.is_undefined();
  if (!use_default) return input;
  return bound.has(0) ? *bound.get(0) : Value::from_string("");
}

// Python's int(text, base) for a string: optional sign, digits with '_' separators,
// surrounding whitespace allowed.
std::optional<int64_t> parse_python_int(const std::string& text, int base) {
  std::string digits;
  for (const char c : strip(text, std::nullopt, true, true)) {
    if (c != '_') digits += c;
  }
  if (digits.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(digits.c_str(), &end, base);
  if (errno != 0 || end != digits.c_str() + digits.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_python_float(const std::string& text) {
  const std::string trimmed = strip(text, std::nullopt, true, true);
  if (trimmed.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size()) return std::nullopt;
  return value;
}

Value filter_int(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'int'", args, {"default", "base"});
  const Value fallback = bound.has(0) ? *bound.get(0) : Value::from_int(0);
  if (input.is_integral()) return Value::from_int(input.as_int());
  if (input.kind() == Value::Kind::floating) {
    const double truncated = std::trunc(input.as_double());
    if (!std::isfinite(truncated) || std::abs(truncated) >= 9.2e18) return fallback;
    return Value::from_int(static_cast<int64_t>(truncated));
  }
  if (!input.is_string()) return fallback;
  if (const std::optional<int64_t> parsed = parse_python_int(input.as_string(), static_cast<int>(bound.get_int(1, 10)))) {
    return Value::from_int(*parsed);
  }
  const std::optional<double> as_float = parse_python_float(input.as_string());
  if (!as_float || !std::isfinite(*as_float) || std::abs(*as_float) >= 9.2e18) return fallback;
  return Value::from_int(static_cast<int64_t>(std::trunc(*as_float)));
}

Value filter_float(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'float'", args, {"default"});
  const Value fallback = bound.has(0) ? *bound.get(0) : Value::from_float(0.0);
  if (input.is_number()) return Value::from_float(input.as_double());
  if (!input.is_string()) return fallback;
  const std::optional<double> parsed = parse_python_float(input.as_string());
  return parsed ? Value::from_float(*parsed) : fallback;
}

Value filter_abs(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs no_arguments("filter 'abs'", args, {});
  if (input.kind() == Value::Kind::floating) return Value::from_float(std::abs(input.as_double()));
  if (!input.is_integral()) fail(fmt::format("filter 'abs' needs a number, not '{}'", type_name(input)));
  if (input.as_int() == std::numeric_limits<int64_t>::min()) fail("filter 'abs': integer overflow");
  return Value::from_int(std::abs(input.as_int()));
}

// round(value, precision=0, method="common"). "common" is Python's round(), which
// rounds the exact binary value half to even. "ceil" and "floor" round up or down.
Value filter_round(const Value& input, const CallArgs& args, const RenderLimits&) {
  const BoundArgs bound("filter 'round'", args, {"precision", "method"});
  const int64_t precision = bound.get_int(0, 0);
  const std::string method = bound.get_string(1, "common");
  if (method != "common" && method != "ceil" && method != "floor") fail("filter 'round': method must be common, ceil or floor");
  if (!input.is_number()) fail(fmt::format("filter 'round' needs a number, not '{}'", type_name(input)));
  if (method == "common" && input.is_integral()) return Value::from_int(input.as_int());

  const double value = input.as_double();
  if (method != "common") {
    const double scale = std::pow(10.0, static_cast<double>(precision));
    return Value::from_float((method == "ceil" ? std::ceil(value * scale) : std::floor(value * scale)) / scale);
  }
  if (precision < 0 || precision > 300 || !std::isfinite(value)) {
    const double scale = std::pow(10.0, static_cast<double>(precision));
    return Value::from_float(std::nearbyint(value * scale) / scale);
  }
  // printf rounds the exact binary value half to even, as Python's round() does.
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), "%.*f", static_cast<int>(precision), value);
  return Value::from_float(std::strtod(buffer, nullptr));
}

Value filter_tojson(const Value& input, const CallArgs& args, const RenderLimits& limits) {
  // Hugging Face's signature: tojson(x, ensure_ascii=False, indent=None, separators=None,
  // sort_keys=False).
  const BoundArgs bound("filter 'tojson'", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonFormat format;
  format.ensure_ascii = bound.get_bool(0, false);
  format.sort_keys = bound.get_bool(3, false);
  if (const Value* indent = bound.get(1); indent != nullptr && !indent->is_none()) {
    if (indent->is_string()) format.indent = indent->as_string();
    else format.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(bound.get_int(1, 0), 0, 1024)), ' ');
    format.item_separator = ",";
  }
  if (const Value* separators = bound.get(2); separators != nullptr && !separators->is_none()) {
    if (!separators->is_list() || separators->as_list().items.size() != 2 || !separators->as_list().items[0].is_string() ||
        !separators->as_list().items[1].is_string()) {
      bound.fail_type(2, "a pair of strings");
    }
    format.item_separator = separators->as_list().items[0].as_string();
    format.key_separator = separators->as_list().items[1].as_string();
  }
  return Value::from_string(to_json(input, format, limits.max_output_bytes));
}

const std::map<std::string_view, FilterFunction>& filters() {
  static const std::map<std::string_view, FilterFunction> table = {
      {"abs", filter_abs},         {"attr", filter_attr},       {"batch", filter_batch},
      {"capitalize", filter_capitalize}, {"center", filter_center}, {"count", filter_length},
      {"d", filter_default},       {"default", filter_default}, {"dictsort", filter_dictsort},
      {"e", filter_escape},        {"escape", filter_escape},   {"first", filter_first},
      {"float", filter_float},     {"format", filter_format},   {"indent", filter_indent},
      {"int", filter_int},         {"items", filter_items},     {"join", filter_join},
      {"last", filter_last},       {"length", filter_length},   {"list", filter_list},
      {"lower", filter_lower},     {"map", filter_map},         {"max", filter_max},
      {"min", filter_min},         {"reject", filter_reject},   {"rejectattr", filter_rejectattr},
      {"replace", filter_replace}, {"reverse", filter_reverse}, {"round", filter_round},
      {"safe", filter_safe},       {"select", filter_select},   {"selectattr", filter_selectattr},
      {"sort", filter_sort},       {"string", filter_string},   {"sum", filter_sum},
      {"title", filter_title},     {"tojson", filter_tojson},   {"trim", filter_trim},
      {"unique", filter_unique},   {"upper", filter_upper},     {"wordcount", filter_wordcount},
  };
  return table;
}

// ---- tests ----

const Value& test_argument(const CallArgs& args, std::string_view test) {
  if (args.positional.size() != 1 || !args.keyword.empty()) fail(fmt::format("test '{}' takes one argument", test));
  return args.positional[0];
}

void expect_no_arguments(const CallArgs& args, std::string_view test) {
  if (!args.positional.empty() || !args.keyword.empty()) fail(fmt::format("test '{}' takes no arguments", test));
}

bool test_defined(const Value& v, const CallArgs& a) { expect_no_arguments(a, "defined"); return !v.is_undefined(); }
bool test_undefined(const Value& v, const CallArgs& a) { expect_no_arguments(a, "undefined"); return v.is_undefined(); }
bool test_none(const Value& v, const CallArgs& a) { expect_no_arguments(a, "none"); return v.is_none(); }
bool test_boolean(const Value& v, const CallArgs& a) { expect_no_arguments(a, "boolean"); return v.kind() == Value::Kind::boolean; }
bool test_true(const Value& v, const CallArgs& a) { expect_no_arguments(a, "true"); return v.kind() == Value::Kind::boolean && v.as_bool(); }
bool test_false(const Value& v, const CallArgs& a) { expect_no_arguments(a, "false"); return v.kind() == Value::Kind::boolean && !v.as_bool(); }
bool test_integer(const Value& v, const CallArgs& a) { expect_no_arguments(a, "integer"); return v.kind() == Value::Kind::integer; }
bool test_float(const Value& v, const CallArgs& a) { expect_no_arguments(a, "float"); return v.kind() == Value::Kind::floating; }
bool test_number(const Value& v, const CallArgs& a) { expect_no_arguments(a, "number"); return v.is_number(); }
bool test_string(const Value& v, const CallArgs& a) { expect_no_arguments(a, "string"); return v.is_string(); }
bool test_mapping(const Value& v, const CallArgs& a) { expect_no_arguments(a, "mapping"); return v.is_dict(); }
bool test_callable(const Value& v, const CallArgs& a) { expect_no_arguments(a, "callable"); return v.kind() == Value::Kind::callable; }
bool test_escaped(const Value&, const CallArgs& a) { expect_no_arguments(a, "escaped"); return false; }

// Strings, lists, dicts and undefined (which iterates as empty) are iterable, and the
// same values are sequences because they all have a length and items.
bool test_iterable(const Value& v, const CallArgs& a) {
  expect_no_arguments(a, "iterable");
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
}
bool test_sequence(const Value& v, const CallArgs& a) { expect_no_arguments(a, "sequence"); return test_iterable(v, {}); }

bool integer_operand(const Value& v, std::string_view test) {
  if (!v.is_number()) fail(fmt::format("test '{}' needs a number, not '{}'", test, type_name(v)));
  return v.is_integral();
}

bool test_odd(const Value& v, const CallArgs& a) {
  expect_no_arguments(a, "odd");
  return integer_operand(v, "odd") ? (v.as_int() % 2 != 0) : std::fmod(v.as_double(), 2.0) != 0.0;
}
bool test_even(const Value& v, const CallArgs& a) {
  expect_no_arguments(a, "even");
  return integer_operand(v, "even") ? (v.as_int() % 2 == 0) : std::fmod(v.as_double(), 2.0) == 0.0;
}
bool test_divisibleby(const Value& v, const CallArgs& a) {
  const Value& divisor = test_argument(a, "divisibleby");
  if (!integer_operand(v, "divisibleby") || !divisor.is_integral()) return std::fmod(v.as_double(), divisor.as_double()) == 0.0;
  if (divisor.as_int() == 0) fail("test 'divisibleby': division by zero");
  return v.as_int() % divisor.as_int() == 0;
}

bool test_eq(const Value& v, const CallArgs& a) { return equals(v, test_argument(a, "eq")); }
bool test_ne(const Value& v, const CallArgs& a) { return !equals(v, test_argument(a, "ne")); }
bool test_lt(const Value& v, const CallArgs& a) { return compare(v, test_argument(a, "lt")) < 0; }
bool test_le(const Value& v, const CallArgs& a) { return compare(v, test_argument(a, "le")) <= 0; }
bool test_gt(const Value& v, const CallArgs& a) { return compare(v, test_argument(a, "gt")) > 0; }
bool test_ge(const Value& v, const CallArgs& a) { return compare(v, test_argument(a, "ge")) >= 0; }
bool test_in(const Value& v, const CallArgs& a) { return contains(test_argument(a, "in"), v); }

// Identity for lists and dicts, and equality of the same type for everything else.
// NOTE: Python compares identity of strings and numbers too, which depends on interning;
// equal strings and numbers count as the same object here.
bool test_sameas(const Value& v, const CallArgs& a) {
  const Value& other = test_argument(a, "sameas");
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::list: return &v.as_list() == &other.as_list();
    case Value::Kind::dict: return &v.as_dict() == &other.as_dict();
    default: return equals(v, other);
  }
}

bool test_lower(const Value& v, const CallArgs& a) {
  expect_no_arguments(a, "lower");
  const std::string text = to_str(v);
  return to_lower(text) == text && to_upper(text) != text;
}
bool test_upper(const Value& v, const CallArgs& a) {
  expect_no_arguments(a, "upper");
  const std::string text = to_str(v);
  return to_upper(text) == text && to_lower(text) != text;
}

bool test_filter(const Value& v, const CallArgs& a) { expect_no_arguments(a, "filter"); return v.is_string() && is_filter_name(v.as_string()); }
bool test_test(const Value& v, const CallArgs& a) { expect_no_arguments(a, "test"); return v.is_string() && is_test_name(v.as_string()); }

const std::map<std::string_view, TestFunction>& tests() {
  static const std::map<std::string_view, TestFunction> table = {
      {"boolean", test_boolean}, {"callable", test_callable}, {"defined", test_defined},
      {"divisibleby", test_divisibleby}, {"eq", test_eq}, {"equalto", test_eq}, {"==", test_eq},
      {"escaped", test_escaped}, {"even", test_even}, {"false", test_false}, {"filter", test_filter},
      {"float", test_float}, {"ge", test_ge}, {">=", test_ge}, {"gt", test_gt}, {"greaterthan", test_gt},
      {">", test_gt}, {"in", test_in}, {"integer", test_integer}, {"iterable", test_iterable},
      {"le", test_le}, {"<=", test_le}, {"lower", test_lower}, {"lt", test_lt}, {"lessthan", test_lt},
      {"<", test_lt}, {"mapping", test_mapping}, {"ne", test_ne}, {"!=", test_ne}, {"none", test_none},
      {"number", test_number}, {"odd", test_odd}, {"sameas", test_sameas}, {"sequence", test_sequence},
      {"string", test_string}, {"test", test_test}, {"true", test_true}, {"undefined", test_undefined},
      {"upper", test_upper},
  };
  return table;
}

}  // namespace

bool is_filter_name(std::string_view name) { return filters().contains(name); }

bool is_test_name(std::string_view name) { return tests().contains(name); }

Value apply_filter(std::string_view name, const Value& input, const CallArgs& args, const RenderLimits& limits) {
  const auto found = filters().find(name);
  if (found == filters().end()) fail(fmt::format("unknown filter '{}'", name));
  return found->second(input, args, limits);
}

bool apply_test(std::string_view name, const Value& input, const CallArgs& args) {
  const auto found = tests().find(name);
  if (found == tests().end()) fail(fmt::format("unknown test '{}'", name));
  return found->second(input, args);
}

}  // namespace kvinfer::chat::jinja
