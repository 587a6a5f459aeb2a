// String operations with the semantics of Python's `str` methods, over UTF-8 bytes.
// Chat templates are written against Python, where strings are sequences of code points:
// lengths, indices and slices here count code points, and whitespace is Python's
// Unicode whitespace. Bytes that are not valid UTF-8 count as one code point each and
// are copied through unchanged. It does not depend on templates or values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvinfer::chat::jinja {

// Byte offset of every code point start, followed by text.size(): code point i spans
// [offsets[i], offsets[i + 1]).
std::vector<size_t> code_point_offsets(std::string_view text);

size_t count_code_points(std::string_view text);

// The code points of `text`; a byte that is not valid UTF-8 stands for itself.
std::vector<char32_t> decode_utf8(std::string_view text);

// Python's str.isspace() for one code point.
bool is_python_space(char32_t code_point);

// Python's str.strip/lstrip/rstrip: removes leading and/or trailing code points that are
// whitespace, or that occur in `chars` when it is given.
std::string strip(std::string_view text, std::optional<std::string_view> chars, bool leading, bool trailing);

// Python's str.split: on runs of whitespace (dropping empty parts) when `separator` is
// absent, else on each occurrence of it. `max_split` < 0 means no limit. Throws
// ChatTemplateError when the separator is empty, as Python raises ValueError.
std::vector<std::string> split(std::string_view text, std::optional<std::string_view> separator, int64_t max_split);

// Python's str.upper/lower/capitalize/title.
// NOTE: case mapping covers ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and the
// fullwidth Latin letters. Other scripts pass through unchanged, where Python would map
// them too (for example Armenian or Georgian).
std::string to_upper(std::string_view text);
std::string to_lower(std::string_view text);
std::string capitalize(std::string_view text);
std::string python_title(std::string_view text);

// Jinja's `title` filter: every word starts upper case and continues lower case, where
// words are separated by runs of whitespace, '-', '(', '{', '[' or '<'.
std::string jinja_title(std::string_view text);

// Python's str.replace. `count` < 0 replaces every occurrence; an empty `old` inserts
// `replacement` between code points and at both ends. `max_bytes` bounds the result:
// larger results throw ChatTemplateError before any memory is allocated.
std::string replace(std::string_view text, std::string_view old, std::string_view replacement, int64_t count,
                    size_t max_bytes);

// Python's str.find as a code point index, or -1 when `needle` does not occur.
int64_t find(std::string_view text, std::string_view needle);

// Appends `code_point` to `out` as UTF-8.
void append_utf8(std::string& out, char32_t code_point);

}  // namespace kvinfer::chat::jinja
