// UTF-8 validation helpers shared by the pre-tokenizer, the SentencePiece tokenizer and the
// incremental detokenizer. They never decode to code points: callers only need where
// characters begin and end.
#pragma once

#include <cstddef>
#include <string_view>

namespace kvinfer::tokenizer {

// Returns the length (1 to 4) of the well-formed UTF-8 character that starts at text[pos],
// or 0 when the bytes there do not start one. Ill-formed starts are a stray continuation
// byte, an overlong form, a surrogate, a code point past U+10FFFF, or a character cut off
// by the end of `text`, as in PCRE2's UTF mode. Precondition: pos < text.size().
size_t utf8_char_length(std::string_view text, size_t pos);

// Returns how many bytes at the end of `text` (0 to 3) are the start of a well-formed
// character that more bytes could still complete. Bytes that can never become part of a
// well-formed character are not counted.
size_t utf8_incomplete_suffix_length(std::string_view text);

}  // namespace kvinfer::tokenizer
