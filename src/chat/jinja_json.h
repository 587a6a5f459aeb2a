// The `tojson` filter as Hugging Face's apply_chat_template defines it (transformers'
// chat_template_utils): Python's json.dumps with ensure_ascii=False, so non-ASCII text
// stays as it is, and without the HTML escaping of jinja2's own tojson.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "chat/jinja_value.h"

namespace kvinfer::chat::jinja {

// The json.dumps options a template can pass to tojson.
struct JsonFormat {
  // Indentation per level, or nullopt to write everything on one line.
  std::optional<std::string> indent;
  // Separator between items: json.dumps uses ", " without indent and "," with it.
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};

// Serializes `value` as json.dumps does: keys in dict order unless sort_keys, floats as
// Python's repr(), NaN and infinities as NaN, Infinity and -Infinity. Throws
// ChatTemplateError for values JSON cannot hold (undefined, namespace, loop, callable)
// and when the text grows beyond `max_bytes`.
std::string to_json(const Value& value, const JsonFormat& format, size_t max_bytes);

}  // namespace kvinfer::chat::jinja
