// The byte <-> character mapping of GPT-2 style byte-level BPE. Each of the 256 byte values
// maps to one printable character, so vocabulary entries contain no raw control bytes or
// spaces. Bytes that are printable Latin-1 ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) map
// to the character of the same value, and the other 68 map to U+0100, U+0101, ... in
// byte order.
// Source: bytes_to_unicode() in OpenAI's GPT-2 encoder.py.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvinfer::tokenizer {

// Returns the UTF-8 encoding (2 bytes at most) of the character that `byte` maps to.
std::string_view byte_to_unicode(uint8_t byte);

// Appends to `out` the character of every byte of `bytes`.
void append_byte_encoded(std::string_view bytes, std::string& out);

// Decodes the mapped character at the start of `text` and returns its byte, or nullopt
// when that character is not one of the 256 mapped ones. Either way, sets `n_consumed` to
// the length of the character, or to 1 when `text` starts with invalid UTF-8.
std::optional<uint8_t> unicode_to_byte(std::string_view text, size_t& n_consumed);

}  // namespace kvinfer::tokenizer
