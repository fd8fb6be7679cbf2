#include "engine/text/jinja/percent_format.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

struct Spec {
  std::string flags;
  size_t width = 0;
  int precision = -1;
  char type = 's';
};

absl::Status TypeError(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

// printf of one number with the spec's flags, width and precision.
absl::StatusOr<std::string> PrintfNumber(const Spec& spec, const char* length, char type,
                                         auto value, size_t max_bytes) {
  std::string format = "%" + spec.flags;
  if (spec.width > 0) format += std::to_string(spec.width);
  if (spec.precision >= 0) format += "." + std::to_string(spec.precision);
  format += length;
  format.push_back(type);
  const int n = std::snprintf(nullptr, 0, format.c_str(), value);
  if (n < 0) return TypeError("bad format");
  if (static_cast<size_t>(n) > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("formatted text exceeds ", max_bytes, " bytes"));
  }
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), format.c_str(), value);
  out.resize(static_cast<size_t>(n));
  return out;
}

// Pads `text` to the spec's width (in code points), left-justified with '-'.
std::string Pad(std::string text, const Spec& spec) {
  const size_t length = CodePointCount(text);
  if (length >= spec.width) return text;
  const std::string fill(spec.width - length, ' ');
  return spec.flags.find('-') != std::string::npos ? text + fill : fill + text;
}

absl::StatusOr<std::string> Convert(const Spec& spec, const Value& v, size_t max_bytes) {
  switch (spec.type) {
    case 's':
    case 'r':
    case 'a': {
      std::string text = spec.type == 's' ? ToPyStr(v, max_bytes) : ToPyRepr(v, max_bytes);
      if (spec.precision >= 0) {
        std::u32string cps = ToCodePoints(text);
        if (cps.size() > static_cast<size_t>(spec.precision)) {
          text = FromCodePoints(
              std::u32string_view(cps).substr(0, static_cast<size_t>(spec.precision)));
        }
      }
      return Pad(std::move(text), spec);
    }
    case 'c': {
      std::string text;
      if (v.is_integral() && v.AsInt() >= 0 && v.AsInt() <= 0x10FFFF) {
        AppendCodePoint(static_cast<char32_t>(v.AsInt()), &text);
      } else if (v.is_string() && CodePointCount(v.AsString()) == 1) {
        text = v.AsString();
      } else {
        return TypeError("%c requires an int or a unicode character");
      }
      return Pad(std::move(text), spec);
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
      const bool decimal = spec.type == 'd' || spec.type == 'i' || spec.type == 'u';
      int64_t i = 0;
      if (v.is_integral()) {
        i = v.AsInt();
      } else if (decimal && v.kind() == Value::Kind::kFloat && std::isfinite(v.AsDouble()) &&
                 std::fabs(v.AsDouble()) < 9.2e18) {
        i = static_cast<int64_t>(std::trunc(v.AsDouble()));
      } else {
        return TypeError(absl::StrCat("%", std::string(1, spec.type),
                                      " format: ", decimal ? "a real number" : "an integer",
                                      " is required, not ", TypeName(v)));
      }
      const char type = spec.type == 'i' || spec.type == 'u' ? 'd' : spec.type;
      if (type != 'd' && i < 0) {  // Python prints -ff; C would print two's complement
        Spec positive = spec;
        auto digits = PrintfNumber(positive, "ll", type, static_cast<long long>(-i), max_bytes);
        if (!digits.ok()) return digits.status();
        std::string text = *digits;
        const size_t first = text.find_first_not_of(' ');
        text.insert(first == std::string::npos ? 0 : first, "-");
        return text;
      }
      return PrintfNumber(spec, "ll", type, static_cast<long long>(i), max_bytes);
    }
    default: {  // f F e E g G
      if (!v.is_number()) {
        return TypeError(absl::StrCat("must be real number, not ", TypeName(v)));
      }
      const double d = v.AsDouble();
      if (!std::isfinite(d)) {
        std::string text = std::isnan(d) ? "nan" : (d < 0 ? "-inf" : "inf");
        if (spec.type == 'F' || spec.type == 'E' || spec.type == 'G') text = PyUpper(text);
        return Pad(std::move(text), spec);
      }
      Spec bounded = spec;
      if (bounded.precision > 1000) return TypeError("precision too big");
      return PrintfNumber(bounded, "", spec.type, d, max_bytes);
    }
  }
}

}  // namespace

absl::StatusOr<std::string> PercentFormat(std::string_view format, const Value& args,
                                          size_t max_bytes) {
  std::vector<Value> positional;
  const bool tuple = args.is_list() && args.AsList().is_tuple();
  if (tuple) {
    positional = args.AsList().items;
  } else {
    positional.push_back(args);
  }
  // Like Python, a lone non-tuple argument with __getitem__ may go unused.
  const bool mapping_like = !tuple && (args.is_dict() || args.is_list() || args.is_undefined());
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (out.size() > max_bytes) break;
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) return TypeError("incomplete format");
    Spec spec;
    std::optional<Value> keyed;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string_view::npos) return TypeError("incomplete format key");
      if (!args.is_dict()) return TypeError("format requires a mapping");
      const Value* found = args.AsDict().Find(format.substr(i + 1, close - i - 1));
      if (found == nullptr) {
        return TypeError(
            absl::StrCat("KeyError: '", std::string(format.substr(i + 1, close - i - 1)), "'"));
      }
      keyed = *found;
      used_mapping = true;
      i = close + 1;
    }
    while (i < format.size() && (format[i] == '-' || format[i] == '+' || format[i] == ' ' ||
                                 format[i] == '0' || format[i] == '#')) {
      if (format[i] == '#') return TypeError("unsupported: the '#' format flag");
      spec.flags.push_back(format[i++]);
    }
    if (i < format.size() && format[i] == '*') return TypeError("unsupported: '*' widths");
    while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
      spec.width = spec.width * 10 + static_cast<size_t>(format[i++] - '0');
      if (spec.width > max_bytes) {
        return absl::ResourceExhaustedError(absl::StrCat("format width exceeds ", max_bytes));
      }
    }
    if (i < format.size() && format[i] == '.') {
      spec.precision = 0;
      ++i;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        spec.precision = spec.precision * 10 + (format[i++] - '0');
        if (spec.precision > 100000) return TypeError("precision too big");
      }
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) return TypeError("incomplete format");
    spec.type = format[i];
    if (spec.type == '%') {
      out.push_back('%');
      continue;
    }
    if (std::string_view("sradiuxXocfFeEgG").find(spec.type) == std::string_view::npos) {
      return TypeError(
          absl::StrCat("unsupported format character '", std::string(1, spec.type), "'"));
    }
    Value arg;
    if (keyed.has_value()) {
      arg = *keyed;
    } else {
      if (next >= positional.size()) return TypeError("not enough arguments for format string");
      arg = positional[next++];
    }
    absl::StatusOr<std::string> text = Convert(spec, arg, max_bytes);
    if (!text.ok()) return text.status();
    out += *text;
  }
  if (out.size() > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("formatted text exceeds ", max_bytes, " bytes"));
  }
  if (next < positional.size() && !used_mapping && !(mapping_like && next == 0)) {
    return TypeError("not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace loom::jinja
