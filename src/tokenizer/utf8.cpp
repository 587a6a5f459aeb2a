// UTF-8 validation following RFC 3629, table 3-7 of the Unicode Standard.
#include "tokenizer/utf8.h"

#include <algorithm>
#include <cstdint>

namespace kvinfer::tokenizer {
namespace {

// What a lead byte promises: the character's total length, and the range its second
// byte must fall in. The narrowed second-byte ranges exclude overlong forms (E0, F0),
// surrogates (ED) and code points past U+10FFFF (F4).
struct LeadByte {
  uint8_t length;  // 0 for a byte that cannot start a character
  uint8_t second_min;
  uint8_t second_max;
};

LeadByte classify_lead_byte(uint8_t byte) {
  if (byte < 0x80) {
    return {1, 0, 0};
  }
  if (byte < 0xC2) {
    return {0, 0, 0};  // continuation byte, or C0/C1 which only start overlong forms
  }
  if (byte < 0xE0) {
    return {2, 0x80, 0xBF};
  }
  if (byte == 0xE0) {
    return {3, 0xA0, 0xBF};
  }
  if (byte == 0xED) {
    return {3, 0x80, 0x9F};
  }
  if (byte < 0xF0) {
    return {3, 0x80, 0xBF};
  }
  if (byte == 0xF0) {
    return {4, 0x90, 0xBF};
  }
  if (byte < 0xF4) {
    return {4, 0x80, 0xBF};
  }
  if (byte == 0xF4) {
    return {4, 0x80, 0x8F};
  }
  return {0, 0, 0};
}

bool is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// True when the `n_present` bytes from text[pos] are a valid start of the character
// `lead` announces (n_present <= lead.length).
bool is_valid_prefix(std::string_view text, size_t pos, LeadByte lead, size_t n_present) {
  if (n_present >= 2) {
    const auto second = static_cast<uint8_t>(text[pos + 1]);
    if (second < lead.second_min || second > lead.second_max) {
      return false;
    }
  }
  for (size_t i = 2; i < n_present; ++i) {
    if (!is_continuation(static_cast<uint8_t>(text[pos + i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

size_t utf8_char_length(std::string_view text, size_t pos) {
  const LeadByte lead = classify_lead_byte(static_cast<uint8_t>(text[pos]));
  if (lead.length <= 1) {
    return lead.length;
  }
  if (text.size() - pos < lead.length) {
    return 0;
  }
  return is_valid_prefix(text, pos, lead, lead.length) ? lead.length : 0;
}

size_t utf8_incomplete_suffix_length(std::string_view text) {
  // Walk back over at most three bytes to the lead byte of the last character.
  const size_t max_back = std::min<size_t>(3, text.size());
  for (size_t n_back = 1; n_back <= max_back; ++n_back) {
    const size_t pos = text.size() - n_back;
    const auto byte = static_cast<uint8_t>(text[pos]);
    if (is_continuation(byte)) {
      continue;
    }

    // The tail is incomplete only if the lead byte promises more bytes than are present
    // and those present are valid so far.
    const LeadByte lead = classify_lead_byte(byte);
    if (lead.length <= n_back) {
      return 0;
    }
    return is_valid_prefix(text, pos, lead, n_back) ? n_back : 0;
  }
  return 0;
}

}  // namespace kvinfer::tokenizer
