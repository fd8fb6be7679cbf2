#include "engine/text/jinja/operators.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/percent_format.h"

namespace loom::jinja {
namespace {

absl::Status OperandError(std::string_view op, const Value& a, const Value& b) {
  if (op == "+" && (a.is_string() || a.is_list())) {
    return absl::InvalidArgumentError(absl::StrCat("can only concatenate ", TypeName(a), " (not \"",
                                                   TypeName(b), "\") to ", TypeName(a)));
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported operand type(s) for ",
                                                 std::string(op), ": '", TypeName(a), "' and '",
                                                 TypeName(b), "'"));
}

absl::Status Overflow() { return absl::InvalidArgumentError("integer overflow"); }
absl::Status ZeroDivision(std::string_view what) {
  return absl::InvalidArgumentError(std::string(what));
}

absl::StatusOr<Value> Repeat(const Value& seq, int64_t times, Budget& budget) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.AsString();
    if (!s.empty() && static_cast<uint64_t>(times) > budget.limits().max_output_bytes / s.size()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("string repetition exceeds ", budget.limits().max_output_bytes, " bytes"));
    }
    const size_t size = s.size() * static_cast<size_t>(times);
    if (absl::Status st = budget.ChargeBytes(size); !st.ok()) return st;
    std::string out;
    out.reserve(size);
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value::String(std::move(out));
  }
  const ListData& list = seq.AsList();
  const auto n = static_cast<int64_t>(list.items.size());
  if (n > 0 && times > 16 * budget.limits().max_steps / n) {
    return absl::ResourceExhaustedError(
        absl::StrCat("list repetition exceeds ", budget.limits().max_steps, " items"));
  }
  if (absl::Status st = budget.ChargeItems(static_cast<size_t>(n * times)); !st.ok()) return st;
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(n * times));
  for (int64_t i = 0; i < times; ++i)
    items.insert(items.end(), list.items.begin(), list.items.end());
  return Value::List(std::move(items), list.kind);
}

// Python's float floor division and modulo (signs follow the divisor).
void FloatDivMod(double a, double b, double* div, double* mod) {
  double m = std::fmod(a, b);
  double d = (a - m) / b;
  if (m != 0.0) {
    if ((b < 0) != (m < 0)) {
      m += b;
      d -= 1.0;
    }
  } else {
    m = std::copysign(0.0, b);
  }
  double floor_d = 0.0;
  if (d != 0.0) {
    floor_d = std::floor(d);
    if (d - floor_d > 0.5) floor_d += 1.0;
  } else {
    floor_d = std::copysign(0.0, a / b);
  }
  *div = floor_d;
  *mod = m;
}

absl::StatusOr<Value> IntPower(int64_t base, int64_t exponent) {
  int64_t result = 1;
  while (exponent > 0) {
    if (exponent & 1) {
      if (__builtin_mul_overflow(result, base, &result)) return Overflow();
    }
    exponent >>= 1;
    if (exponent > 0 && __builtin_mul_overflow(base, base, &base)) return Overflow();
  }
  return Value::Int(result);
}

absl::StatusOr<Value> Arithmetic(std::string_view op, const Value& a, const Value& b) {
  const bool ints = a.is_integral() && b.is_integral();
  if (op == "+" || op == "-" || op == "*") {
    if (ints) {
      int64_t r = 0;
      const bool overflow = op == "+"   ? __builtin_add_overflow(a.AsInt(), b.AsInt(), &r)
                            : op == "-" ? __builtin_sub_overflow(a.AsInt(), b.AsInt(), &r)
                                        : __builtin_mul_overflow(a.AsInt(), b.AsInt(), &r);
      if (overflow) return Overflow();
      return Value::Int(r);
    }
    const double x = a.AsDouble(), y = b.AsDouble();
    return Value::Float(op == "+" ? x + y : op == "-" ? x - y : x * y);
  }
  if (op == "/") {
    if (b.AsDouble() == 0.0) return ZeroDivision("division by zero");
    return Value::Float(a.AsDouble() / b.AsDouble());
  }
  if (op == "//" || op == "%") {
    if (ints) {
      const int64_t x = a.AsInt(), y = b.AsInt();
      if (y == 0) {
        return ZeroDivision(op == "//" ? "integer division or modulo by zero"
                                       : "integer modulo by zero");
      }
      if (x == INT64_MIN && y == -1) {
        if (op == "%") return Value::Int(0);
        return Overflow();
      }
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        r += y;
        q -= 1;
      }
      return Value::Int(op == "//" ? q : r);
    }
    if (b.AsDouble() == 0.0) {
      return ZeroDivision(op == "//" ? "float floor division by zero" : "float modulo");
    }
    double div = 0, mod = 0;
    FloatDivMod(a.AsDouble(), b.AsDouble(), &div, &mod);
    return Value::Float(op == "//" ? div : mod);
  }
  // **
  if (ints && b.AsInt() >= 0) return IntPower(a.AsInt(), b.AsInt());
  const double x = a.AsDouble(), y = b.AsDouble();
  if (x == 0.0 && y < 0) return ZeroDivision("0.0 cannot be raised to a negative power");
  if (x < 0 && std::floor(y) != y) {
    return absl::InvalidArgumentError("unsupported: complex result of a fractional power");
  }
  return Value::Float(std::pow(x, y));
}

}  // namespace

absl::StatusOr<Value> BinaryOp(std::string_view op, const Value& a, const Value& b,
                               Budget& budget) {
  const size_t max_bytes = budget.limits().max_output_bytes;
  if (op == "~") {
    std::string out = ToPyStr(a, max_bytes);
    if (absl::Status s = budget.CheckStringSize(out.size()); !s.ok()) return s;
    std::string right = ToPyStr(b, max_bytes);
    if (absl::Status s = budget.CheckStringSize(out.size() + right.size()); !s.ok()) return s;
    if (absl::Status s = budget.ChargeBytes(out.size() + right.size()); !s.ok()) return s;
    out += right;
    return Value::String(std::move(out));
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined() && !(op == "%" && a.is_string())) return UndefinedError(b);
  if (a.is_number() && b.is_number()) return Arithmetic(op, a, b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      const size_t size = a.AsString().size() + b.AsString().size();
      if (absl::Status s = budget.CheckStringSize(size); !s.ok()) return s;
      if (absl::Status s = budget.ChargeBytes(size); !s.ok()) return s;
      std::string out;
      out.reserve(size);
      out += a.AsString();
      out += b.AsString();
      return Value::String(std::move(out));
    }
    if (a.is_list() && b.is_list() && a.AsList().is_sequence() &&
        a.AsList().kind == b.AsList().kind) {
      const auto& x = a.AsList().items;
      const auto& y = b.AsList().items;
      if (absl::Status s = budget.ChargeItems(x.size() + y.size()); !s.ok()) return s;
      std::vector<Value> items;
      items.reserve(x.size() + y.size());
      items.insert(items.end(), x.begin(), x.end());
      items.insert(items.end(), y.begin(), y.end());
      return Value::List(std::move(items), a.AsList().kind);
    }
  }
  if (op == "*") {
    auto repeatable = [](const Value& v) {
      return v.is_string() || (v.is_list() && v.AsList().is_sequence());
    };
    if (repeatable(a) && b.is_integral()) return Repeat(a, b.AsInt(), budget);
    if (repeatable(b) && a.is_integral()) return Repeat(b, a.AsInt(), budget);
  }
  if (op == "%" && a.is_string()) {
    auto text = PercentFormat(a.AsString(), b, budget.limits().max_output_bytes);
    if (!text.ok()) return text.status();
    return Value::String(*std::move(text));
  }
  return OperandError(op, a, b);
}

absl::StatusOr<Value> UnaryOp(std::string_view op, const Value& a) {
  if (a.is_undefined()) return UndefinedError(a);
  if (!a.is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad operand type for unary ", std::string(op), ": '", TypeName(a), "'"));
  }
  if (op == "+") return a.is_integral() ? Value::Int(a.AsInt()) : a;
  if (a.is_integral()) {
    if (a.AsInt() == INT64_MIN) return Overflow();
    return Value::Int(-a.AsInt());
  }
  return Value::Float(-a.AsDouble());
}

}  // namespace loom::jinja
