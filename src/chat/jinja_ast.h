// Syntax tree of a parsed Jinja template: expressions and statements, each with the
// source line it starts on for error messages. The parser builds it once, and
// rendering only reads it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "chat/jinja_value.h"

namespace kvinfer::chat::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// Arguments of a call, filter or test, as written.
struct ArgExprs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct LiteralExpr {
  Value value;
};

struct NameExpr {
  std::string name;
};

// A list literal, or a tuple: "(a, b)" or a bare "a, b".
struct ListExpr {
  std::vector<ExprPtr> items;
  bool is_tuple = false;
};

struct DictExpr {
  std::vector<std::pair<ExprPtr, ExprPtr>> entries;
};

// object.name: an attribute, else the item with that key.
struct AttributeExpr {
  ExprPtr object;
  std::string name;
};

// object[key]: the item, else the attribute when the key is a string.
struct ItemExpr {
  ExprPtr object;
  ExprPtr key;
};

// object[start:stop:step], with null for absent parts.
struct SliceExpr {
  ExprPtr object;
  ExprPtr start;
  ExprPtr stop;
  ExprPtr step;
};

enum class UnaryOp { negate, plus, logical_not };

struct UnaryExpr {
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp { add, subtract, multiply, divide, floor_divide, modulo, power, concat, logical_and, logical_or };

struct BinaryExpr {
  BinaryOp op;
  ExprPtr left;
  ExprPtr right;
};

enum class CompareOp { equal, not_equal, less, less_equal, greater, greater_equal, in, not_in };

// A chain such as "a < b <= c", true when every neighbouring pair compares true.
struct CompareExpr {
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

// then_value if condition else else_value. Without else it yields undefined.
struct ConditionalExpr {
  ExprPtr condition;
  ExprPtr then_value;
  ExprPtr else_value;  // may be null
};

struct CallExpr {
  ExprPtr callee;
  ArgExprs args;
};

// operand | name(args)
struct FilterExpr {
  ExprPtr operand;
  std::string name;
  ArgExprs args;
};

// operand is [not] name(args)
struct TestExpr {
  ExprPtr operand;
  std::string name;
  ArgExprs args;
  bool negated = false;
};

struct Expr {
  int line;
  std::variant<LiteralExpr, NameExpr, ListExpr, DictExpr, AttributeExpr, ItemExpr, SliceExpr, UnaryExpr, BinaryExpr,
               CompareExpr, ConditionalExpr, CallExpr, FilterExpr, TestExpr>
      node;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// The target of a set or for statement: one name, several names unpacked from a
// sequence ("k, v"), or an attribute of a namespace ("ns.attr").
struct AssignTarget {
  std::vector<std::string> names;
  std::string namespace_attribute;  // non-empty for ns.attr, where names[0] is the namespace
  bool unpack = false;              // the names were written as a tuple
};

// One "| name(args)" of a filter block or a block set.
struct FilterCall {
  std::string name;
  ArgExprs args;
  int line;
};

struct TextStmt {
  std::string text;
};

// {{ expr }}
struct OutputStmt {
  ExprPtr expr;
};

// if / elif branches in order, then the else body.
struct IfStmt {
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body else_body;
};

struct ForStmt {
  AssignTarget target;
  ExprPtr iterable;
  ExprPtr filter;  // the cond of "for x in items if cond", or null
  Body body;
  Body else_body;  // runs when no item passed the filter
};

// {% set target = value %}
struct SetStmt {
  AssignTarget target;
  ExprPtr value;
};

// {% set target | filters %}body{% endset %}: assigns the rendered body.
struct SetBlockStmt {
  AssignTarget target;
  std::vector<FilterCall> filters;
  Body body;
};

struct MacroStmt {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // one per parameter, null when it has no default
  Body body;
};

// {% filter name(args) %}body{% endfilter %}
struct FilterBlockStmt {
  std::vector<FilterCall> filters;
  Body body;
};

// {% with a = 1, b = 2 %}body{% endwith %}: a scope with its own variables.
struct WithStmt {
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};

struct BreakStmt {};
struct ContinueStmt {};

struct Stmt {
  int line;
  std::variant<TextStmt, OutputStmt, IfStmt, ForStmt, SetStmt, SetBlockStmt, MacroStmt, FilterBlockStmt, WithStmt,
               BreakStmt, ContinueStmt>
      node;
};

}  // namespace kvinfer::chat::jinja
