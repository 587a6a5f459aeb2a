// Jinja tokenizer with jinja2's whitespace control, trim_blocks and lstrip_blocks rules.
#include "chat/jinja_lexer.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

#include "chat/chat_template_error.h"
#include "chat/py_string.h"

namespace kvinfer::chat::jinja {
namespace {

enum class TagKind { variable, block, comment };

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Converts "\r\n" and "\r" to "\n" and drops one trailing newline.
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int count_newlines(std::string_view text) {
  int n_newlines = 0;
  for (const char c : text) n_newlines += c == '\n';
  return n_newlines;
}

std::string_view rstrip_whitespace(std::string_view text) {
  size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  return text.substr(0, end);
}

class Lexer {
 public:
  Lexer(std::string source, const LexerOptions& options) : src_(std::move(source)), options_(options) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t open = find_tag_open(pos_);
      if (open == std::string::npos) {
        emit_text(std::string_view(src_).substr(pos_), line_);
        pos_ = src_.size();
        break;
      }
      lex_tag(open);
    }
    tokens_.push_back({TokenType::end_of_input, "", 0, 0.0, line_});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(int line, const std::string& message) const {
    throw ChatTemplateError(ChatTemplateErrorKind::syntax,
                            fmt::format("chat template syntax error at line {}: {}", line, message));
  }

  // Position of the next "{{", "{%" or "{#" at or after `from`, or npos.
  size_t find_tag_open(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void emit_text(std::string_view text, int line) {
    if (!text.empty()) tokens_.push_back({TokenType::text, std::string(text), 0, 0.0, line});
  }

  // Applies whitespace control to the text that precedes a tag. A '-' strips all
  // whitespace. Otherwise lstrip_blocks strips the spaces and tabs that start the tag's
  // line before a block tag or comment, unless the tag has '+'.
  std::string_view strip_before_tag(std::string_view text, char modifier, TagKind kind) const {
    if (modifier == '-') return rstrip_whitespace(text);
    if (modifier == '+' || !options_.lstrip_blocks || kind == TagKind::variable) return text;

    const size_t line_start = text.rfind('\n') == std::string_view::npos ? 0 : text.rfind('\n') + 1;
    if (line_start == 0 && !line_starting_) return text;
    const std::string_view tail = text.substr(line_start);
    if (tail.empty()) return text;
    for (const char c : tail) {
      if (!is_space(c)) return text;
    }
    return text.substr(0, line_start);
  }

  // Consumes what follows a tag's closing delimiter: all whitespace after '-', else the
  // first newline when trim_blocks applies.
  void consume_after_tag(bool strip_all, bool trim_newline) {
    if (strip_all) {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        line_ += src_[pos_] == '\n';
        ++pos_;
      }
    } else if (trim_newline && pos_ < src_.size() && src_[pos_] == '\n') {
      ++line_;
      ++pos_;
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  void lex_tag(size_t open) {
    const char kind_char = src_[open + 1];
    const TagKind kind = kind_char == '{' ? TagKind::variable : (kind_char == '%' ? TagKind::block : TagKind::comment);
    const char modifier = open + 2 < src_.size() && (src_[open + 2] == '-' || src_[open + 2] == '+') ? src_[open + 2] : 0;

    const std::string_view text = std::string_view(src_).substr(pos_, open - pos_);
    emit_text(strip_before_tag(text, modifier, kind), line_);
    line_ += count_newlines(text);
    pos_ = open + 2 + (modifier != 0 ? 1 : 0);

    if (kind == TagKind::comment) lex_comment();
    else if (kind == TagKind::block && try_lex_raw()) return;
    else lex_tag_body(kind);
  }

  void lex_comment() {
    const int start_line = line_;
    const size_t close = src_.find("#}", pos_);
    if (close == std::string::npos) fail(start_line, "comment is not closed with '#}'");
    const bool strip_all = close > pos_ && src_[close - 1] == '-';
    line_ += count_newlines(std::string_view(src_).substr(pos_, close - pos_));
    pos_ = close + 2;
    consume_after_tag(strip_all, options_.trim_blocks);
  }

  // Skips whitespace from `at`, then matches `word`. Returns the position after it.
  std::optional<size_t> match_word(size_t at, std::string_view word) const {
    while (at < src_.size() && is_space(src_[at])) ++at;
    if (src_.compare(at, word.size(), word) != 0) return std::nullopt;
    const size_t end = at + word.size();
    if (end < src_.size() && is_name_char(src_[end])) return std::nullopt;
    return end;
  }

  // Matches the "-%}", "+%}" or "%}" that closes a raw or endraw tag, after whitespace.
  // Returns the position after it and the modifier ('-', '+' or 0).
  std::optional<std::pair<size_t, char>> match_block_close(size_t at) const {
    while (at < src_.size() && is_space(src_[at])) ++at;
    if (src_.compare(at, 2, "%}") == 0) return std::pair<size_t, char>{at + 2, 0};
    if (at + 2 < src_.size() && (src_[at] == '-' || src_[at] == '+') && src_.compare(at + 1, 2, "%}") == 0) {
      return std::pair<size_t, char>{at + 3, src_[at]};
    }
    return std::nullopt;
  }

  // Lexes "{% raw %}...{% endraw %}" when the block tag at pos_ is a raw tag.
  bool try_lex_raw() {
    const std::optional<size_t> after_raw = match_word(pos_, "raw");
    if (!after_raw) return false;
    // jinja2 accepts "%}" and "-%}" after raw, but not "+%}".
    const auto open_close = match_block_close(*after_raw);
    if (!open_close || open_close->second == '+') return false;

    // The raw tag itself keeps the newline after it; only '-' strips there.
    const int start_line = line_;
    line_ += count_newlines(std::string_view(src_).substr(pos_, open_close->first - pos_));
    pos_ = open_close->first;
    consume_after_tag(open_close->second == '-', false);

    for (size_t open = src_.find("{%", pos_); open != std::string::npos; open = src_.find("{%", open + 2)) {
      const char modifier = open + 2 < src_.size() && (src_[open + 2] == '-' || src_[open + 2] == '+') ? src_[open + 2] : 0;
      const std::optional<size_t> after_end = match_word(open + 2 + (modifier != 0 ? 1 : 0), "endraw");
      const auto end_close = after_end ? match_block_close(*after_end) : std::nullopt;
      if (!end_close) continue;

      const std::string_view body = std::string_view(src_).substr(pos_, open - pos_);
      emit_text(strip_before_tag(body, modifier, TagKind::block), line_);
      line_ += count_newlines(std::string_view(src_).substr(pos_, end_close->first - pos_));
      pos_ = end_close->first;
      consume_after_tag(end_close->second == '-', options_.trim_blocks && end_close->second != '+');
      return true;
    }
    fail(start_line, "'raw' block is not closed with '{% endraw %}'");
  }

  // Lexes the expression tokens of a {{ }} or {% %} tag through its closing delimiter.
  void lex_tag_body(TagKind kind) {
    const int start_line = line_;
    tokens_.push_back({kind == TagKind::variable ? TokenType::variable_begin : TokenType::block_begin, "", 0, 0.0, line_});
    const std::string_view close = kind == TagKind::variable ? "}}" : "%}";
    std::string brackets;  // open brackets not yet closed

    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        line_ += src_[pos_] == '\n';
        ++pos_;
      }
      if (pos_ >= src_.size()) fail(start_line, fmt::format("tag is not closed with '{}'", close));
      if (brackets.empty() && try_close_tag(kind, close)) return;
      lex_expression_token(brackets);
    }
  }

  bool try_close_tag(TagKind kind, std::string_view close) {
    char modifier = 0;
    size_t at = pos_;
    if ((src_[at] == '-' || (src_[at] == '+' && kind == TagKind::block)) && src_.compare(at + 1, 2, close) == 0) {
      modifier = src_[at];
      ++at;
    }
    if (src_.compare(at, 2, close) != 0) return false;

    tokens_.push_back({kind == TagKind::variable ? TokenType::variable_end : TokenType::block_end, "", 0, 0.0, line_});
    pos_ = at + 2;
    const bool trim_newline = kind == TagKind::block && options_.trim_blocks && modifier != '+';
    consume_after_tag(modifier == '-', trim_newline);
    return true;
  }

  void lex_expression_token(std::string& brackets) {
    const char c = src_[pos_];
    if (is_name_start(c)) {
      const size_t begin = pos_;
      while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
      tokens_.push_back({TokenType::name, src_.substr(begin, pos_ - begin), 0, 0.0, line_});
    } else if (is_digit(c)) {
      lex_number();
    } else if (c == '\'' || c == '"') {
      lex_string();
    } else {
      lex_operator(brackets);
    }
  }

  // Appends digits with optional '_' separators ("1_000") to `digits`.
  void take_digits(std::string& digits) {
    while (pos_ < src_.size() && (is_digit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])))) {
      if (src_[pos_] != '_') digits += src_[pos_];
      ++pos_;
    }
  }

  void lex_number() {
    const int line = line_;
    std::string digits;
    take_digits(digits);

    // After a '.', a number is an index ("items.0.1" is two lookups), never a float.
    const bool after_dot = !tokens_.empty() && tokens_.back().type == TokenType::op && tokens_.back().text == ".";
    bool is_float = false;
    if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      ++pos_;
      digits += '.';
      take_digits(digits);
      is_float = true;
    }
    const bool has_exponent_digits = pos_ + 1 < src_.size() && (is_digit(src_[pos_ + 1]) ||
        ((src_[pos_ + 1] == '+' || src_[pos_ + 1] == '-') && pos_ + 2 < src_.size() && is_digit(src_[pos_ + 2])));
    if (!after_dot && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E') && has_exponent_digits) {
      digits += 'e';
      ++pos_;
      if (src_[pos_] == '+' || src_[pos_] == '-') digits += src_[pos_++];
      take_digits(digits);
      is_float = true;
    }

    Token token{is_float ? TokenType::floating : TokenType::integer, digits, 0, 0.0, line};
    const char* end = digits.data() + digits.size();
    const auto result = is_float ? std::from_chars(digits.data(), end, token.float_value)
                                 : std::from_chars(digits.data(), end, token.int_value);
    if (result.ec != std::errc()) fail(line, fmt::format("number literal {} is out of range", digits));
    tokens_.push_back(std::move(token));
  }

  // Reads `n_digits` hexadecimal digits of an escape and returns the code point.
  char32_t take_hex_escape(int n_digits, int line) {
    if (pos_ + n_digits > src_.size()) fail(line, "truncated escape sequence in string literal");
    uint32_t value = 0;
    const auto result = std::from_chars(src_.data() + pos_, src_.data() + pos_ + n_digits, value, 16);
    if (result.ec != std::errc() || result.ptr != src_.data() + pos_ + n_digits) {
      fail(line, fmt::format("invalid escape sequence '{}' in string literal", src_.substr(pos_ - 2, n_digits + 2)));
    }
    pos_ += n_digits;
    return value;
  }

  // Resolves one backslash escape as Python's unicode-escape codec does. An unknown
  // escape keeps its backslash.
  void take_escape(std::string& out, int line) {
    const char c = src_[pos_++];
    switch (c) {
      case '\n': ++line_; break;  // a line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': append_utf8(out, take_hex_escape(2, line)); break;
      case 'u': append_code_point(out, take_hex_escape(4, line)); break;
      case 'U': append_code_point(out, take_hex_escape(8, line)); break;
      case 'N': fail(line, "named escapes (\\N{...}) in string literals are not supported");
      default:
        if (c >= '0' && c <= '7') {
          uint32_t value = static_cast<uint32_t>(c - '0');
          for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i) {
            value = value * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
          }
          append_utf8(out, value);
        } else {
          out += '\\';
          out += c;
          line_ += c == '\n';
        }
    }
  }

  // Appends a \u or \U code point. A UTF-16 surrogate pair written as two \u escapes
  // is combined. A lone surrogate becomes U+FFFD because UTF-8 cannot encode it.
  void append_code_point(std::string& out, char32_t value) {
    if (value >= 0xd800 && value <= 0xdbff && src_.compare(pos_, 2, "\\u") == 0) {
      uint32_t low = 0;
      const auto result = std::from_chars(src_.data() + pos_ + 2, src_.data() + std::min(pos_ + 6, src_.size()), low, 16);
      if (result.ec == std::errc() && result.ptr == src_.data() + pos_ + 6 && low >= 0xdc00 && low <= 0xdfff) {
        pos_ += 6;
        append_utf8(out, 0x10000 + ((value - 0xd800) << 10) + (low - 0xdc00));
        return;
      }
    }
    if (value > 0x10ffff) fail(line_, "escape sequence is beyond U+10FFFF in string literal");
    append_utf8(out, (value >= 0xd800 && value <= 0xdfff) ? 0xfffd : value);
  }

  void lex_string() {
    const int line = line_;
    const char quote = src_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) fail(line, "string literal is not closed");
      const char c = src_[pos_++];
      if (c == quote) break;
      if (c == '\\' && pos_ < src_.size()) {
        take_escape(value, line);
        continue;
      }
      line_ += c == '\n';
      value += c;
    }
    tokens_.push_back({TokenType::string, std::move(value), 0, 0.0, line});
  }

  void lex_operator(std::string& brackets) {
    static constexpr std::string_view kTwoCharOperators[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const std::string_view op : kTwoCharOperators) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({TokenType::op, std::string(op), 0, 0.0, line_});
        pos_ += 2;
        return;
      }
    }

    const char c = src_[pos_];
    if (std::string_view("+-*/%~()[]{},.:|=<>").find(c) == std::string_view::npos) {
      fail(line_, fmt::format("unexpected character '{}'", c));
    }
    if (c == '(' || c == '[' || c == '{') brackets += c;
    if (c == ')' || c == ']' || c == '}') {
      const char expected_open = c == ')' ? '(' : (c == ']' ? '[' : '{');
      if (brackets.empty() || brackets.back() != expected_open) fail(line_, fmt::format("unexpected '{}'", c));
      brackets.pop_back();
    }
    tokens_.push_back({TokenType::op, std::string(1, c), 0, 0.0, line_});
    ++pos_;
  }

  std::string src_;
  LexerOptions options_;
  size_t pos_ = 0;
  int line_ = 1;
  // Whether the last consumed character ends a line (or nothing was consumed yet), so
  // that lstrip_blocks may strip text before a tag even when that text holds no newline.
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options) {
  return Lexer(normalize_newlines(source), options).run();
}

}  // namespace kvinfer::chat::jinja
