// json.dumps-compatible serialization of template values.
#include "chat/jinja_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "chat/chat_template_error.h"
#include "chat/py_string.h"

namespace kvinfer::chat::jinja {
namespace {

class JsonWriter {
 public:
  JsonWriter(const JsonFormat& format, size_t max_bytes) : format_(format), max_bytes_(max_bytes) {}

  void write(const Value& value, int depth) {
    check_value_depth(depth);
    switch (value.kind()) {
      case Value::Kind::none: out_ += "null"; break;
      case Value::Kind::boolean: out_ += value.as_bool() ? "true" : "false"; break;
      case Value::Kind::integer: out_ += std::to_string(value.as_int()); break;
      case Value::Kind::floating: write_float(value.as_double()); break;
      case Value::Kind::string: write_string(value.as_string()); break;
      case Value::Kind::list: write_list(value.as_list(), depth); break;
      case Value::Kind::dict: write_dict(value.as_dict(), depth); break;
      default:
        throw ChatTemplateError(ChatTemplateErrorKind::runtime,
                                fmt::format("tojson cannot serialize a value of type '{}'", type_name(value)));
    }
    check_size();
  }

  std::string take() { return std::move(out_); }

 private:
  void check_size() const {
    if (out_.size() > max_bytes_) {
      throw ChatTemplateError(ChatTemplateErrorKind::limit,
                              fmt::format("tojson output exceeds the string size limit of {} bytes", max_bytes_));
    }
  }

  void write_float(double value) {
    if (std::isnan(value)) out_ += "NaN";
    else if (std::isinf(value)) out_ += value < 0 ? "-Infinity" : "Infinity";
    else out_ += format_float(value);
  }

  void write_string(const std::string& text) {
    out_ += '"';
    for (const char32_t c : decode_utf8(text)) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        default: write_code_point(c); break;
      }
    }
    out_ += '"';
  }

  void write_code_point(char32_t c) {
    if (c < 0x20) {
      out_ += fmt::format("\\u{:04x}", static_cast<uint32_t>(c));
    } else if (!format_.ensure_ascii || c < 0x80) {
      append_utf8(out_, c);
    } else if (c < 0x10000) {
      out_ += fmt::format("\\u{:04x}", static_cast<uint32_t>(c));
    } else {
      // A UTF-16 surrogate pair, as json.dumps writes characters beyond the BMP.
      const uint32_t v = static_cast<uint32_t>(c) - 0x10000;
      out_ += fmt::format("\\u{:04x}\\u{:04x}", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    }
  }

  // A newline and the indentation of `level`, or nothing without indent.
  void write_newline(int level) {
    if (!format_.indent) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *format_.indent;
    check_size();
  }

  void write_list(const List& list, int depth) {
    if (list.items.empty()) {
      out_ += "[]";
      return;
    }
    out_ += '[';
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (i > 0) out_ += format_.item_separator;
      write_newline(depth + 1);
      write(list.items[i], depth + 1);
    }
    write_newline(depth);
    out_ += ']';
  }

  void write_dict(const Dict& dict, int depth) {
    if (dict.size() == 0) {
      out_ += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& entry : dict.entries()) entries.push_back(&entry);
    if (format_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto* a, const auto* b) { return compare(a->first, b->first) < 0; });
    }

    out_ += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out_ += format_.item_separator;
      write_newline(depth + 1);
      write_key(entries[i]->first);
      out_ += format_.key_separator;
      write(entries[i]->second, depth + 1);
    }
    write_newline(depth);
    out_ += '}';
  }

  // JSON keys are strings: json.dumps converts numbers, booleans and None keys.
  void write_key(const Value& key) {
    if (key.is_string()) write_string(key.as_string());
    else if (key.is_none()) out_ += "\"null\"";
    else if (key.kind() == Value::Kind::boolean) out_ += key.as_bool() ? "\"true\"" : "\"false\"";
    else if (key.kind() == Value::Kind::integer) out_ += '"' + std::to_string(key.as_int()) + '"';
    else {
      out_ += '"';
      write_float(key.as_double());
      out_ += '"';
    }
  }

  const JsonFormat& format_;
  size_t max_bytes_;
  std::string out_;
};

}  // namespace

std::string to_json(const Value& value, const JsonFormat& format, size_t max_bytes) {
  JsonWriter writer(format, max_bytes);
  writer.write(value, 0);
  return writer.take();
}

}  // namespace kvinfer::chat::jinja
