// Statement execution, scopes and macro calls; expressions are in evaluator.cc.
#include "engine/text/jinja/interpreter.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/text/jinja/filters.h"

namespace loom::jinja {
namespace {

// Swaps the interpreter's output buffer for the duration of a capture.
class OutputSwap {
 public:
  OutputSwap(std::string** slot, std::string* buffer) : slot_(slot), saved_(*slot) {
    *slot_ = buffer;
  }
  ~OutputSwap() { *slot_ = saved_; }
  OutputSwap(const OutputSwap&) = delete;
  OutputSwap& operator=(const OutputSwap&) = delete;

 private:
  std::string** slot_;
  std::string* saved_;
};

std::shared_ptr<Scope> ChildOf(const std::shared_ptr<Scope>& parent) {
  auto child = std::make_shared<Scope>();
  child->parent = parent;
  return child;
}

Value MakeMacroValue(const MacroDef* macro, const std::shared_ptr<Scope>& scope) {
  return Value::Function(std::make_shared<const MacroCallable>(macro, scope));
}

}  // namespace

std::string MacroCallable::Name() const { return absl::StrCat("Macro '", macro_->name, "'"); }

absl::StatusOr<Value> MacroCallable::Call(Interpreter& interpreter, CallArgs args) const {
  return interpreter.CallMacro(*macro_, scope_, std::move(args), nullptr, macro_->line);
}

const Value* Scope::Find(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
    for (const auto& [n, v] : s->vars) {
      if (n == name) return &v;
    }
  }
  return nullptr;
}

void Scope::Set(std::string_view name, Value value) {
  for (auto& [n, v] : vars) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(value));
}

absl::Status Interpreter::Located(int line, const absl::Status& status) const {
  return absl::Status(status.code(), absl::StrCat(std::string(template_name_), ":", line, ": ",
                                                  std::string(status.message())));
}

absl::Status Interpreter::CheckStack(int line) const {
  const auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const uintptr_t used = stack_base_ > here ? stack_base_ - here : here - stack_base_;
  if (used > budget_.limits().max_stack_bytes) {
    return Located(line, absl::ResourceExhaustedError(
                             absl::StrCat("template nests too deeply: it needs more than ",
                                          budget_.limits().max_stack_bytes, " bytes of stack")));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Interpreter::Render(
    const Body& body, std::vector<std::pair<std::string, Value>> context) {
  stack_base_ = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  root_ = std::make_shared<Scope>();
  root_->vars = std::move(context);
  std::string out;
  absl::StatusOr<Flow> flow;
  {
    OutputSwap swap(&out_, &out);
    flow = ExecBody(body, root_);
  }
  root_.reset();
  if (!flow.ok()) return flow.status();
  return out;
}

absl::Status Interpreter::Emit(std::string_view text, int line) {
  if (out_->size() + text.size() > budget_.limits().max_output_bytes) {
    return Located(line, budget_.CheckStringSize(out_->size() + text.size()));
  }
  out_->append(text);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Interpreter::Capture(const Body& body,
                                                 const std::shared_ptr<Scope>& scope, Flow* flow) {
  std::string buffer;
  OutputSwap swap(&out_, &buffer);
  absl::StatusOr<Flow> result = ExecBody(body, ChildOf(scope));
  if (!result.ok()) return result.status();
  *flow = *result;
  return buffer;
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecBody(const Body& body,
                                                        const std::shared_ptr<Scope>& scope) {
  for (const Stmt& stmt : body) {
    absl::StatusOr<Flow> flow = Exec(stmt, scope);
    if (!flow.ok() || *flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

absl::Status Interpreter::Assign(const Target& target, Value value, int line, Scope& scope) {
  if (!target.attribute.empty()) {
    const Value* ns = scope.Find(target.names[0]);
    if (ns == nullptr || ns->kind() != Value::Kind::kNamespace) {
      return Located(line,
                     absl::InvalidArgumentError("cannot assign attribute on non-namespace object"));
    }
    if (value.HoldsNamespace()) {
      return Located(line, absl::InvalidArgumentError(
                               "unsupported: a namespace attribute holding a namespace"));
    }
    for (auto& [k, v] : ns->AsNamespace().attributes.items) {
      if (k == target.attribute) {
        v = std::move(value);
        return absl::OkStatus();
      }
    }
    ns->AsNamespace().attributes.items.emplace_back(target.attribute, std::move(value));
    return absl::OkStatus();
  }
  if (!target.is_tuple) {
    scope.Set(target.names[0], std::move(value));
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Value>> items = Iterate(value);
  if (!items.ok()) return Located(line, items.status());
  if (items->size() != target.names.size()) {
    return Located(
        line,
        absl::InvalidArgumentError(
            items->size() > target.names.size()
                ? absl::StrCat("too many values to unpack (expected ", target.names.size(), ")")
                : absl::StrCat("not enough values to unpack (expected ", target.names.size(),
                               ", got ", items->size(), ")")));
  }
  for (size_t i = 0; i < items->size(); ++i) scope.Set(target.names[i], (*items)[i]);
  return absl::OkStatus();
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecFor(const ForStmt& node, int line,
                                                       const std::shared_ptr<Scope>& scope) {
  absl::StatusOr<Value> iterable = Eval(*node.iterable, scope);
  if (!iterable.ok()) return iterable.status();
  std::shared_ptr<const ListData> items;
  if (iterable->is_list() && node.condition == nullptr) {
    items = iterable->ListPtr();
  } else {
    absl::StatusOr<std::vector<Value>> all = Iterate(*iterable);
    if (!all.ok()) return Located(line, all.status());
    std::vector<Value> kept;
    for (Value& item : *all) {
      if (node.condition != nullptr) {
        if (absl::Status s = budget_.Charge(1); !s.ok()) return Located(line, s);
        auto probe = ChildOf(scope);
        if (absl::Status s = Assign(node.target, item, line, *probe); !s.ok()) return s;
        absl::StatusOr<Value> keep = Eval(*node.condition, probe);
        if (!keep.ok()) return keep.status();
        if (!keep->Truthy()) continue;
      }
      kept.push_back(std::move(item));
    }
    absl::StatusOr<Value> list = Value::List(std::move(kept));
    if (!list.ok()) return Located(line, list.status());
    items = list->ListPtr();
  }
  // jinja2 runs `else` unless some iteration reached the end of the body (one left by
  // break or continue does not count).
  bool completed_any = false;
  for (size_t i = 0; i < items->items.size(); ++i) {
    if (absl::Status s = budget_.Charge(1); !s.ok()) return Located(line, s);
    auto iteration = ChildOf(scope);
    auto loop = std::make_shared<LoopData>();
    loop->items = items;
    loop->index0 = i;
    iteration->Set("loop", Value::Loop(std::move(loop)));
    if (absl::Status s = Assign(node.target, items->items[i], line, *iteration); !s.ok()) {
      return s;
    }
    absl::StatusOr<Flow> flow = ExecBody(node.body, iteration);
    if (!flow.ok()) return flow.status();
    if (*flow == Flow::kBreak) break;
    if (*flow == Flow::kNormal) completed_any = true;
  }
  if (!completed_any) {
    absl::StatusOr<Flow> flow = ExecBody(node.else_body, scope);
    if (!flow.ok()) return flow.status();
  }
  return Flow::kNormal;
}

absl::StatusOr<Interpreter::Flow> Interpreter::Exec(const Stmt& stmt,
                                                    const std::shared_ptr<Scope>& scope) {
  const int line = stmt.line;
  if (absl::Status s = CheckStack(line); !s.ok()) return s;
  if (const auto* text = std::get_if<TextStmt>(&stmt.node)) {
    if (absl::Status s = Emit(text->text, line); !s.ok()) return s;
    return Flow::kNormal;
  }
  if (const auto* output = std::get_if<OutputStmt>(&stmt.node)) {
    absl::StatusOr<Value> value = Eval(*output->expr, scope);
    if (!value.ok()) return value.status();
    const std::string text = ToPyStr(*value, budget_.limits().max_output_bytes);
    if (absl::Status s = Emit(text, line); !s.ok()) return s;
    return Flow::kNormal;
  }
  if (const auto* node = std::get_if<IfStmt>(&stmt.node)) {
    for (const auto& [condition, body] : node->branches) {
      absl::StatusOr<Value> test = Eval(*condition, scope);
      if (!test.ok()) return test.status();
      if (test->Truthy()) return ExecBody(body, scope);
    }
    return ExecBody(node->else_body, scope);
  }
  if (const auto* node = std::get_if<ForStmt>(&stmt.node)) return ExecFor(*node, line, scope);
  if (const auto* node = std::get_if<SetStmt>(&stmt.node)) {
    absl::StatusOr<Value> value = Eval(*node->value, scope);
    if (!value.ok()) return value.status();
    if (absl::Status s = Assign(node->target, *std::move(value), line, *scope); !s.ok()) return s;
    return Flow::kNormal;
  }
  if (const auto* node = std::get_if<SetBlockStmt>(&stmt.node)) {
    Flow flow = Flow::kNormal;
    absl::StatusOr<std::string> text = Capture(node->body, scope, &flow);
    if (!text.ok()) return text.status();
    if (flow != Flow::kNormal) return flow;
    Value value = Value::String(*std::move(text));
    if (node->filter != nullptr) {
      absl::StatusOr<Value> filtered = EvalFilter(*node->filter, scope, &value);
      if (!filtered.ok()) return filtered.status();
      value = *std::move(filtered);
    }
    if (absl::Status s = Assign(node->target, std::move(value), line, *scope); !s.ok()) return s;
    return Flow::kNormal;
  }
  if (const auto* node = std::get_if<MacroStmt>(&stmt.node)) {
    scope->Set(node->macro->name, MakeMacroValue(node->macro.get(), scope));
    return Flow::kNormal;
  }
  if (const auto* node = std::get_if<CallBlockStmt>(&stmt.node)) {
    const Value caller = MakeMacroValue(node->caller.get(), scope);
    absl::StatusOr<Value> result = EvalCall(*node->call, scope, &caller);
    if (!result.ok()) return result.status();
    const std::string text = ToPyStr(*result, budget_.limits().max_output_bytes);
    if (absl::Status s = Emit(text, line); !s.ok()) return s;
    return Flow::kNormal;
  }
  if (const auto* node = std::get_if<FilterBlockStmt>(&stmt.node)) {
    Flow flow = Flow::kNormal;
    absl::StatusOr<std::string> text = Capture(node->body, scope, &flow);
    if (!text.ok()) return text.status();
    if (flow != Flow::kNormal) return flow;
    const Value seed = Value::String(*std::move(text));
    absl::StatusOr<Value> filtered = EvalFilter(*node->filter, scope, &seed);
    if (!filtered.ok()) return filtered.status();
    const std::string out = ToPyStr(*filtered, budget_.limits().max_output_bytes);
    if (absl::Status s = Emit(out, line); !s.ok()) return s;
    return Flow::kNormal;
  }
  if (const auto* node = std::get_if<WithStmt>(&stmt.node)) {
    auto inner = ChildOf(scope);
    for (const auto& [target, expr] : node->assignments) {
      absl::StatusOr<Value> value = Eval(*expr, scope);
      if (!value.ok()) return value.status();
      if (absl::Status s = Assign(target, *std::move(value), line, *inner); !s.ok()) return s;
    }
    absl::StatusOr<Flow> flow = ExecBody(node->body, inner);
    if (!flow.ok()) return flow.status();
    return *flow;
  }
  const auto& control = std::get<LoopControlStmt>(stmt.node);
  return control.is_break ? Flow::kBreak : Flow::kContinue;
}

absl::StatusOr<Value> Interpreter::CallMacro(const MacroDef& macro,
                                             const std::weak_ptr<Scope>& scope, CallArgs args,
                                             const Value* caller, int call_line) {
  if (call_depth_ >= budget_.limits().max_call_depth) {
    return Located(call_line, absl::ResourceExhaustedError(absl::StrCat(
                                  "macro calls nest deeper than ", budget_.limits().max_call_depth,
                                  " (macro '", macro.name, "')")));
  }
  if (absl::Status s = budget_.Charge(1); !s.ok()) return Located(call_line, s);
  std::shared_ptr<Scope> parent = scope.lock();
  auto frame = ChildOf(parent != nullptr ? parent : root_);
  const std::string what = absl::StrCat("macro '", macro.name, "'");
  std::vector<bool> bound(macro.params.size(), false);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < macro.params.size()) {
      frame->Set(macro.params[i].name, std::move(args.positional[i]));
      bound[i] = true;
    } else if (macro.uses_varargs) {
      varargs.push_back(std::move(args.positional[i]));
    } else {
      return Located(call_line,
                     absl::InvalidArgumentError(absl::StrCat(what, " takes not more than ",
                                                             macro.params.size(), " argument(s)")));
    }
  }
  std::vector<std::pair<std::string, Value>> kwargs;
  for (auto& [name, value] : args.keyword) {
    size_t index = 0;
    while (index < macro.params.size() && macro.params[index].name != name) ++index;
    if (index < macro.params.size()) {
      if (bound[index]) {
        return Located(call_line, absl::InvalidArgumentError(absl::StrCat(
                                      what, " got multiple values for argument '", name, "'")));
      }
      frame->Set(name, std::move(value));
      bound[index] = true;
    } else if (macro.uses_kwargs) {
      kwargs.emplace_back(name, std::move(value));
    } else {
      return Located(call_line, absl::InvalidArgumentError(
                                    absl::StrCat(what, " takes no keyword argument '", name, "'")));
    }
  }
  if (caller != nullptr && !macro.uses_caller) {
    return Located(call_line, absl::InvalidArgumentError(
                                  absl::StrCat(what, " takes no keyword argument 'caller'")));
  }
  ++call_depth_;
  struct DepthRestore {
    int* depth;
    ~DepthRestore() { --*depth; }
  } restore{&call_depth_};
  for (size_t i = 0; i < macro.params.size(); ++i) {
    if (bound[i]) continue;
    const Param& param = macro.params[i];
    if (param.default_value == nullptr) {
      frame->Set(param.name, Value::MakeUndefined(absl::StrCat("'", param.name, "' is undefined")));
      continue;
    }
    absl::StatusOr<Value> value = Eval(*param.default_value, frame);
    if (!value.ok()) return value.status();
    frame->Set(param.name, *std::move(value));
  }
  if (macro.uses_varargs) {
    absl::StatusOr<Value> list = Value::List(std::move(varargs), SeqKind::kTuple);
    if (!list.ok()) return Located(call_line, list.status());
    frame->Set("varargs", *std::move(list));
  }
  if (macro.uses_kwargs) {
    absl::StatusOr<Value> dict = Value::Dict(std::move(kwargs));
    if (!dict.ok()) return Located(call_line, dict.status());
    frame->Set("kwargs", *std::move(dict));
  }
  if (macro.uses_caller) {
    frame->Set("caller", caller != nullptr ? *caller : Value::MakeUndefined("No caller defined"));
  }
  std::string buffer;
  OutputSwap swap(&out_, &buffer);
  absl::StatusOr<Flow> flow = ExecBody(macro.body, frame);
  if (!flow.ok()) return flow.status();
  return Value::String(std::move(buffer));
}

}  // namespace loom::jinja
