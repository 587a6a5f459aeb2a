// Python's operators on template values: arithmetic, "~" concatenation, comparison
// chains and unary minus, with Python's rules (floor division and modulo round toward
// negative infinity, "/" always gives a float, bool counts as int). Integers are 64-bit:
// where Python would grow a big integer, these throw ChatTemplateError instead.
#pragma once

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"
#include "chat/render_limits.h"

namespace kvinfer::chat::jinja {

// Applies an arithmetic operator or "~" (not "and"/"or", which short-circuit in the
// interpreter). Throws ChatTemplateError for unsupported operand types, division by
// zero, integer overflow, an undefined operand, and (kind limit) for a string or list
// result beyond `limits`.
Value apply_binary(BinaryOp op, const Value& left, const Value& right, const RenderLimits& limits);

// Applies unary minus, plus or not.
Value apply_unary(UnaryOp op, const Value& operand);

// Applies one comparison of a chain.
bool apply_compare(CompareOp op, const Value& left, const Value& right);

}  // namespace kvinfer::chat::jinja
