// Tables for the GPT-2 byte <-> character mapping, built once on first use.
#include "tokenizer/byte_unicode.h"

#include <array>

#include "tokenizer/utf8.h"

namespace kvinfer::tokenizer {
namespace {

// Every mapped character lies below U+0144: 256 plus the 68 remapped bytes.
constexpr uint32_t kMaxMappedCodePoint = 256 + 68;

bool stands_for_itself(uint32_t byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

std::string encode_utf8(uint32_t code_point) {
  std::string utf8;
  if (code_point < 0x80) {
    utf8.push_back(static_cast<char>(code_point));
  } else {
    utf8.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    utf8.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
  return utf8;
}

struct ByteUnicodeTables {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, kMaxMappedCodePoint> code_point_to_byte;  // -1 where unmapped

  ByteUnicodeTables() {
    code_point_to_byte.fill(-1);
    uint32_t n_remapped = 0;
    for (uint32_t byte = 0; byte < 256; ++byte) {
      const uint32_t code_point = stands_for_itself(byte) ? byte : 256 + n_remapped++;
      byte_to_utf8[byte] = encode_utf8(code_point);
      code_point_to_byte[code_point] = static_cast<int16_t>(byte);
    }
  }
};

const ByteUnicodeTables& tables() {
  static const ByteUnicodeTables instance;
  return instance;
}

}  // namespace

std::string_view byte_to_unicode(uint8_t byte) { return tables().byte_to_utf8[byte]; }

void append_byte_encoded(std::string_view bytes, std::string& out) {
  const ByteUnicodeTables& t = tables();
  for (const char byte : bytes) {
    out += t.byte_to_utf8[static_cast<uint8_t>(byte)];
  }
}

std::optional<uint8_t> unicode_to_byte(std::string_view text, size_t& n_consumed) {
  const size_t length = utf8_char_length(text, 0);
  n_consumed = length == 0 ? 1 : length;
  if (length == 0 || length > 2) {
    return std::nullopt;
  }

  // Mapped characters are one or two bytes long, so decode those forms only.
  const auto b0 = static_cast<uint8_t>(text[0]);
  const uint32_t code_point = length == 1 ? b0 : ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(text[1]) & 0x3Fu);
  if (code_point >= kMaxMappedCodePoint || tables().code_point_to_byte[code_point] < 0) {
    return std::nullopt;
  }
  return static_cast<uint8_t>(tables().code_point_to_byte[code_point]);
}

}  // namespace kvinfer::tokenizer
