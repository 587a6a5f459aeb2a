// Lookups on values as jinja2's sandbox does them: attributes (`obj.name`), items
// (`obj[key]`), slices, iteration, length, and the built-in methods of str, dict, list
// and the `loop` object. A missing attribute, key or index yields an undefined value
// that remembers why, not an error.
//
// Methods that would change a list or dict (append, pop, update, ...) are not callable,
// as in Hugging Face's ImmutableSandboxedEnvironment: using one raises an error. Only a
// namespace can change, through `{% set ns.attr = ... %}`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/jinja_call_args.h"
#include "chat/jinja_value.h"
#include "chat/render_limits.h"

namespace kvinfer::chat::jinja {

// Throws ChatTemplateError whose message is the undefined value's hint. jinja2 raises
// this way when an undefined value is used in arithmetic, called or looked into.
[[noreturn]] void fail_undefined(const Value& value);

// obj.name: a method of the value's type first, so `d.items` is the method even when
// `d` has a key "items". Then the key `name` of a dict, or the attribute of a namespace
// or of `loop`. Anything else is undefined. Throws when `object` itself is undefined.
Value get_attribute(const Value& object, const std::string& name);

// obj[key]: the key of a dict or the index of a list, tuple or string, where negative
// indices count from the end. Failing that, the attribute when `key` is a string, else
// undefined. Throws when `object` is undefined.
Value get_item(const Value& object, const Value& key);

// obj[start:stop:step] on a list, tuple or string, with Python's slice rules. Throws
// ChatTemplateError for other types and for a zero step.
Value get_slice(const Value& object, std::optional<int64_t> start, std::optional<int64_t> stop,
                std::optional<int64_t> step);

// The items a for loop visits: the items of a list or tuple, the keys of a dict, the
// code points of a string, nothing for undefined. Throws ChatTemplateError for other
// types.
std::vector<Value> iterate(const Value& value);

// Python's `item in container`: a substring of a string, an item of a list or tuple, or
// a key of a dict. False for an undefined container. Throws ChatTemplateError for other
// containers and for a non-string item in a string.
bool contains(const Value& container, const Value& item);

// len(): code points of a string, items of a list or dict, 0 for undefined. Throws
// ChatTemplateError for other types.
int64_t length_of(const Value& value);

// Calls method `name` of `receiver` (as bound by get_attribute). Throws
// ChatTemplateError for an unknown method or bad arguments, and of kind limit for a
// string result larger than limits.max_output_bytes.
Value call_method(const Value& receiver, const std::string& name, const CallArgs& args, const RenderLimits& limits);

}  // namespace kvinfer::chat::jinja
