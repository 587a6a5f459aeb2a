// Arithmetic, concatenation and comparison operators with Python semantics.
#include "chat/jinja_operators.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "chat/chat_template_error.h"
#include "chat/jinja_filters.h"
#include "chat/jinja_members.h"

namespace kvinfer::chat::jinja {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::runtime, message);
}

[[noreturn]] void fail_limit(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::limit, message);
}

std::string_view symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "+";
    case BinaryOp::subtract: return "-";
    case BinaryOp::multiply: return "*";
    case BinaryOp::divide: return "/";
    case BinaryOp::floor_divide: return "//";
    case BinaryOp::modulo: return "%";
    case BinaryOp::power: return "**";
    case BinaryOp::concat: return "~";
    case BinaryOp::logical_and: return "and";
    case BinaryOp::logical_or: return "or";
  }
  return "?";
}

[[noreturn]] void fail_operands(BinaryOp op, const Value& left, const Value& right) {
  if (left.is_undefined()) fail_undefined(left);
  if (right.is_undefined()) fail_undefined(right);
  fail(fmt::format("unsupported operand types for {}: '{}' and '{}'", symbol(op), type_name(left), type_name(right)));
}

void check_string_size(double n_bytes, const RenderLimits& limits) {
  if (n_bytes > static_cast<double>(limits.max_output_bytes)) {
    fail_limit(fmt::format("string of {:.0f} bytes exceeds the string size limit of {} bytes", n_bytes,
                           limits.max_output_bytes));
  }
}

void check_list_size(double n_items, const RenderLimits& limits) {
  if (n_items > static_cast<double>(limits.max_loop_iterations)) {
    fail_limit(fmt::format("list of {:.0f} items exceeds the limit of {} items", n_items, limits.max_loop_iterations));
  }
}

[[noreturn]] void fail_overflow() { fail("integer overflow: the result does not fit in 64 bits"); }

int64_t multiply_checked(int64_t a, int64_t b) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) fail_overflow();
  return product;
}

Value integer_arithmetic(BinaryOp op, int64_t a, int64_t b) {
  int64_t result = 0;
  if (op == BinaryOp::add) {
    if (__builtin_add_overflow(a, b, &result)) fail_overflow();
    return Value::from_int(result);
  }
  if (op == BinaryOp::subtract) {
    if (__builtin_sub_overflow(a, b, &result)) fail_overflow();
    return Value::from_int(result);
  }
  if (op == BinaryOp::multiply) return Value::from_int(multiply_checked(a, b));
  if (op == BinaryOp::power) {
    if (b < 0) {
      if (a == 0) fail("division by zero: 0 cannot be raised to a negative power");
      return Value::from_float(std::pow(static_cast<double>(a), static_cast<double>(b)));
    }
    int64_t power = 1;
    for (int64_t base = a, exponent = b; exponent > 0; exponent >>= 1) {
      if (exponent & 1) power = multiply_checked(power, base);
      if (exponent > 1) base = multiply_checked(base, base);
    }
    return Value::from_int(power);
  }

  if (b == 0) fail("division by zero");
  if (op == BinaryOp::divide) return Value::from_float(static_cast<double>(a) / static_cast<double>(b));
  if (a == std::numeric_limits<int64_t>::min() && b == -1) fail_overflow();
  // Python rounds the quotient toward negative infinity, so the remainder takes the
  // divisor's sign.
  int64_t quotient = a / b;
  int64_t remainder = a % b;
  if (remainder != 0 && ((remainder < 0) != (b < 0))) {
    quotient -= 1;
    remainder += b;
  }
  return Value::from_int(op == BinaryOp::floor_divide ? quotient : remainder);
}

Value float_arithmetic(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::add: return Value::from_float(a + b);
    case BinaryOp::subtract: return Value::from_float(a - b);
    case BinaryOp::multiply: return Value::from_float(a * b);
    case BinaryOp::power: return Value::from_float(std::pow(a, b));
    default: break;
  }
  if (b == 0.0) fail("division by zero");
  if (op == BinaryOp::divide) return Value::from_float(a / b);

  // Python's float divmod: the remainder takes the divisor's sign (a zero remainder
  // too), and the quotient is derived from it so that both stay consistent.
  double remainder = std::fmod(a, b);
  double quotient = (a - remainder) / b;
  if (remainder != 0.0) {
    if ((b < 0) != (remainder < 0)) {
      remainder += b;
      quotient -= 1.0;
    }
  } else {
    remainder = std::copysign(0.0, b);
  }
  if (op == BinaryOp::modulo) return Value::from_float(remainder);
  if (quotient == 0.0) return Value::from_float(std::copysign(0.0, a / b));
  double floor_quotient = std::floor(quotient);
  if (quotient - floor_quotient > 0.5) floor_quotient += 1.0;
  return Value::from_float(floor_quotient);
}

Value repeat(const Value& sequence, int64_t count, const RenderLimits& limits) {
  const size_t n_copies = count > 0 ? static_cast<size_t>(count) : 0;
  if (sequence.is_string()) {
    const std::string& text = sequence.as_string();
    check_string_size(static_cast<double>(text.size()) * static_cast<double>(n_copies), limits);
    std::string out;
    out.reserve(text.size() * n_copies);
    for (size_t i = 0; i < n_copies; ++i) out += text;
    return Value::from_string(std::move(out));
  }
  const List& list = sequence.as_list();
  check_list_size(static_cast<double>(list.items.size()) * static_cast<double>(n_copies), limits);
  std::vector<Value> items;
  items.reserve(list.items.size() * n_copies);
  for (size_t i = 0; i < n_copies; ++i) items.insert(items.end(), list.items.begin(), list.items.end());
  return Value::make_list(std::move(items), list.is_tuple);
}

Value concatenate(const Value& left, const Value& right, const RenderLimits& limits) {
  if (left.is_string() && right.is_string()) {
    check_string_size(static_cast<double>(left.as_string().size() + right.as_string().size()), limits);
    return Value::from_string(left.as_string() + right.as_string());
  }
  const List& a = left.as_list();
  const List& b = right.as_list();
  check_list_size(static_cast<double>(a.items.size() + b.items.size()), limits);
  std::vector<Value> items = a.items;
  items.insert(items.end(), b.items.begin(), b.items.end());
  return Value::make_list(std::move(items), a.is_tuple);
}

bool same_sequence_kind(const Value& a, const Value& b) {
  if (a.is_string() && b.is_string()) return true;
  return a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple;
}

}  // namespace

Value apply_binary(BinaryOp op, const Value& left, const Value& right, const RenderLimits& limits) {
  if (op == BinaryOp::concat) {
    const std::string a = to_str(left, limits.max_output_bytes);
    const std::string b = to_str(right, limits.max_output_bytes);
    check_string_size(static_cast<double>(a.size() + b.size()), limits);
    return Value::from_string(a + b);
  }
  if (left.is_number() && right.is_number()) {
    if (left.is_integral() && right.is_integral()) return integer_arithmetic(op, left.as_int(), right.as_int());
    return float_arithmetic(op, left.as_double(), right.as_double());
  }
  if (op == BinaryOp::add && same_sequence_kind(left, right)) return concatenate(left, right, limits);
  if (op == BinaryOp::multiply) {
    if ((left.is_string() || left.is_list()) && right.is_integral()) return repeat(left, right.as_int(), limits);
    if (left.is_integral() && (right.is_string() || right.is_list())) return repeat(right, left.as_int(), limits);
  }
  if (op == BinaryOp::modulo && left.is_string()) {
    return Value::from_string(percent_format(left.as_string(), right, limits));
  }
  fail_operands(op, left, right);
}

Value apply_unary(UnaryOp op, const Value& operand) {
  if (op == UnaryOp::logical_not) return Value::from_bool(!truthy(operand));
  if (operand.is_undefined()) fail_undefined(operand);
  if (!operand.is_number()) {
    fail(fmt::format("bad operand type for unary {}: '{}'", op == UnaryOp::negate ? '-' : '+', type_name(operand)));
  }
  if (operand.kind() == Value::Kind::floating) {
    return Value::from_float(op == UnaryOp::negate ? -operand.as_double() : operand.as_double());
  }
  if (op == UnaryOp::plus) return Value::from_int(operand.as_int());
  if (operand.as_int() == std::numeric_limits<int64_t>::min()) fail("integer overflow: the result does not fit in 64 bits");
  return Value::from_int(-operand.as_int());
}

bool apply_compare(CompareOp op, const Value& left, const Value& right) {
  switch (op) {
    case CompareOp::equal: return equals(left, right);
    case CompareOp::not_equal: return !equals(left, right);
    case CompareOp::in: return contains(right, left);
    case CompareOp::not_in: return !contains(right, left);
    default: break;
  }
  if (left.is_undefined()) fail_undefined(left);
  if (right.is_undefined()) fail_undefined(right);
  const int order = compare(left, right);
  switch (op) {
    case CompareOp::less: return order < 0;
    case CompareOp::less_equal: return order <= 0;
    case CompareOp::greater: return order > 0;
    default: return order >= 0;
  }
}

}  // namespace kvinfer::chat::jinja
