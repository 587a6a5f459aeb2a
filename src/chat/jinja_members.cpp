// Attribute, item and slice lookup, iteration, and the built-in methods of values.
#include "chat/jinja_members.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

#include "chat/chat_template_error.h"
#include "chat/py_string.h"

namespace kvinfer::chat::jinja {
namespace {

constexpr std::array<std::string_view, 15> kStringMethods = {
    "strip", "lstrip",     "rstrip",  "split", "startswith", "endswith", "upper", "lower",
    "title", "capitalize", "replace", "find",  "count",      "format",   "join"};
constexpr std::array<std::string_view, 4> kDictMethods = {"get", "items", "keys", "values"};
constexpr std::array<std::string_view, 2> kListMethods = {"index", "count"};
// Methods that change their object, which the immutable sandbox rejects.
constexpr std::array<std::string_view, 8> kMutatingListMethods = {"append", "clear",  "extend",  "insert",
                                                                  "pop",    "remove", "reverse", "sort"};
constexpr std::array<std::string_view, 5> kMutatingDictMethods = {"clear", "pop", "popitem", "setdefault", "update"};

template <size_t N>
bool is_one_of(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

[[noreturn]] void fail(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::runtime, message);
}

void check_result_size(size_t n_bytes, const RenderLimits& limits, std::string_view function) {
  if (n_bytes > limits.max_output_bytes) {
    throw ChatTemplateError(ChatTemplateErrorKind::limit,
                            fmt::format("{} result exceeds the string size limit of {} bytes", function,
                                        limits.max_output_bytes));
  }
}

Value bind_method(const Value& receiver, const std::string& name) {
  return Value::make_callable(Callable{Callable::Kind::method, name, nullptr, nullptr, receiver});
}

Value immutable_method(const Value& receiver, const std::string& name) {
  return Value::undefined(fmt::format("{}.{}() is not allowed: lists and dicts cannot be changed in a chat template; "
                                      "use a namespace attribute and build a new value instead",
                                      type_name(receiver), name));
}

Value loop_attribute(const Value& loop_value, const std::string& name) {
  const LoopInfo& loop = loop_value.as_loop();
  const auto length = static_cast<int64_t>(loop.items->size());
  const auto index0 = static_cast<int64_t>(loop.index0);
  if (name == "index") return Value::from_int(index0 + 1);
  if (name == "index0") return Value::from_int(index0);
  if (name == "revindex") return Value::from_int(length - index0);
  if (name == "revindex0") return Value::from_int(length - index0 - 1);
  if (name == "first") return Value::from_bool(index0 == 0);
  if (name == "last") return Value::from_bool(index0 + 1 == length);
  if (name == "length") return Value::from_int(length);
  if (name == "depth") return Value::from_int(1);
  if (name == "depth0") return Value::from_int(0);
  if (name == "previtem") {
    return index0 > 0 ? (*loop.items)[loop.index0 - 1] : Value::undefined("loop.previtem is undefined on the first item");
  }
  if (name == "nextitem") {
    return index0 + 1 < length ? (*loop.items)[loop.index0 + 1]
                               : Value::undefined("loop.nextitem is undefined on the last item");
  }
  if (name == "cycle") return bind_method(loop_value, name);
  return Value::undefined(fmt::format("loop has no attribute '{}'", name));
}

// Resolves a Python index (negative counts from the end) against `size`.
std::optional<size_t> resolve_index(int64_t index, size_t size) {
  const int64_t resolved = index < 0 ? index + static_cast<int64_t>(size) : index;
  if (resolved < 0 || resolved >= static_cast<int64_t>(size)) return std::nullopt;
  return static_cast<size_t>(resolved);
}

// The positions a Python slice visits in a sequence of `size` items.
std::vector<size_t> slice_positions(size_t size, std::optional<int64_t> start, std::optional<int64_t> stop,
                                    std::optional<int64_t> step) {
  const int64_t n = static_cast<int64_t>(size);
  const int64_t stride = step.value_or(1);
  if (stride == 0) fail("slice step cannot be zero");

  // Clamp the bounds as Python slicing does: to [0, n] for a positive step, [-1, n - 1] for a
  // negative one, where -1 stands for "before the first item".
  const int64_t low = stride > 0 ? 0 : -1;
  const int64_t high = stride > 0 ? n : n - 1;
  auto clamp = [&](std::optional<int64_t> bound, int64_t fallback) {
    if (!bound) return fallback;
    const int64_t value = *bound < 0 ? *bound + n : *bound;
    return std::clamp(value, low, high);
  };
  const int64_t first = clamp(start, stride > 0 ? 0 : n - 1);
  const int64_t end = clamp(stop, stride > 0 ? n : -1);

  std::vector<size_t> positions;
  for (int64_t i = first; stride > 0 ? i < end : i > end; i += stride) positions.push_back(static_cast<size_t>(i));
  return positions;
}

bool matches_affix(const std::string& text, const Value& affixes, bool prefix) {
  auto matches = [&](const Value& affix) {
    if (!affix.is_string()) fail(fmt::format("{}() argument must be str or a tuple of str, not '{}'",
                                             prefix ? "startswith" : "endswith", type_name(affix)));
    return prefix ? text.starts_with(affix.as_string()) : text.ends_with(affix.as_string());
  };
  if (affixes.is_list()) return std::any_of(affixes.as_list().items.begin(), affixes.as_list().items.end(), matches);
  return matches(affixes);
}

// str.format with "{}", "{0}" and "{name}" fields and "!s" / "!r" conversions.
std::string format_string(const std::string& pattern, const CallArgs& args) {
  std::string out;
  size_t next_auto_index = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') fail("format(): single '}' in format string");
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == std::string::npos) fail("format(): single '{' in format string");
    std::string field = pattern.substr(i + 1, close - i - 1);
    i = close;

    char conversion = 's';
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 's';
      field.resize(bang);
    }
    if (field.find(':') != std::string::npos) fail("format(): format specifications are not supported");

    const Value* value = nullptr;
    size_t index = 0;
    const auto parsed = std::from_chars(field.data(), field.data() + field.size(), index);
    const bool is_number = parsed.ec == std::errc() && parsed.ptr == field.data() + field.size();
    if (field.empty() || is_number) {
      if (field.empty()) index = next_auto_index++;
      if (index >= args.positional.size()) fail(fmt::format("format(): no positional argument {}", index));
      value = &args.positional[index];
    } else {
      for (const auto& [name, keyword_value] : args.keyword) {
        if (name == field) value = &keyword_value;
      }
      if (value == nullptr) fail(fmt::format("format(): no argument named '{}'", field));
    }
    out += conversion == 'r' ? to_repr(*value) : to_str(*value);
  }
  return out;
}

Value call_string_method(const std::string& text, const std::string& name, const CallArgs& args,
                         const RenderLimits& limits) {
  const std::string function = fmt::format("str.{}()", name);
  if (name == "format") {
    std::string out = format_string(text, args);
    check_result_size(out.size(), limits, function);
    return Value::from_string(std::move(out));
  }
  if (name == "join") {
    const BoundArgs bound(function, args, {"iterable"});
    if (!bound.has(0)) bound.fail_type(0, "an iterable of strings");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(*bound.get(0))) {
      if (!item.is_string()) fail(fmt::format("str.join(): items must be strings, not '{}'", type_name(item)));
      if (!first) out += text;
      first = false;
      out += item.as_string();
      check_result_size(out.size(), limits, function);
    }
    return Value::from_string(std::move(out));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const BoundArgs bound(function, args, {"chars"});
    return Value::from_string(strip(text, bound.get_optional_string(0), name != "rstrip", name != "lstrip"));
  }
  if (name == "split") {
    const BoundArgs bound(function, args, {"sep", "maxsplit"});
    std::vector<Value> parts;
    for (std::string& part : split(text, bound.get_optional_string(0), bound.get_int(1, -1))) {
      parts.push_back(Value::from_string(std::move(part)));
    }
    return Value::make_list(std::move(parts));
  }
  if (name == "startswith" || name == "endswith") {
    const BoundArgs bound(function, args, {"affix"});
    if (!bound.has(0)) bound.fail_type(0, "a string or a tuple of strings");
    return Value::from_bool(matches_affix(text, *bound.get(0), name == "startswith"));
  }
  if (name == "replace") {
    const BoundArgs bound(function, args, {"old", "new", "count"});
    return Value::from_string(
        replace(text, bound.get_string(0, ""), bound.get_string(1, ""), bound.get_int(2, -1), limits.max_output_bytes));
  }
  if (name == "find" || name == "count") {
    const BoundArgs bound(function, args, {"sub"});
    const std::string needle = bound.get_string(0, "");
    if (name == "find") return Value::from_int(find(text, needle));
    if (needle.empty()) return Value::from_int(static_cast<int64_t>(count_code_points(text)) + 1);
    int64_t n_found = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n_found;
    return Value::from_int(n_found);
  }

  const BoundArgs no_arguments(function, args, {});
  if (name == "upper") return Value::from_string(to_upper(text));
  if (name == "lower") return Value::from_string(to_lower(text));
  if (name == "title") return Value::from_string(python_title(text));
  return Value::from_string(capitalize(text));
}

Value call_dict_method(const Dict& dict, const std::string& name, const CallArgs& args) {
  const std::string function = fmt::format("dict.{}()", name);
  if (name == "get") {
    const BoundArgs bound(function, args, {"key", "default"});
    if (!bound.has(0)) bound.fail_type(0, "a key");
    const Value* found = dict.find(*bound.get(0));
    if (found != nullptr) return *found;
    return bound.has(1) ? *bound.get(1) : Value::none();
  }

  const BoundArgs no_arguments(function, args, {});
  std::vector<Value> items;
  items.reserve(dict.size());
  for (const auto& [key, item] : dict.entries()) {
    if (name == "items") items.push_back(Value::make_list({key, item}, true));
    else if (name == "keys") items.push_back(key);
    else items.push_back(item);
  }
  return Value::make_list(std::move(items));
}

Value call_list_method(const List& list, const std::string& name, const CallArgs& args) {
  const BoundArgs bound(fmt::format("{}.{}()", list.is_tuple ? "tuple" : "list", name), args, {"value"});
  if (!bound.has(0)) bound.fail_type(0, "a value");
  int64_t n_found = 0;
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (!equals(list.items[i], *bound.get(0))) continue;
    if (name == "index") return Value::from_int(static_cast<int64_t>(i));
    ++n_found;
  }
  if (name == "index") fail(fmt::format("list.index(): {} is not in the list", to_repr(*bound.get(0))));
  return Value::from_int(n_found);
}

}  // namespace

void fail_undefined(const Value& value) {
  const std::string& hint = value.undefined_hint();
  fail(hint.empty() ? "value is undefined" : hint);
}

Value get_attribute(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Value::Kind::undefined: fail_undefined(object);
    case Value::Kind::string:
      if (is_one_of(kStringMethods, name)) return bind_method(object, name);
      break;
    case Value::Kind::dict: {
      if (is_one_of(kDictMethods, name)) return bind_method(object, name);
      if (is_one_of(kMutatingDictMethods, name)) return immutable_method(object, name);
      if (const Value* found = object.as_dict().find(std::string_view(name))) return *found;
      return Value::undefined(fmt::format("dict has no attribute or key '{}'", name));
    }
    case Value::Kind::list:
      if (is_one_of(kListMethods, name)) return bind_method(object, name);
      if (is_one_of(kMutatingListMethods, name)) return immutable_method(object, name);
      break;
    case Value::Kind::namespace_object:
      if (const Value* found = object.as_namespace().attributes.find(std::string_view(name))) return *found;
      return Value::undefined(fmt::format("namespace has no attribute '{}'", name));
    case Value::Kind::loop: return loop_attribute(object, name);
    default: break;
  }
  return Value::undefined(fmt::format("{} has no attribute '{}'", object.is_none() ? "None" : type_name(object), name));
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_dict()) {
    if (const Value* found = object.as_dict().find(key)) return *found;
  } else if (object.is_list() && key.is_integral()) {
    const std::vector<Value>& items = object.as_list().items;
    if (const std::optional<size_t> index = resolve_index(key.as_int(), items.size())) return items[*index];
    return Value::undefined(fmt::format("{} index {} is out of range", type_name(object), key.as_int()));
  } else if (object.is_string() && key.is_integral()) {
    const std::vector<size_t> offsets = code_point_offsets(object.as_string());
    if (const std::optional<size_t> index = resolve_index(key.as_int(), offsets.size() - 1)) {
      return Value::from_string(object.as_string().substr(offsets[*index], offsets[*index + 1] - offsets[*index]));
    }
    return Value::undefined(fmt::format("str index {} is out of range", key.as_int()));
  }

  if (key.is_string()) {
    if (object.is_dict()) {
      if (is_one_of(kDictMethods, key.as_string())) return bind_method(object, key.as_string());
      return Value::undefined(fmt::format("dict has no key '{}'", key.as_string()));
    }
    return get_attribute(object, key.as_string());
  }
  return Value::undefined(fmt::format("{} has no item {}", object.is_none() ? "None" : type_name(object), to_repr(key)));
}

Value get_slice(const Value& object, std::optional<int64_t> start, std::optional<int64_t> stop,
                std::optional<int64_t> step) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_list()) {
    const List& list = object.as_list();
    std::vector<Value> items;
    for (const size_t i : slice_positions(list.items.size(), start, stop, step)) items.push_back(list.items[i]);
    return Value::make_list(std::move(items), list.is_tuple);
  }
  if (object.is_string()) {
    const std::string& text = object.as_string();
    const std::vector<size_t> offsets = code_point_offsets(text);
    std::string out;
    for (const size_t i : slice_positions(offsets.size() - 1, start, stop, step)) {
      out.append(text, offsets[i], offsets[i + 1] - offsets[i]);
    }
    return Value::from_string(std::move(out));
  }
  fail(fmt::format("'{}' value cannot be sliced", type_name(object)));
}

std::vector<Value> iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::list: return value.as_list().items;
    case Value::Kind::dict: {
      std::vector<Value> keys;
      keys.reserve(value.as_dict().size());
      for (const auto& entry : value.as_dict().entries()) keys.push_back(entry.first);
      return keys;
    }
    case Value::Kind::string: {
      const std::string& text = value.as_string();
      const std::vector<size_t> offsets = code_point_offsets(text);
      std::vector<Value> characters;
      characters.reserve(offsets.size() - 1);
      for (size_t i = 0; i + 1 < offsets.size(); ++i) {
        characters.push_back(Value::from_string(text.substr(offsets[i], offsets[i + 1] - offsets[i])));
      }
      return characters;
    }
    default: fail(fmt::format("'{}' value is not iterable", type_name(value)));
  }
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::undefined: return false;
    case Value::Kind::string:
      if (!item.is_string()) fail(fmt::format("'in <str>' needs a string on the left, not '{}'", type_name(item)));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::list: {
      const std::vector<Value>& items = container.as_list().items;
      return std::any_of(items.begin(), items.end(), [&](const Value& candidate) { return equals(candidate, item); });
    }
    case Value::Kind::dict: return container.as_dict().find(item) != nullptr;
    default: fail(fmt::format("'in' is not supported on a '{}' value", type_name(container)));
  }
}

int64_t length_of(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined: return 0;
    case Value::Kind::string: return static_cast<int64_t>(count_code_points(value.as_string()));
    case Value::Kind::list: return static_cast<int64_t>(value.as_list().items.size());
    case Value::Kind::dict: return static_cast<int64_t>(value.as_dict().size());
    default: fail(fmt::format("'{}' value has no length", type_name(value)));
  }
}

Value call_method(const Value& receiver, const std::string& name, const CallArgs& args, const RenderLimits& limits) {
  if (receiver.is_string() && is_one_of(kStringMethods, name)) {
    return call_string_method(receiver.as_string(), name, args, limits);
  }
  if (receiver.is_dict() && is_one_of(kDictMethods, name)) return call_dict_method(receiver.as_dict(), name, args);
  if (receiver.is_list() && is_one_of(kListMethods, name)) return call_list_method(receiver.as_list(), name, args);
  if (receiver.kind() == Value::Kind::loop && name == "cycle") {
    if (args.positional.empty()) fail("loop.cycle() needs at least one argument");
    return args.positional[receiver.as_loop().index0 % args.positional.size()];
  }
  fail(fmt::format("'{}' value has no method '{}'", type_name(receiver), name));
}

}  // namespace kvinfer::chat::jinja
