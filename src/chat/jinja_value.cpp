// Value construction, Python truth values, equality, ordering, str() and repr(), and the
// conversion from JSON.
#include "chat/jinja_value.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "chat/chat_template_error.h"
#include "chat/py_string.h"

namespace kvinfer::chat::jinja {
namespace {

[[noreturn]] void fail_type(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::runtime, message);
}

bool is_hashable(const Value& key) {
  return key.is_string() || key.is_number() || key.is_none();
}

// Appends repr() of a string: single quotes unless the text contains a single quote
// and no double quote, as Python chooses.
void append_string_repr(std::string& out, const std::string& text) {
  const bool use_double = text.find('\'') != std::string::npos && text.find('"') == std::string::npos;
  const char quote = use_double ? '"' : '\'';
  out += quote;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == quote || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      // NOTE: Python also escapes non-printable non-ASCII code points (C1 controls,
      // U+2028 and other separators), which are kept as they are here.
      out += ch;
    }
  }
  out += quote;
}

// Writes repr() text, checking its size after every item so that a container holding
// many copies of a large string cannot exhaust memory.
class ReprWriter {
 public:
  explicit ReprWriter(size_t max_bytes) : max_bytes_(max_bytes) {}

  void write(const Value& value, int depth) {
    check_value_depth(depth);
    switch (value.kind()) {
      case Value::Kind::undefined: out_ += "Undefined"; break;
      case Value::Kind::string: append_string_repr(out_, value.as_string()); break;
      case Value::Kind::list: write_list(value.as_list(), depth); break;
      case Value::Kind::dict: write_dict(value.as_dict(), depth); break;
      case Value::Kind::namespace_object:
        out_ += "<Namespace ";
        write_dict(value.as_namespace().attributes, depth);
        out_ += '>';
        break;
      default: out_ += to_str(value); break;
    }
    if (out_.size() > max_bytes_) {
      throw ChatTemplateError(ChatTemplateErrorKind::limit,
                              fmt::format("text of a '{}' value exceeds the string size limit of {} bytes",
                                          type_name(value), max_bytes_));
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void write_list(const List& list, int depth) {
    out_ += list.is_tuple ? '(' : '[';
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (i > 0) out_ += ", ";
      write(list.items[i], depth + 1);
    }
    if (list.is_tuple && list.items.size() == 1) out_ += ',';
    out_ += list.is_tuple ? ')' : ']';
  }

  void write_dict(const Dict& dict, int depth) {
    out_ += '{';
    bool first = true;
    for (const auto& [key, item] : dict.entries()) {
      if (!first) out_ += ", ";
      first = false;
      write(key, depth + 1);
      out_ += ": ";
      write(item, depth + 1);
    }
    out_ += '}';
  }

  size_t max_bytes_;
  std::string out_;
};

std::string callable_repr(const Callable& callable) {
  switch (callable.kind) {
    case Callable::Kind::macro: return fmt::format("<Macro '{}'>", callable.name);
    case Callable::Kind::global_function: return fmt::format("<function {}>", callable.name);
    case Callable::Kind::method:
      return fmt::format("<built-in method {} of {} object>", callable.name, type_name(callable.receiver));
  }
  return "<callable>";
}

bool equals_at(const Value& a, const Value& b, int depth);

bool lists_equal(const List& a, const List& b, int depth) {
  if (a.is_tuple != b.is_tuple || a.items.size() != b.items.size()) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!equals_at(a.items[i], b.items[i], depth + 1)) return false;
  }
  return true;
}

bool dicts_equal(const Dict& a, const Dict& b, int depth) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, item] : a.entries()) {
    const Value* other = b.find(key);
    if (other == nullptr || !equals_at(item, *other, depth + 1)) return false;
  }
  return true;
}

bool equals_at(const Value& a, const Value& b, int depth) {
  check_value_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return true;
    case Value::Kind::string: return a.as_string() == b.as_string();
    case Value::Kind::list: return lists_equal(a.as_list(), b.as_list(), depth);
    case Value::Kind::dict: return dicts_equal(a.as_dict(), b.as_dict(), depth);
    case Value::Kind::namespace_object: return &a.as_namespace() == &b.as_namespace();
    case Value::Kind::loop: return &a.as_loop() == &b.as_loop();
    case Value::Kind::callable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

int compare_at(const Value& a, const Value& b, int depth) {
  check_value_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    const double x = a.as_double();
    const double y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 is code point order, which is how Python orders strings.
    const int order = a.as_string().compare(b.as_string());
    return (order > 0) - (order < 0);
  }
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
    const std::vector<Value>& x = a.as_list().items;
    const std::vector<Value>& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals_at(x[i], y[i], depth + 1)) return compare_at(x[i], y[i], depth + 1);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fail_type(fmt::format("cannot order '{}' and '{}' values", type_name(a), type_name(b)));
}

Value from_json_at(const nlohmann::ordered_json& json, int depth) {
  check_value_depth(depth);
  using Type = nlohmann::ordered_json::value_t;
  switch (json.type()) {
    case Type::null: return Value::none();
    case Type::boolean: return Value::from_bool(json.get<bool>());
    case Type::number_integer: return Value::from_int(json.get<int64_t>());
    case Type::number_unsigned: {
      // NOTE: Python keeps integers above 2^63 - 1 exact, but here they become floats.
      const uint64_t value = json.get<uint64_t>();
      if (value <= static_cast<uint64_t>(INT64_MAX)) return Value::from_int(static_cast<int64_t>(value));
      return Value::from_float(static_cast<double>(value));
    }
    case Type::number_float: return Value::from_float(json.get<double>());
    case Type::string: return Value::from_string(json.get<std::string>());
    case Type::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& element : json) items.push_back(from_json_at(element, depth + 1));
      return Value::make_list(std::move(items));
    }
    case Type::object: {
      Dict dict;
      for (const auto& [key, element] : json.items()) dict.set(Value::from_string(key), from_json_at(element, depth + 1));
      return Value::make_dict(std::move(dict));
    }
    default: fail_type(fmt::format("context JSON holds a value of unsupported type '{}'", json.type_name()));
  }
}

}  // namespace

Value Value::make_list(std::vector<Value> items, bool is_tuple) {
  return Value(std::shared_ptr<const List>(std::make_shared<List>(List{std::move(items), is_tuple})));
}

Value Value::make_dict(Dict dict) { return Value(std::shared_ptr<const Dict>(std::make_shared<Dict>(std::move(dict)))); }

Value Value::make_callable(Callable callable) {
  return Value(std::shared_ptr<const Callable>(std::make_shared<Callable>(std::move(callable))));
}

int64_t Value::as_int() const {
  if (kind() == Kind::boolean) return as_bool() ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (kind() == Kind::floating) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

std::optional<size_t> Dict::index_of(const Value& key) const {
  if (key.is_string()) {
    const auto found = string_index_.find(std::string_view(key.as_string()));
    if (found == string_index_.end()) return std::nullopt;
    return found->second;
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].first.is_string() && equals(entries_[i].first, key)) return i;
  }
  return std::nullopt;
}

const Value* Dict::find(const Value& key) const {
  const std::optional<size_t> index = index_of(key);
  return index ? &entries_[*index].second : nullptr;
}

const Value* Dict::find(std::string_view key) const {
  const auto found = string_index_.find(key);
  return found == string_index_.end() ? nullptr : &entries_[found->second].second;
}

void Dict::set(Value key, Value value) {
  if (!is_hashable(key)) fail_type(fmt::format("'{}' value cannot be a dict key", type_name(key)));
  if (const std::optional<size_t> index = index_of(key)) {
    entries_[*index].second = std::move(value);
    return;
  }
  if (key.is_string()) string_index_.emplace(key.as_string(), entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

void Dict::clear() {
  entries_.clear();
  string_index_.clear();
}

bool truthy(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return false;
    case Value::Kind::boolean: return value.as_bool();
    case Value::Kind::integer: return value.as_int() != 0;
    case Value::Kind::floating: return value.as_double() != 0.0;
    case Value::Kind::string: return !value.as_string().empty();
    case Value::Kind::list: return !value.as_list().items.empty();
    case Value::Kind::dict: return value.as_dict().size() > 0;
    default: return true;
  }
}

std::string type_name(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined: return "undefined";
    case Value::Kind::none: return "NoneType";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "int";
    case Value::Kind::floating: return "float";
    case Value::Kind::string: return "str";
    case Value::Kind::list: return value.as_list().is_tuple ? "tuple" : "list";
    case Value::Kind::dict: return "dict";
    case Value::Kind::namespace_object: return "namespace";
    case Value::Kind::loop: return "loop";
    case Value::Kind::callable: return value.as_callable().kind == Callable::Kind::macro ? "macro" : "function";
  }
  return "unknown";
}

bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }

int compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }

std::string to_str(const Value& value, size_t max_bytes) {
  switch (value.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::none: return "None";
    case Value::Kind::boolean: return value.as_bool() ? "True" : "False";
    case Value::Kind::integer: return std::to_string(value.as_int());
    case Value::Kind::floating: return format_float(value.as_double());
    case Value::Kind::string: return value.as_string();
    case Value::Kind::loop:
      return fmt::format("<LoopContext {}/{}>", value.as_loop().index0 + 1, value.as_loop().items->size());
    case Value::Kind::callable: return callable_repr(value.as_callable());
    default: return to_repr(value, max_bytes);
  }
}

std::string to_repr(const Value& value, size_t max_bytes) {
  ReprWriter writer(max_bytes);
  writer.write(value, 0);
  return writer.take();
}

std::string format_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";

  // The shortest round-trip digits, in scientific form "d.ddde+XX".
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const std::string_view scientific(buffer, static_cast<size_t>(result.ptr - buffer));
  const size_t e_pos = scientific.find('e');
  const bool negative = scientific[0] == '-';
  std::string digits;
  for (const char ch : scientific.substr(negative ? 1 : 0, e_pos - (negative ? 1 : 0))) {
    if (ch != '.') digits += ch;
  }
  const int exponent = std::stoi(std::string(scientific.substr(e_pos + 1)));

  // Python switches to exponent notation below 1e-4 and from 1e16 on.
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out.append(digits, 0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (exponent < 0) {
    out.append("0.").append(static_cast<size_t>(-exponent - 1), '0').append(digits);
  } else {
    const size_t n_integer_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= n_integer_digits) {
      out.append(digits).append(n_integer_digits - digits.size(), '0').append(".0");
    } else {
      out.append(digits, 0, n_integer_digits).append(".").append(digits, n_integer_digits);
    }
  }
  return out;
}

Value from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 0); }

void check_value_depth(int depth) {
  if (depth > kMaxValueDepth) {
    throw ChatTemplateError(ChatTemplateErrorKind::limit,
                            fmt::format("value nesting exceeds the limit of {} levels", kMaxValueDepth));
  }
}

}  // namespace kvinfer::chat::jinja
