// The values a chat template computes with, modelled on the Python objects that jinja2
// hands to templates: undefined, None, bool, int, float, str, list, tuple, dict,
// namespace, the `loop` object and callables.
//
// Lists and dicts are immutable once built, as in Hugging Face's
// ImmutableSandboxedEnvironment, so copies share them. Only a namespace can change after
// it is created. Nothing here evaluates templates: the interpreter, filters and methods
// build on these types.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace kvinfer::chat::jinja {

struct MacroStmt;
struct Scope;
struct List;
class Dict;
struct Namespace;
struct LoopInfo;
struct Callable;

// Values nest at most this deep: deeper JSON input or values built by a template are
// rejected, so that printing or comparing them cannot overflow the stack.
inline constexpr int kMaxValueDepth = 256;

// An undefined value. `hint` explains why it is undefined ("'x' is undefined") and
// becomes the error message when the value is used where jinja2 raises UndefinedError.
struct Undefined {
  std::string hint;
};

struct None {};

class Value {
 public:
  enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, namespace_object, loop, callable };

  Value() : data_(Undefined{}) {}
  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
  static Value none() { return Value(None{}); }
  static Value from_bool(bool value) { return Value(value); }
  static Value from_int(int64_t value) { return Value(value); }
  static Value from_float(double value) { return Value(value); }
  static Value from_string(std::string value) {
    return Value(std::shared_ptr<const std::string>(std::make_shared<std::string>(std::move(value))));
  }
  static Value make_list(std::vector<Value> items, bool is_tuple = false);
  static Value make_dict(Dict dict);
  static Value make_namespace(std::shared_ptr<Namespace> ns) { return Value(std::move(ns)); }
  static Value make_loop(std::shared_ptr<const LoopInfo> loop) { return Value(std::move(loop)); }
  static Value make_callable(Callable callable);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_list() const { return kind() == Kind::list; }
  bool is_dict() const { return kind() == Kind::dict; }
  // bool, int or float: Python's bool is an int subclass, so it takes part in arithmetic.
  bool is_number() const { return kind() == Kind::boolean || kind() == Kind::integer || kind() == Kind::floating; }
  // bool or int.
  bool is_integral() const { return kind() == Kind::boolean || kind() == Kind::integer; }

  // Accessors. Each requires the matching kind.
  const std::string& undefined_hint() const { return std::get<Undefined>(data_).hint; }
  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;  // bool or int
  double as_double() const;  // any number
  const std::string& as_string() const { return *std::get<std::shared_ptr<const std::string>>(data_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(data_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(data_); }
  const LoopInfo& as_loop() const { return *std::get<std::shared_ptr<const LoopInfo>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  const std::shared_ptr<Namespace>& namespace_ptr() const { return std::get<std::shared_ptr<Namespace>>(data_); }

 private:
  // Strings are shared like containers, so that copying a value (every variable
  // lookup does) never copies a long message.
  using Data = std::variant<Undefined, None, bool, int64_t, double, std::shared_ptr<const std::string>,
                            std::shared_ptr<const List>,
                            std::shared_ptr<const Dict>, std::shared_ptr<Namespace>, std::shared_ptr<const LoopInfo>,
                            std::shared_ptr<const Callable>>;

  template <typename T>
  explicit Value(T data) : data_(std::move(data)) {}

  Data data_;
};

// A list, or a tuple when `is_tuple` (they differ only in how they print and compare).
struct List {
  std::vector<Value> items;
  bool is_tuple = false;
};

// A dict that keeps insertion order, like Python's. Keys are strings, numbers, booleans
// or None; string keys are found through a hash index, other keys by a linear scan.
class Dict {
 public:
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  // Replaces the value of an existing key in place, else appends the pair.
  void set(Value key, Value value);
  void clear();

  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::optional<size_t> index_of(const Value& key) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> string_index_;
};

// The mutable object that namespace() returns: attributes set with
// `{% set ns.attr = value %}` stay visible outside loops, unlike plain variables.
struct Namespace {
  Dict attributes;
};

// The `loop` variable of a for loop, whose attributes are computed on lookup.
struct LoopInfo {
  std::shared_ptr<const std::vector<Value>> items;  // the iterated items, after the loop filter
  size_t index0;
};

// Something a template can call: a macro, a global function or a method bound to its
// receiver (`text.split`, `loop.cycle`).
struct Callable {
  enum class Kind { macro, global_function, method };
  Kind kind;
  std::string name;
  const MacroStmt* macro = nullptr;  // for macros: the definition, owned by the template
  std::shared_ptr<Scope> closure;    // for macros: the scope the macro was defined in
  Value receiver;                    // for methods
};

// Python's truth value: empty strings and containers, zero, None and undefined are false.
bool truthy(const Value& value);

// Python's type name of the value ("str", "int", "dict", ...), for error messages.
std::string type_name(const Value& value);

// Python's ==: numbers compare by value across bool, int and float, lists and dicts
// compare element by element, and two undefined values are equal.
bool equals(const Value& a, const Value& b);

// Python's ordering for <, <=, > and >=: negative, zero or positive. Numbers, strings
// (by code point) and lists or tuples of comparable items are ordered; other pairs throw
// ChatTemplateError, as Python raises TypeError.
int compare(const Value& a, const Value& b);

// Python's str(): strings as they are, undefined as "", None as "None", floats as
// repr() writes them, containers as their repr(). Throws ChatTemplateError (kind limit)
// when the text of a container grows beyond `max_bytes`.
std::string to_str(const Value& value, size_t max_bytes = SIZE_MAX);

// Python's repr(): strings quoted, containers written as Python literals. Throws like
// to_str beyond `max_bytes`.
std::string to_repr(const Value& value, size_t max_bytes = SIZE_MAX);

// Python's repr() of a float: the shortest text that reads back as the same double,
// in fixed notation for exponents from -4 to 15 ("1e-05", "0.0001", "1e+16").
std::string format_float(double value);

// Converts JSON to a value: objects become dicts in the JSON's key order, arrays become
// lists. Throws ChatTemplateError when the JSON nests deeper than kMaxValueDepth.
Value from_json(const nlohmann::ordered_json& json);

// Throws ChatTemplateError (kind limit) when `depth` exceeds kMaxValueDepth.
void check_value_depth(int depth);

}  // namespace kvinfer::chat::jinja
