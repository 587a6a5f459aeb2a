// Python `str` semantics over UTF-8: code point indexing, Unicode whitespace, splitting,
// replacing and case mapping.
#include "chat/py_string.h"

#include <fmt/format.h>

#include <algorithm>

#include "chat/chat_template_error.h"

namespace kvinfer::chat::jinja {
namespace {

// Length in bytes of the UTF-8 sequence starting at text[pos], or 1 for a byte that does
// not start a valid sequence (it then stands for itself).
size_t sequence_length(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  size_t length = 1;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) length = 3;
  else if (lead >= 0xf0 && lead <= 0xf4) length = 4;
  if (length == 1 || pos + length > text.size()) return 1;

  for (size_t i = 1; i < length; ++i) {
    if ((static_cast<unsigned char>(text[pos + i]) & 0xc0) != 0x80) return 1;
  }
  return length;
}

// A decoded code point and where it lies in the source text. `valid` is false for a
// stray byte, which is copied through unchanged and never case-mapped.
struct CodePoint {
  char32_t value;
  size_t begin;
  size_t end;
  bool valid;
};

std::vector<CodePoint> decode(std::string_view text) {
  std::vector<CodePoint> code_points;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t length = sequence_length(text, pos);
    const auto lead = static_cast<unsigned char>(text[pos]);
    char32_t value = lead;
    bool valid = lead < 0x80;
    if (length > 1) {
      value = lead & (0xff >> (length + 1));
      for (size_t i = 1; i < length; ++i) value = (value << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3f);
      valid = true;
    }
    code_points.push_back({value, pos, pos + length, valid});
    pos += length;
  }
  return code_points;
}

// Upper-case partner of a lower-case letter, or the code point itself.
char32_t upper_of(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 0x20;
  if (c < 0x80) return c;
  if (c == 0xb5) return 0x39c;                                        // micro sign
  if (c == 0xff) return 0x178;                                        // y with diaeresis
  if (c >= 0xe0 && c <= 0xfe && c != 0xf7) return c - 0x20;           // Latin-1
  if (c >= 0x100 && c <= 0x137 && c != 0x130 && c != 0x131 && (c & 1)) return c - 1;
  if (c >= 0x139 && c <= 0x148 && !(c & 1)) return c - 1;            // Latin Extended-A,
  if (c >= 0x14a && c <= 0x177 && (c & 1)) return c - 1;             // pairs alternate
  if (c >= 0x179 && c <= 0x17e && !(c & 1)) return c - 1;
  if (c == 0x131) return 'I';                                         // dotless i
  if (c == 0x17f) return 'S';                                         // long s
  if (c == 0x3c2) return 0x3a3;                                       // final sigma
  if (c >= 0x3b1 && c <= 0x3c9) return c - 0x20;                      // Greek
  if (c >= 0x430 && c <= 0x44f) return c - 0x20;                      // Cyrillic
  if (c >= 0x450 && c <= 0x45f) return c - 0x50;
  if (c >= 0xff41 && c <= 0xff5a) return c - 0x20;                    // fullwidth Latin
  return c;
}

// Lower-case partner of an upper-case letter, or the code point itself.
char32_t lower_of(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 0x20;
  if (c < 0x80) return c;
  if (c == 0x178) return 0xff;
  if (c >= 0xc0 && c <= 0xde && c != 0xd7) return c + 0x20;
  if (c >= 0x100 && c <= 0x137 && c != 0x130 && c != 0x131 && !(c & 1)) return c + 1;
  if (c >= 0x139 && c <= 0x148 && (c & 1)) return c + 1;
  if (c >= 0x14a && c <= 0x177 && !(c & 1)) return c + 1;
  if (c >= 0x179 && c <= 0x17e && (c & 1)) return c + 1;
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42f) return c + 0x20;
  if (c >= 0x400 && c <= 0x40f) return c + 0x50;
  if (c >= 0xff21 && c <= 0xff3a) return c + 0x20;
  return c;
}

bool is_cased(char32_t c) { return upper_of(c) != c || lower_of(c) != c || c == 0xdf; }

// Appends the upper-case form of one code point: Python maps sharp s to "SS".
void append_upper(std::string& out, const CodePoint& cp, std::string_view text) {
  if (!cp.valid) out.append(text.substr(cp.begin, cp.end - cp.begin));
  else if (cp.value == 0xdf) out += "SS";
  else append_utf8(out, upper_of(cp.value));
}

void append_lower(std::string& out, const CodePoint& cp, std::string_view text) {
  if (!cp.valid) out.append(text.substr(cp.begin, cp.end - cp.begin));
  else append_utf8(out, lower_of(cp.value));
}

bool in_chars(char32_t value, const std::vector<CodePoint>& chars) {
  return std::any_of(chars.begin(), chars.end(), [value](const CodePoint& c) { return c.value == value; });
}

}  // namespace

std::vector<size_t> code_point_offsets(std::string_view text) {
  std::vector<size_t> offsets;
  offsets.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size(); pos += sequence_length(text, pos)) offsets.push_back(pos);
  offsets.push_back(text.size());
  return offsets;
}

size_t count_code_points(std::string_view text) {
  size_t n_code_points = 0;
  for (size_t pos = 0; pos < text.size(); pos += sequence_length(text, pos)) ++n_code_points;
  return n_code_points;
}

std::vector<char32_t> decode_utf8(std::string_view text) {
  std::vector<char32_t> values;
  for (const CodePoint& cp : decode(text)) values.push_back(cp.value);
  return values;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

std::string strip(std::string_view text, std::optional<std::string_view> chars, bool leading, bool trailing) {
  const std::vector<CodePoint> code_points = decode(text);
  const std::vector<CodePoint> strip_set = chars ? decode(*chars) : std::vector<CodePoint>{};
  auto strippable = [&](const CodePoint& cp) {
    return chars ? in_chars(cp.value, strip_set) : (cp.valid && is_python_space(cp.value));
  };

  size_t first = 0;
  size_t last = code_points.size();
  while (leading && first < last && strippable(code_points[first])) ++first;
  while (trailing && last > first && strippable(code_points[last - 1])) --last;
  if (first == last) return {};
  return std::string(text.substr(code_points[first].begin, code_points[last - 1].end - code_points[first].begin));
}

std::vector<std::string> split(std::string_view text, std::optional<std::string_view> separator, int64_t max_split) {
  std::vector<std::string> parts;
  if (separator) {
    if (separator->empty()) throw ChatTemplateError(ChatTemplateErrorKind::runtime, "split() separator is empty");
    size_t begin = 0;
    size_t found = text.find(*separator);
    while (found != std::string_view::npos && (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split)) {
      parts.emplace_back(text.substr(begin, found - begin));
      begin = found + separator->size();
      found = text.find(*separator, begin);
    }
    parts.emplace_back(text.substr(begin));
    return parts;
  }

  // Whitespace splitting: runs of whitespace separate parts and empty parts are
  // dropped. Once max_split parts are cut, the rest from the next non-space code point
  // on, trailing whitespace included, is the last part.
  const std::vector<CodePoint> code_points = decode(text);
  auto is_space = [](const CodePoint& cp) { return cp.valid && is_python_space(cp.value); };
  size_t i = 0;
  while (i < code_points.size()) {
    while (i < code_points.size() && is_space(code_points[i])) ++i;
    if (i == code_points.size()) break;
    if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
      parts.emplace_back(text.substr(code_points[i].begin));
      break;
    }
    const size_t word_begin = i;
    while (i < code_points.size() && !is_space(code_points[i])) ++i;
    parts.emplace_back(text.substr(code_points[word_begin].begin, code_points[i - 1].end - code_points[word_begin].begin));
  }
  return parts;
}

std::string to_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const CodePoint& cp : decode(text)) append_upper(out, cp, text);
  return out;
}

std::string to_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const CodePoint& cp : decode(text)) append_lower(out, cp, text);
  return out;
}

std::string capitalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const std::vector<CodePoint> code_points = decode(text);
  for (size_t i = 0; i < code_points.size(); ++i) {
    if (i == 0) append_upper(out, code_points[i], text);
    else append_lower(out, code_points[i], text);
  }
  return out;
}

std::string python_title(std::string_view text) {
  // A cased code point is upper-cased when it follows an uncased one, else lower-cased.
  std::string out;
  out.reserve(text.size());
  bool previous_cased = false;
  for (const CodePoint& cp : decode(text)) {
    const bool cased = cp.valid && is_cased(cp.value);
    if (cased && !previous_cased) append_upper(out, cp, text);
    else append_lower(out, cp, text);
    previous_cased = cased;
  }
  return out;
}

std::string jinja_title(std::string_view text) {
  auto is_word_separator = [](const CodePoint& cp) {
    return cp.valid && (is_python_space(cp.value) || cp.value == '-' || cp.value == '(' || cp.value == '{' ||
                        cp.value == '[' || cp.value == '<');
  };
  std::string out;
  out.reserve(text.size());
  bool word_start = true;
  for (const CodePoint& cp : decode(text)) {
    if (is_word_separator(cp)) {
      out.append(text.substr(cp.begin, cp.end - cp.begin));
      word_start = true;
      continue;
    }
    if (word_start) append_upper(out, cp, text);
    else append_lower(out, cp, text);
    word_start = false;
  }
  return out;
}

std::string replace(std::string_view text, std::string_view old, std::string_view replacement, int64_t count,
                    size_t max_bytes) {
  // Find the match positions first, so the result size is known before building it.
  std::vector<size_t> matches;
  if (old.empty()) {
    matches = code_point_offsets(text);
  } else {
    for (size_t found = text.find(old); found != std::string_view::npos; found = text.find(old, found + old.size())) {
      matches.push_back(found);
    }
  }
  if (count >= 0 && matches.size() > static_cast<uint64_t>(count)) matches.resize(static_cast<size_t>(count));

  const double result_bytes = static_cast<double>(text.size()) +
                              static_cast<double>(matches.size()) * (static_cast<double>(replacement.size()) - old.size());
  if (result_bytes > static_cast<double>(max_bytes)) {
    throw ChatTemplateError(ChatTemplateErrorKind::limit,
                            fmt::format("replace() result of {:.0f} bytes exceeds the string size limit of {} bytes",
                                        result_bytes, max_bytes));
  }

  std::string out;
  out.reserve(static_cast<size_t>(result_bytes));
  size_t copied = 0;
  for (const size_t match : matches) {
    out.append(text.substr(copied, match - copied));
    out.append(replacement);
    copied = match + old.size();
  }
  out.append(text.substr(copied));
  return out;
}

int64_t find(std::string_view text, std::string_view needle) {
  const size_t found = text.find(needle);
  if (found == std::string_view::npos) return -1;
  return static_cast<int64_t>(count_code_points(text.substr(0, found)));
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
}

}  // namespace kvinfer::chat::jinja
