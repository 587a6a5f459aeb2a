// Tree-walking interpreter for parsed chat templates.
#include "chat/jinja_interpreter.h"

#include <fmt/format.h>

#include "chat/chat_template_error.h"
#include "chat/jinja_filters.h"
#include "chat/jinja_globals.h"
#include "chat/jinja_members.h"
#include "chat/jinja_operators.h"

namespace kvinfer::chat::jinja {
namespace {

using ScopePtr = std::shared_ptr<Scope>;

// The outcome of running a statement list: normal, or ended by break or continue.
enum class Flow { normal, break_loop, continue_loop };

[[noreturn]] void fail(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::runtime, message);
}

[[noreturn]] void fail_limit(const std::string& message) {
  throw ChatTemplateError(ChatTemplateErrorKind::limit, message);
}

ScopePtr make_child_scope(const ScopePtr& parent) { return std::make_shared<Scope>(Scope{{}, parent}); }

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, std::chrono::system_clock::time_point now)
      : limits_(limits), globals_{limits_, now, namespaces_} {}

  // Breaks the reference cycles a render can create: a macro stored in the scope it
  // captured, or a namespace that holds itself.
  ~Interpreter() {
    for (const ScopePtr& scope : macro_scopes_) scope->variables.clear();
    for (const std::shared_ptr<Namespace>& ns : namespaces_) ns->attributes.clear();
  }

  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  std::string render(const Body& body, const Value& context) {
    ScopePtr root = std::make_shared<Scope>();
    macro_scopes_.push_back(root);
    if (!context.is_dict()) fail("the template context must be a JSON object");
    for (const auto& [key, value] : context.as_dict().entries()) {
      if (!key.is_string()) fail("the template context must have string keys");
      root->variables[key.as_string()] = value;
    }

    std::string out;
    try {
      exec_body(body, root, out);
    } catch (const ChatTemplateError& error) {
      if (error.kind() == ChatTemplateErrorKind::raised) throw;
      throw ChatTemplateError(error.kind(), fmt::format("chat template error at line {}: {}", line_, error.what()));
    }
    return out;
  }

 private:
  // ---- output and budgets ----

  void write(std::string& out, std::string_view text) {
    if (out.size() + text.size() > limits_.max_output_bytes) {
      fail_limit(fmt::format("rendered output exceeds the limit of {} bytes", limits_.max_output_bytes));
    }
    out.append(text);
  }

  // Counts the bytes of a string the template built toward max_total_string_bytes.
  const Value& charge(const Value& value) {
    if (!value.is_string()) return value;
    total_string_bytes_ += value.as_string().size();
    if (total_string_bytes_ > limits_.max_total_string_bytes) {
      fail_limit(fmt::format("strings built by the template exceed the limit of {} bytes in total",
                             limits_.max_total_string_bytes));
    }
    return value;
  }

  void count_iteration() {
    if (++n_iterations_ > limits_.max_loop_iterations) {
      fail_limit(fmt::format("for loops exceed the limit of {} iterations", limits_.max_loop_iterations));
    }
  }

  // ---- statements ----

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const StmtPtr& stmt : body) {
      const Flow flow = exec(*stmt, scope, out);
      if (flow != Flow::normal) return flow;
    }
    return Flow::normal;
  }

  Flow exec(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    line_ = stmt.line;
    return std::visit([&](const auto& node) { return exec_node(node, scope, out); }, stmt.node);
  }

  Flow exec_node(const TextStmt& stmt, const ScopePtr&, std::string& out) {
    write(out, stmt.text);
    return Flow::normal;
  }

  Flow exec_node(const OutputStmt& stmt, const ScopePtr& scope, std::string& out) {
    write(out, to_str(eval(*stmt.expr, scope), limits_.max_output_bytes));
    return Flow::normal;
  }

  Flow exec_node(const IfStmt& stmt, const ScopePtr& scope, std::string& out) {
    for (const auto& [condition, body] : stmt.branches) {
      if (truthy(eval(*condition, scope))) return exec_body(body, scope, out);
    }
    return exec_body(stmt.else_body, scope, out);
  }

  Flow exec_node(const ForStmt& stmt, const ScopePtr& scope, std::string& out) {
    const Value iterable = eval(*stmt.iterable, scope);
    std::vector<Value> items = iterate(iterable);

    // "for x in items if cond": filter first, so loop.length and loop.last count only
    // the items that pass. Each test counts as an iteration toward the limit.
    if (stmt.filter) {
      std::vector<Value> kept;
      for (const Value& item : items) {
        count_iteration();
        ScopePtr filter_scope = make_child_scope(scope);
        assign_names(stmt.target, item, *filter_scope);
        if (truthy(eval(*stmt.filter, filter_scope))) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec_body(stmt.else_body, scope, out);

    const auto shared_items = std::make_shared<const std::vector<Value>>(std::move(items));
    for (size_t i = 0; i < shared_items->size(); ++i) {
      count_iteration();
      ScopePtr iteration_scope = make_child_scope(scope);
      assign_names(stmt.target, (*shared_items)[i], *iteration_scope);
      iteration_scope->variables["loop"] = Value::make_loop(std::make_shared<LoopInfo>(LoopInfo{shared_items, i}));
      if (exec_body(stmt.body, iteration_scope, out) == Flow::break_loop) break;
    }
    return Flow::normal;
  }

  Flow exec_node(const SetStmt& stmt, const ScopePtr& scope, std::string&) {
    assign(stmt.target, eval(*stmt.value, scope), scope);
    return Flow::normal;
  }

  Flow exec_node(const SetBlockStmt& stmt, const ScopePtr& scope, std::string&) {
    assign(stmt.target, render_block(stmt.body, stmt.filters, scope), scope);
    return Flow::normal;
  }

  Flow exec_node(const FilterBlockStmt& stmt, const ScopePtr& scope, std::string& out) {
    write(out, to_str(render_block(stmt.body, stmt.filters, scope), limits_.max_output_bytes));
    return Flow::normal;
  }

  Flow exec_node(const MacroStmt& stmt, const ScopePtr& scope, std::string&) {
    scope->variables[stmt.name] = Value::make_callable(Callable{Callable::Kind::macro, stmt.name, &stmt, scope, Value()});
    macro_scopes_.push_back(scope);
    return Flow::normal;
  }

  Flow exec_node(const WithStmt& stmt, const ScopePtr& scope, std::string& out) {
    ScopePtr inner = make_child_scope(scope);
    for (const auto& [name, value] : stmt.assignments) inner->variables[name] = eval(*value, scope);
    return exec_body(stmt.body, inner, out);
  }

  Flow exec_node(const BreakStmt&, const ScopePtr&, std::string&) { return Flow::break_loop; }
  Flow exec_node(const ContinueStmt&, const ScopePtr&, std::string&) { return Flow::continue_loop; }

  // Renders `body` in a child scope and applies `filters` to the text.
  Value render_block(const Body& body, const std::vector<FilterCall>& filters, const ScopePtr& scope) {
    std::string text;
    exec_body(body, make_child_scope(scope), text);
    Value value = charge(Value::from_string(std::move(text)));
    for (const FilterCall& filter : filters) {
      line_ = filter.line;
      value = charge(apply_filter(filter.name, value, eval_args(filter.args, scope), limits_));
    }
    return value;
  }

  // Binds a loop or set target: one name, or several unpacked from a list or tuple.
  void assign_names(const AssignTarget& target, const Value& value, Scope& scope) {
    if (!target.unpack) {
      scope.variables[target.names[0]] = value;
      return;
    }
    if (!value.is_list()) fail(fmt::format("cannot unpack a '{}' value into {} names", type_name(value), target.names.size()));
    const std::vector<Value>& items = value.as_list().items;
    if (items.size() != target.names.size()) {
      fail(fmt::format("cannot unpack {} values into {} names", items.size(), target.names.size()));
    }
    for (size_t i = 0; i < items.size(); ++i) scope.variables[target.names[i]] = items[i];
  }

  void assign(const AssignTarget& target, const Value& value, const ScopePtr& scope) {
    if (target.namespace_attribute.empty()) {
      assign_names(target, value, *scope);
      return;
    }
    const Value ns = lookup(target.names[0], *scope);
    if (ns.kind() != Value::Kind::namespace_object) {
      fail(fmt::format("cannot set '{}.{}': '{}' is not a namespace", target.names[0], target.namespace_attribute,
                       target.names[0]));
    }
    ns.as_namespace().attributes.set(Value::from_string(target.namespace_attribute), value);
  }

  // ---- expressions ----

  Value lookup(const std::string& name, const Scope& scope) const {
    for (const Scope* current = &scope; current != nullptr; current = current->parent.get()) {
      const auto found = current->variables.find(name);
      if (found != current->variables.end()) return found->second;
    }
    if (is_global_function(name)) {
      return Value::make_callable(Callable{Callable::Kind::global_function, name, nullptr, nullptr, Value()});
    }
    return Value::undefined(fmt::format("'{}' is undefined", name));
  }

  Value eval(const Expr& expr, const ScopePtr& scope) {
    line_ = expr.line;
    return std::visit([&](const auto& node) { return eval_node(node, scope); }, expr.node);
  }

  CallArgs eval_args(const ArgExprs& args, const ScopePtr& scope) {
    CallArgs values;
    values.positional.reserve(args.positional.size());
    for (const ExprPtr& arg : args.positional) values.positional.push_back(eval(*arg, scope));
    for (const auto& [name, arg] : args.keyword) values.keyword.emplace_back(name, eval(*arg, scope));
    return values;
  }

  Value eval_node(const LiteralExpr& node, const ScopePtr&) { return node.value; }

  Value eval_node(const NameExpr& node, const ScopePtr& scope) { return lookup(node.name, *scope); }

  Value eval_node(const ListExpr& node, const ScopePtr& scope) {
    std::vector<Value> items;
    items.reserve(node.items.size());
    for (const ExprPtr& item : node.items) items.push_back(eval(*item, scope));
    return Value::make_list(std::move(items), node.is_tuple);
  }

  Value eval_node(const DictExpr& node, const ScopePtr& scope) {
    Dict dict;
    for (const auto& [key, value] : node.entries) {
      Value key_value = eval(*key, scope);
      dict.set(std::move(key_value), eval(*value, scope));
    }
    return Value::make_dict(std::move(dict));
  }

  Value eval_node(const AttributeExpr& node, const ScopePtr& scope) {
    return get_attribute(eval(*node.object, scope), node.name);
  }

  Value eval_node(const ItemExpr& node, const ScopePtr& scope) {
    const Value object = eval(*node.object, scope);
    return get_item(object, eval(*node.key, scope));
  }

  std::optional<int64_t> eval_slice_bound(const ExprPtr& expr, const ScopePtr& scope) {
    if (!expr) return std::nullopt;
    const Value bound = eval(*expr, scope);
    if (bound.is_none()) return std::nullopt;
    if (!bound.is_integral()) fail(fmt::format("slice indices must be integers or none, not '{}'", type_name(bound)));
    return bound.as_int();
  }

  Value eval_node(const SliceExpr& node, const ScopePtr& scope) {
    const Value object = eval(*node.object, scope);
    const std::optional<int64_t> start = eval_slice_bound(node.start, scope);
    const std::optional<int64_t> stop = eval_slice_bound(node.stop, scope);
    const std::optional<int64_t> step = eval_slice_bound(node.step, scope);
    return get_slice(object, start, stop, step);
  }

  Value eval_node(const UnaryExpr& node, const ScopePtr& scope) { return apply_unary(node.op, eval(*node.operand, scope)); }

  Value eval_node(const BinaryExpr& node, const ScopePtr& scope) {
    // "and" and "or" short-circuit and return an operand, as in Python.
    Value left = eval(*node.left, scope);
    if (node.op == BinaryOp::logical_and) return truthy(left) ? eval(*node.right, scope) : left;
    if (node.op == BinaryOp::logical_or) return truthy(left) ? left : eval(*node.right, scope);
    const Value right = eval(*node.right, scope);
    return charge(apply_binary(node.op, left, right, limits_));
  }

  Value eval_node(const CompareExpr& node, const ScopePtr& scope) {
    Value left = eval(*node.first, scope);
    for (const auto& [op, right_expr] : node.rest) {
      Value right = eval(*right_expr, scope);
      if (!apply_compare(op, left, right)) return Value::from_bool(false);
      left = std::move(right);
    }
    return Value::from_bool(true);
  }

  Value eval_node(const ConditionalExpr& node, const ScopePtr& scope) {
    if (truthy(eval(*node.condition, scope))) return eval(*node.then_value, scope);
    if (node.else_value) return eval(*node.else_value, scope);
    return Value::undefined("the inline if has no else branch");
  }

  Value eval_node(const FilterExpr& node, const ScopePtr& scope) {
    const Value input = eval(*node.operand, scope);
    const CallArgs args = eval_args(node.args, scope);
    return charge(apply_filter(node.name, input, args, limits_));
  }

  Value eval_node(const TestExpr& node, const ScopePtr& scope) {
    const Value input = eval(*node.operand, scope);
    const CallArgs args = eval_args(node.args, scope);
    return Value::from_bool(apply_test(node.name, input, args) != node.negated);
  }

  Value eval_node(const CallExpr& node, const ScopePtr& scope) {
    const Value callee = eval(*node.callee, scope);
    const CallArgs args = eval_args(node.args, scope);
    if (callee.is_undefined()) fail_undefined(callee);
    if (callee.kind() != Value::Kind::callable) fail(fmt::format("'{}' value is not callable", type_name(callee)));

    const Callable& callable = callee.as_callable();
    switch (callable.kind) {
      case Callable::Kind::macro: return charge(call_macro(callable, args));
      case Callable::Kind::global_function: return charge(call_global_function(callable.name, args, globals_));
      case Callable::Kind::method: return charge(call_method(callable.receiver, callable.name, args, limits_));
    }
    return Value();
  }

  // ---- macros ----

  // Binds arguments to parameters as jinja2 does: positionally, then by keyword. A
  // missing parameter takes its default, evaluated in the macro's scope, or is undefined.
  void bind_macro_arguments(const MacroStmt& macro, const CallArgs& args, const ScopePtr& scope) {
    if (args.positional.size() > macro.params.size()) {
      fail(fmt::format("macro '{}' takes at most {} arguments, got {}", macro.name, macro.params.size(),
                       args.positional.size()));
    }
    std::vector<const Value*> bound(macro.params.size(), nullptr);
    for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = &args.positional[i];
    for (const auto& [name, value] : args.keyword) {
      const auto param = std::find(macro.params.begin(), macro.params.end(), name);
      if (param == macro.params.end()) fail(fmt::format("macro '{}' has no parameter '{}'", macro.name, name));
      bound[static_cast<size_t>(param - macro.params.begin())] = &value;
    }

    for (size_t i = 0; i < macro.params.size(); ++i) {
      Value value;
      if (bound[i] != nullptr) value = *bound[i];
      else if (macro.defaults[i]) value = eval(*macro.defaults[i], scope);
      else value = Value::undefined(fmt::format("parameter '{}' of macro '{}' was not given", macro.params[i], macro.name));
      scope->variables[macro.params[i]] = std::move(value);
    }
  }

  Value call_macro(const Callable& callable, const CallArgs& args) {
    const MacroStmt& macro = *callable.macro;
    if (macro_depth_ >= limits_.max_depth) {
      fail_limit(fmt::format("macro calls nest deeper than the limit of {} (calling '{}')", limits_.max_depth, macro.name));
    }
    const int call_line = line_;
    ScopePtr scope = make_child_scope(callable.closure);
    bind_macro_arguments(macro, args, scope);

    ++macro_depth_;
    std::string out;
    exec_body(macro.body, scope, out);
    --macro_depth_;
    line_ = call_line;
    return Value::from_string(std::move(out));
  }

  const RenderLimits& limits_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
  GlobalsContext globals_;
  std::vector<ScopePtr> macro_scopes_;
  int line_ = 1;  // line of the statement or expression being run, for error messages
  int macro_depth_ = 0;
  uint64_t n_iterations_ = 0;
  uint64_t total_string_bytes_ = 0;
};

}  // namespace

std::string render_template(const Body& body, const Value& context, const RenderLimits& limits,
                            std::chrono::system_clock::time_point now) {
  Interpreter interpreter(limits, now);
  return interpreter.render(body, context);
}

}  // namespace kvinfer::chat::jinja
