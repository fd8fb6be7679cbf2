#include "engine/text/jinja/json_dump.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

void AppendUnicodeEscape(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(unit >> shift) & 0xF]);
}

void AppendJsonString(const std::string& s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t begin = pos;
    const char32_t cp = DecodeCodePoint(s, &pos);
    switch (cp) {
      case '"':
        out->append("\\\"");
        continue;
      case '\\':
        out->append("\\\\");
        continue;
      case '\n':
        out->append("\\n");
        continue;
      case '\r':
        out->append("\\r");
        continue;
      case '\t':
        out->append("\\t");
        continue;
      case '\b':
        out->append("\\b");
        continue;
      case '\f':
        out->append("\\f");
        continue;
      default:
        break;
    }
    if (cp < 0x20 || (ensure_ascii && cp == 0x7F)) {
      AppendUnicodeEscape(cp, out);
    } else if (ensure_ascii && cp >= 0x80) {
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        AppendUnicodeEscape(0xD800 + (v >> 10), out);
        AppendUnicodeEscape(0xDC00 + (v & 0x3FF), out);
      } else {
        AppendUnicodeEscape(cp, out);
      }
    } else {
      out->append(s, begin, pos - begin);
    }
  }
  out->push_back('"');
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& options) : options_(options) {
    item_separator_ = options.item_separator.value_or(options.indent.has_value() ? "," : ", ");
  }

  absl::Status Dump(const Value& v, int level, std::string* out) {
    if (out->size() > options_.max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("tojson output exceeds ", options_.max_bytes, " bytes"));
    }
    switch (v.kind()) {
      case Value::Kind::kNone:
        out->append("null");
        return absl::OkStatus();
      case Value::Kind::kBool:
        out->append(v.AsBool() ? "true" : "false");
        return absl::OkStatus();
      case Value::Kind::kInt:
        out->append(std::to_string(v.AsInt()));
        return absl::OkStatus();
      case Value::Kind::kFloat: {
        const double d = v.AsDouble();
        if (std::isnan(d)) {
          out->append("NaN");
        } else if (std::isinf(d)) {
          out->append(d < 0 ? "-Infinity" : "Infinity");
        } else {
          out->append(FormatPyFloat(d));
        }
        return absl::OkStatus();
      }
      case Value::Kind::kString:
        AppendJsonString(v.AsString(), options_.ensure_ascii, out);
        return absl::OkStatus();
      case Value::Kind::kList:
        if (!v.AsList().is_sequence()) break;
        return DumpList(v.AsList(), level, out);
      case Value::Kind::kDict:
        return DumpDict(v.AsDict(), level, out);
      default:
        break;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("Object of type ", TypeName(v), " is not JSON serializable"));
  }

 private:
  void NewLine(int level, std::string* out) const {
    if (!options_.indent.has_value()) return;
    out->push_back('\n');
    for (int i = 0; i < level; ++i) out->append(*options_.indent);
  }

  absl::Status DumpList(const ListData& list, int level, std::string* out) {
    if (list.items.empty()) {
      out->append("[]");
      return absl::OkStatus();
    }
    out->push_back('[');
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (i > 0) out->append(item_separator_);
      NewLine(level + 1, out);
      if (absl::Status s = Dump(list.items[i], level + 1, out); !s.ok()) return s;
    }
    NewLine(level, out);
    out->push_back(']');
    return absl::OkStatus();
  }

  absl::Status DumpDict(const DictData& dict, int level, std::string* out) {
    if (dict.items.empty()) {
      out->append("{}");
      return absl::OkStatus();
    }
    std::vector<const std::pair<std::string, Value>*> items;
    items.reserve(dict.items.size());
    for (const auto& item : dict.items) items.push_back(&item);
    if (options_.sort_keys) {
      std::stable_sort(items.begin(), items.end(),
                       [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    out->push_back('{');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out->append(item_separator_);
      NewLine(level + 1, out);
      AppendJsonString(items[i]->first, options_.ensure_ascii, out);
      out->append(options_.key_separator);
      if (absl::Status s = Dump(items[i]->second, level + 1, out); !s.ok()) return s;
    }
    NewLine(level, out);
    out->push_back('}');
    return absl::OkStatus();
  }

  const JsonDumpOptions& options_;
  std::string item_separator_;
};

}  // namespace

absl::StatusOr<std::string> DumpJson(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  Dumper dumper(options);
  if (absl::Status s = dumper.Dump(value, 0, &out); !s.ok()) return s;
  return out;
}

}  // namespace loom::jinja
