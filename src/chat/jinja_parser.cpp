// Recursive-descent parser for the Jinja subset of chat templates. Each parse_* method
// follows one rule of jinja2's grammar, so precedence and associativity match it.
#include "chat/jinja_parser.h"

#include <fmt/format.h>

#include <algorithm>

#include "chat/chat_template_error.h"
#include "chat/jinja_filters.h"

namespace kvinfer::chat::jinja {
namespace {

template <typename Node>
ExprPtr make_expr(int line, Node node) {
  return std::make_unique<Expr>(Expr{line, std::move(node)});
}

template <typename Node>
StmtPtr make_stmt(int line, Node node) {
  return std::make_unique<Stmt>(Stmt{line, std::move(node)});
}

std::string describe(const Token& token) {
  switch (token.type) {
    case TokenType::text: return "template text";
    case TokenType::variable_begin: return "'{{'";
    case TokenType::variable_end: return "'}}'";
    case TokenType::block_begin: return "'{%'";
    case TokenType::block_end: return "'%}'";
    case TokenType::name: return fmt::format("'{}'", token.text);
    case TokenType::string: return "a string";
    case TokenType::integer:
    case TokenType::floating: return fmt::format("number {}", token.text);
    case TokenType::op: return fmt::format("'{}'", token.text);
    case TokenType::end_of_input: return "the end of the template";
  }
  return "a token";
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, int max_depth) : tokens_(tokens), max_depth_(max_depth) {}

  Body parse() { return parse_body({}); }

 private:
  // Counts one level of nesting for as long as it lives.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > parser_.max_depth_) {
        throw ChatTemplateError(ChatTemplateErrorKind::limit,
                                fmt::format("chat template nesting at line {} exceeds the limit of {} levels",
                                            parser_.current().line, parser_.max_depth_));
      }
    }
    ~DepthGuard() { --parser_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& parser_;
  };

  // ---- token cursor ----

  const Token& current() const { return tokens_[pos_]; }
  const Token& peek() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }

  bool at_op(std::string_view op) const { return current().type == TokenType::op && current().text == op; }
  bool at_name(std::string_view name) const { return current().type == TokenType::name && current().text == name; }

  bool skip_op(std::string_view op) {
    if (!at_op(op)) return false;
    advance();
    return true;
  }

  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail(int line, const std::string& message) const {
    throw ChatTemplateError(ChatTemplateErrorKind::syntax,
                            fmt::format("chat template syntax error at line {}: {}", line, message));
  }

  [[noreturn]] void fail_unexpected(std::string_view expected) const {
    fail(current().line, fmt::format("expected {}, got {}", expected, describe(current())));
  }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_unexpected(fmt::format("'{}'", op));
  }

  std::string expect_name() {
    if (current().type != TokenType::name) fail_unexpected("a name");
    std::string name = current().text;
    advance();
    return name;
  }

  void expect_block_end() {
    if (current().type != TokenType::block_end) fail_unexpected("'%}'");
    advance();
  }

  // Consumes "{% name %}", the end tag the current body stopped at.
  void expect_end_tag(std::string_view name) {
    advance();  // {%
    if (expect_name() != name) fail(current().line, fmt::format("expected '{}'", name));
    expect_block_end();
  }

  // ---- statements ----

  // Parses statements until a block tag named in `end_tags` (left unconsumed) or, at
  // the top level only, the end of the template.
  Body parse_body(std::initializer_list<std::string_view> end_tags) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& token = current();
      if (token.type == TokenType::end_of_input) {
        if (end_tags.size() == 0) return body;
        const OpenBlock& block = open_blocks_.back();
        fail(block.line, fmt::format("'{}' block is not closed with '{{% end{} %}}'", block.tag, block.tag));
      }
      if (token.type == TokenType::text) {
        body.push_back(make_stmt(token.line, TextStmt{token.text}));
        advance();
      } else if (token.type == TokenType::variable_begin) {
        advance();
        ExprPtr expr = parse_tuple(true, false);
        if (current().type != TokenType::variable_end) fail_unexpected("'}}'");
        advance();
        body.push_back(make_stmt(token.line, OutputStmt{std::move(expr)}));
      } else if (token.type == TokenType::block_begin) {
        const Token& tag = peek();
        if (tag.type != TokenType::name) fail(tag.line, fmt::format("expected a tag name, got {}", describe(tag)));
        if (std::find(end_tags.begin(), end_tags.end(), tag.text) != end_tags.end()) return body;
        advance();
        body.push_back(parse_statement());
      } else {
        fail_unexpected("template text or a tag");
      }
    }
  }

  StmtPtr parse_statement() {
    const int line = current().line;
    const std::string tag = expect_name();
    if (tag == "if") return parse_if(line);
    if (tag == "for") return parse_for(line);
    if (tag == "set") return parse_set(line);
    if (tag == "macro") return parse_macro(line);
    if (tag == "filter") return parse_filter_block(line);
    if (tag == "generation") return parse_generation_block(line);
    if (tag == "with") return parse_with(line);
    if (tag == "break" || tag == "continue") return parse_loop_control(line, tag);
    if (tag == "include" || tag == "import" || tag == "from" || tag == "extends" || tag == "block") {
      fail(line, fmt::format("tag '{}' is not supported: a chat template cannot use other templates", tag));
    }
    if (tag == "call") fail(line, "tag 'call' is not supported");
    const bool closing_tag = tag.starts_with("end") || tag == "else" || tag == "elif";
    if (closing_tag && !open_blocks_.empty()) {
      const OpenBlock& block = open_blocks_.back();
      fail(line, fmt::format("unexpected '{}' in the '{}' block opened at line {}", tag, block.tag, block.line));
    }
    if (closing_tag) fail(line, fmt::format("unexpected '{}' outside any block", tag));
    fail(line, fmt::format("unknown tag '{}'", tag));
  }

  // Parses the body of a block opened by `opener` at `line`, up to one of `end_tags`.
  Body parse_block_body(std::string_view opener, int line, std::initializer_list<std::string_view> end_tags) {
    open_blocks_.push_back({opener, line});
    Body body = parse_body(end_tags);
    open_blocks_.pop_back();
    return body;
  }

  // Consumes "{%" and the name of the tag the last body stopped at, and returns the name.
  std::string take_stop_tag() {
    advance();
    return expect_name();
  }

  StmtPtr parse_if(int line) {
    IfStmt stmt;
    ExprPtr condition = parse_tuple(false, false);
    expect_block_end();
    while (true) {
      Body body = parse_block_body("if", line, {"elif", "else", "endif"});
      stmt.branches.emplace_back(std::move(condition), std::move(body));
      const std::string tag = take_stop_tag();
      if (tag == "elif") {
        condition = parse_tuple(false, false);
        expect_block_end();
        continue;
      }
      expect_block_end();
      if (tag == "else") {
        stmt.else_body = parse_block_body("if", line, {"endif"});
        expect_end_tag("endif");
      }
      return make_stmt(line, std::move(stmt));
    }
  }

  StmtPtr parse_for(int line) {
    ForStmt stmt;
    stmt.target = parse_names_target();
    if (!skip_name("in")) fail_unexpected("'in'");
    stmt.iterable = parse_tuple(false, false);
    if (skip_name("if")) stmt.filter = parse_expression(true);
    if (at_name("recursive")) fail(current().line, "recursive for loops are not supported");
    expect_block_end();

    ++loop_depth_;
    stmt.body = parse_block_body("for", line, {"else", "endfor"});
    --loop_depth_;
    if (take_stop_tag() == "else") {
      expect_block_end();
      stmt.else_body = parse_block_body("for", line, {"endfor"});
      expect_end_tag("endfor");
    } else {
      expect_block_end();
    }
    return make_stmt(line, std::move(stmt));
  }

  // "name" or "a, b" or "(a, b)".
  AssignTarget parse_names_target() {
    AssignTarget target;
    const bool parenthesized = skip_op("(");
    target.names.push_back(expect_name());
    while (skip_op(",")) {
      target.unpack = true;
      if (at_name("in") || at_op("=") || at_op(")")) break;
      target.names.push_back(expect_name());
    }
    if (parenthesized) {
      expect_op(")");
      target.unpack = true;
    }
    return target;
  }

  StmtPtr parse_set(int line) {
    AssignTarget target;
    if (current().type == TokenType::name && peek().type == TokenType::op && peek().text == ".") {
      target.names.push_back(expect_name());
      advance();
      target.namespace_attribute = expect_name();
    } else {
      target = parse_names_target();
    }

    if (skip_op("=")) {
      ExprPtr value = parse_tuple(true, false);
      expect_block_end();
      return make_stmt(line, SetStmt{std::move(target), std::move(value)});
    }

    SetBlockStmt stmt;
    stmt.target = std::move(target);
    if (skip_op("|")) stmt.filters = parse_filter_chain();
    expect_block_end();
    stmt.body = parse_block_body("set", line, {"endset"});
    expect_end_tag("endset");
    return make_stmt(line, std::move(stmt));
  }

  StmtPtr parse_macro(int line) {
    MacroStmt stmt;
    stmt.name = expect_name();
    expect_op("(");
    while (!at_op(")")) {
      if (!stmt.params.empty()) {
        expect_op(",");
        if (at_op(")")) break;
      }
      stmt.params.push_back(expect_name());
      stmt.defaults.push_back(skip_op("=") ? parse_expression(true) : nullptr);
    }
    expect_op(")");
    expect_block_end();

    // break and continue cannot cross a macro boundary.
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    stmt.body = parse_block_body("macro", line, {"endmacro"});
    loop_depth_ = saved_loop_depth;
    expect_end_tag("endmacro");
    return make_stmt(line, std::move(stmt));
  }

  StmtPtr parse_filter_block(int line) {
    FilterBlockStmt stmt;
    stmt.filters = parse_filter_chain();
    expect_block_end();
    stmt.body = parse_block_body("filter", line, {"endfilter"});
    expect_end_tag("endfilter");
    return make_stmt(line, std::move(stmt));
  }

  // {% generation %}body{% endgeneration %}, the tag of Hugging Face's AssistantTracker
  // extension, marks assistant text so that transformers can record where it lies for
  // assistant token masks. Rendering only needs the body, so it becomes a filter block
  // without filters.
  StmtPtr parse_generation_block(int line) {
    expect_block_end();
    FilterBlockStmt stmt;
    stmt.body = parse_block_body("generation", line, {"endgeneration"});
    expect_end_tag("endgeneration");
    return make_stmt(line, std::move(stmt));
  }

  StmtPtr parse_with(int line) {
    WithStmt stmt;
    while (current().type != TokenType::block_end) {
      if (!stmt.assignments.empty()) expect_op(",");
      std::string name = expect_name();
      expect_op("=");
      stmt.assignments.emplace_back(std::move(name), parse_expression(true));
    }
    expect_block_end();
    stmt.body = parse_block_body("with", line, {"endwith"});
    expect_end_tag("endwith");
    return make_stmt(line, std::move(stmt));
  }

  StmtPtr parse_loop_control(int line, const std::string& tag) {
    if (loop_depth_ == 0) fail(line, fmt::format("'{}' outside a for loop", tag));
    expect_block_end();
    if (tag == "break") return make_stmt(line, BreakStmt{});
    return make_stmt(line, ContinueStmt{});
  }

  // "name(args) | name | ..." after the first '|' (or after "filter").
  std::vector<FilterCall> parse_filter_chain() {
    std::vector<FilterCall> filters;
    do {
      FilterCall call{parse_filter_name(), {}, current().line};
      if (at_op("(")) call.args = parse_call_args();
      filters.push_back(std::move(call));
    } while (skip_op("|"));
    return filters;
  }

  std::string parse_filter_name() {
    const int line = current().line;
    std::string name = expect_name();
    if (!is_filter_name(name)) fail(line, fmt::format("unknown filter '{}'", name));
    return name;
  }

  // ---- expressions ----

  // A comma-separated list of expressions: a tuple when there is a comma, else the one
  // expression. `with_conditional` allows "a if c else b" at the top.
  ExprPtr parse_tuple(bool with_conditional, bool explicit_parentheses) {
    const int line = current().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (at_tuple_end()) break;
      items.push_back(parse_expression(with_conditional));
      if (!at_op(",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items.front());
      if (!explicit_parentheses) fail_unexpected("an expression");
    }
    return make_expr(line, ListExpr{std::move(items), true});
  }

  bool at_tuple_end() const {
    const TokenType type = current().type;
    return type == TokenType::variable_end || type == TokenType::block_end || at_op(")") || at_name("recursive");
  }

  ExprPtr parse_expression(bool with_conditional) {
    return with_conditional ? parse_conditional() : parse_or();
  }

  ExprPtr parse_conditional() {
    ExprPtr expr = parse_or();
    while (at_name("if")) {
      const int line = current().line;
      advance();
      ExprPtr condition = parse_or();
      ExprPtr else_value;
      if (skip_name("else")) {
        DepthGuard guard(*this);
        else_value = parse_conditional();
      }
      expr = make_expr(line, ConditionalExpr{std::move(condition), std::move(expr), std::move(else_value)});
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      const int line = current().line;
      advance();
      left = make_expr(line, BinaryExpr{BinaryOp::logical_or, std::move(left), parse_and()});
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      const int line = current().line;
      advance();
      left = make_expr(line, BinaryExpr{BinaryOp::logical_and, std::move(left), parse_not()});
    }
    return left;
  }

  ExprPtr parse_not() {
    if (!at_name("not")) return parse_compare();
    DepthGuard guard(*this);
    const int line = current().line;
    advance();
    return make_expr(line, UnaryExpr{UnaryOp::logical_not, parse_not()});
  }

  std::optional<CompareOp> take_compare_op() {
    static const std::pair<std::string_view, CompareOp> kOperators[] = {
        {"==", CompareOp::equal}, {"!=", CompareOp::not_equal},  {"<", CompareOp::less},
        {"<=", CompareOp::less_equal}, {">", CompareOp::greater}, {">=", CompareOp::greater_equal}};
    for (const auto& [text, op] : kOperators) {
      if (skip_op(text)) return op;
    }
    if (skip_name("in")) return CompareOp::in;
    if (at_name("not") && peek().type == TokenType::name && peek().text == "in") {
      advance();
      advance();
      return CompareOp::not_in;
    }
    return std::nullopt;
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    ExprPtr first = parse_additive();
    CompareExpr compare{std::move(first), {}};
    while (const std::optional<CompareOp> op = take_compare_op()) compare.rest.emplace_back(*op, parse_additive());
    if (compare.rest.empty()) return std::move(compare.first);
    return make_expr(line, std::move(compare));
  }

  // One left-associative level of binary operators, with `next` parsing the operands.
  template <typename Next>
  ExprPtr parse_binary_level(std::initializer_list<std::pair<std::string_view, BinaryOp>> operators, Next next) {
    ExprPtr left = (this->*next)();
    while (true) {
      const auto found = std::find_if(operators.begin(), operators.end(), [&](const auto& entry) { return at_op(entry.first); });
      if (found == operators.end()) return left;
      const int line = current().line;
      advance();
      left = make_expr(line, BinaryExpr{found->second, std::move(left), (this->*next)()});
    }
  }

  ExprPtr parse_additive() {
    return parse_binary_level({{"+", BinaryOp::add}, {"-", BinaryOp::subtract}}, &Parser::parse_concat);
  }

  ExprPtr parse_concat() { return parse_binary_level({{"~", BinaryOp::concat}}, &Parser::parse_multiplicative); }

  ExprPtr parse_multiplicative() {
    return parse_binary_level({{"*", BinaryOp::multiply}, {"/", BinaryOp::divide}, {"//", BinaryOp::floor_divide},
                               {"%", BinaryOp::modulo}},
                              &Parser::parse_power);
  }

  ExprPtr parse_power() { return parse_binary_level({{"**", BinaryOp::power}}, &Parser::parse_unary_with_filters); }

  ExprPtr parse_unary_with_filters() { return parse_unary(true); }

  // Unary minus and plus bind tighter than "**", as in jinja2 ("-2 ** 2" is 4). The
  // filters and tests after the operand apply to the negated value.
  ExprPtr parse_unary(bool with_filters) {
    DepthGuard guard(*this);
    const int line = current().line;
    ExprPtr expr;
    if (skip_op("-")) expr = make_expr(line, UnaryExpr{UnaryOp::negate, parse_unary(false)});
    else if (skip_op("+")) expr = make_expr(line, UnaryExpr{UnaryOp::plus, parse_unary(false)});
    else expr = parse_primary();
    expr = parse_postfix(std::move(expr));
    return with_filters ? parse_filters_and_tests(std::move(expr)) : std::move(expr);
  }

  ExprPtr parse_primary() {
    const Token& token = current();
    const int line = token.line;
    switch (token.type) {
      case TokenType::name: {
        advance();
        if (token.text == "true" || token.text == "True") return make_expr(line, LiteralExpr{Value::from_bool(true)});
        if (token.text == "false" || token.text == "False") return make_expr(line, LiteralExpr{Value::from_bool(false)});
        if (token.text == "none" || token.text == "None") return make_expr(line, LiteralExpr{Value::none()});
        return make_expr(line, NameExpr{token.text});
      }
      case TokenType::string: {
        // Adjacent string literals join, as in Python.
        std::string text;
        while (current().type == TokenType::string) {
          text += current().text;
          advance();
        }
        return make_expr(line, LiteralExpr{Value::from_string(std::move(text))});
      }
      case TokenType::integer: advance(); return make_expr(line, LiteralExpr{Value::from_int(token.int_value)});
      case TokenType::floating: advance(); return make_expr(line, LiteralExpr{Value::from_float(token.float_value)});
      default: break;
    }
    if (skip_op("(")) {
      ExprPtr expr = parse_tuple(true, true);
      expect_op(")");
      return expr;
    }
    if (at_op("[")) return parse_list();
    if (at_op("{")) return parse_dict();
    fail_unexpected("an expression");
  }

  ExprPtr parse_list() {
    const int line = current().line;
    expect_op("[");
    ListExpr list;
    while (!at_op("]")) {
      if (!list.items.empty()) {
        expect_op(",");
        if (at_op("]")) break;
      }
      list.items.push_back(parse_expression(true));
    }
    expect_op("]");
    return make_expr(line, std::move(list));
  }

  ExprPtr parse_dict() {
    const int line = current().line;
    expect_op("{");
    DictExpr dict;
    while (!at_op("}")) {
      if (!dict.entries.empty()) {
        expect_op(",");
        if (at_op("}")) break;
      }
      ExprPtr key = parse_expression(true);
      expect_op(":");
      dict.entries.emplace_back(std::move(key), parse_expression(true));
    }
    expect_op("}");
    return make_expr(line, std::move(dict));
  }

  ExprPtr parse_postfix(ExprPtr expr) {
    while (true) {
      const int line = current().line;
      if (skip_op(".")) {
        if (current().type == TokenType::integer) {
          ExprPtr index = make_expr(line, LiteralExpr{Value::from_int(current().int_value)});
          advance();
          expr = make_expr(line, ItemExpr{std::move(expr), std::move(index)});
        } else {
          expr = make_expr(line, AttributeExpr{std::move(expr), expect_name()});
        }
      } else if (at_op("[")) {
        expr = parse_subscript(std::move(expr));
      } else if (at_op("(")) {
        expr = make_expr(line, CallExpr{std::move(expr), parse_call_args()});
      } else {
        return expr;
      }
    }
  }

  // "[key]" or a slice "[start:stop:step]" with any part left out.
  ExprPtr parse_subscript(ExprPtr object) {
    const int line = current().line;
    expect_op("[");
    ExprPtr start = at_op(":") ? nullptr : parse_expression(true);
    if (skip_op("]")) return make_expr(line, ItemExpr{std::move(object), std::move(start)});

    expect_op(":");
    ExprPtr stop = (at_op(":") || at_op("]")) ? nullptr : parse_expression(true);
    ExprPtr step;
    if (skip_op(":") && !at_op("]")) step = parse_expression(true);
    expect_op("]");
    return make_expr(line, SliceExpr{std::move(object), std::move(start), std::move(stop), std::move(step)});
  }

  ArgExprs parse_call_args() {
    expect_op("(");
    ArgExprs args;
    while (!at_op(")")) {
      if (!args.positional.empty() || !args.keyword.empty()) {
        expect_op(",");
        if (at_op(")")) break;
      }
      if (at_op("*") || at_op("**")) fail(current().line, "*args and **kwargs in calls are not supported");
      if (current().type == TokenType::name && peek().type == TokenType::op && peek().text == "=") {
        std::string name = expect_name();
        advance();
        args.keyword.emplace_back(std::move(name), parse_expression(true));
      } else {
        if (!args.keyword.empty()) fail(current().line, "positional argument after keyword argument");
        args.positional.push_back(parse_expression(true));
      }
    }
    expect_op(")");
    return args;
  }

  ExprPtr parse_filters_and_tests(ExprPtr expr) {
    while (true) {
      const int line = current().line;
      if (skip_op("|")) {
        FilterExpr filter{std::move(expr), parse_filter_name(), {}};
        if (at_op("(")) filter.args = parse_call_args();
        expr = make_expr(line, std::move(filter));
      } else if (skip_name("is")) {
        expr = parse_test(std::move(expr), line);
      } else if (at_op("(")) {
        expr = make_expr(line, CallExpr{std::move(expr), parse_call_args()});
      } else {
        return expr;
      }
    }
  }

  // After "is": "[not] name", then "(args)" or one bare argument ("divisibleby 3").
  ExprPtr parse_test(ExprPtr operand, int line) {
    TestExpr test{std::move(operand), "", {}, skip_name("not")};
    test.name = expect_name();
    if (!is_test_name(test.name)) fail(line, fmt::format("unknown test '{}'", test.name));

    const TokenType type = current().type;
    const bool bare_argument =
        (type == TokenType::name || type == TokenType::string || type == TokenType::integer ||
         type == TokenType::floating || at_op("(") || at_op("[") || at_op("{")) &&
        !at_name("else") && !at_name("or") && !at_name("and");
    if (at_op("(")) {
      test.args = parse_call_args();
    } else if (bare_argument) {
      if (at_name("is")) fail(current().line, "tests cannot be chained with 'is'");
      test.args.positional.push_back(parse_postfix(parse_primary()));
    }
    return make_expr(line, std::move(test));
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int max_depth_;
  int depth_ = 0;
  int loop_depth_ = 0;
  // Blocks being parsed, innermost last, for messages about unclosed blocks.
  struct OpenBlock {
    std::string_view tag;
    int line;
  };
  std::vector<OpenBlock> open_blocks_;
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens, int max_depth) { return Parser(tokens, max_depth).parse(); }

}  // namespace kvinfer::chat::jinja
