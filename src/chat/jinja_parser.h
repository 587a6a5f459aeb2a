// Parses Jinja tokens into a syntax tree, following jinja2's grammar and operator
// precedence (loosest first):
//
//   a if c else b  >  or  >  and  >  not  >  comparisons, in, not in  >  + -  >  ~
//   >  * / // %  >  **  >  unary - +  >  filters "|f" and tests "is t"  >  . [] ()
//
// so "'a' + x | trim" trims x only, and "not x is defined" negates the test.
// Supported tags: if/elif/else, for (with an "if" filter and else), set (plain, tuple,
// namespace attribute and block), macro, filter, with, break, continue, raw and
// generation (Hugging Face's marker of assistant text, rendered as its body).
// Tags that load other templates (include, import, extends, block) do not exist here.
#pragma once

#include <string_view>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace kvinfer::chat::jinja {

// Parses a whole template. Throws ChatTemplateError (kind syntax) with a one-line
// message naming the line. An unknown filter or test name is a syntax error too, as in
// jinja2. Nesting of blocks and sub-expressions deeper than `max_depth` levels throws
// ChatTemplateError of kind limit.
Body parse_template(const std::vector<Token>& tokens, int max_depth);

}  // namespace kvinfer::chat::jinja
