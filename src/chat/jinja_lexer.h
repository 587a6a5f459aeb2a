// Splits a Jinja template into tokens: literal text, tag delimiters and the expression
// tokens inside tags. Whitespace control is applied here, as jinja2's lexer does:
//
//   {%- / {{- / {#-   remove all whitespace before the tag
//   -%} / -}} / -#}   remove all whitespace after the tag
//   trim_blocks       remove the first newline after a block tag or comment
//   lstrip_blocks     remove spaces and tabs from the start of a line up to a block tag
//                     or comment; {%+ turns this off for one tag, +%} turns off
//                     trim_blocks for one tag
//
// Before lexing, "\r\n" and "\r" become "\n" and one trailing newline is dropped
// (jinja2's keep_trailing_newline=False). Comments produce no tokens, and the body of
// {% raw %}...{% endraw %} becomes one text token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvinfer::chat::jinja {

enum class TokenType {
  text,            // literal template text
  variable_begin,  // {{
  variable_end,    // }}
  block_begin,     // {%
  block_end,       // %}
  name,            // identifiers and keywords
  string,          // a string literal, escapes resolved
  integer,
  floating,
  op,              // an operator or punctuation: + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
  end_of_input,
};

struct Token {
  TokenType type;
  std::string text;  // the text, name, operator or decoded string literal
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;  // line of the token's first character, from 1
};

// The whitespace options of jinja2's Environment. Hugging Face's apply_chat_template
// turns both on, and so do these defaults.
struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Tokenizes `source`, ending with an end_of_input token. Throws ChatTemplateError
// (kind syntax) with the line number for an unclosed tag, comment or string, an
// unexpected character or unbalanced brackets.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options = {});

}  // namespace kvinfer::chat::jinja
