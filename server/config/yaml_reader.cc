#include "server/config/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/chat/yaml_fields.h"

namespace loom {
namespace {

// yaml-cpp tags a quoted scalar "!" and a plain one "?": only plain scalars are numbers
// or booleans, as in YAML's core schema.
bool IsPlainScalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

std::optional<int64_t> ParseInt(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> ParseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Where a value is, falling back to its key for values yaml-cpp gave no position.
std::string WhereOf(std::string_view file, const YAML::Node& value, const YAML::Node& fallback) {
  return yaml::Location(file, value.IsDefined() && !value.Mark().is_null() ? value : fallback);
}

}  // namespace

absl::StatusOr<YamlMapReader> YamlMapReader::Read(const YAML::Node& node, std::string_view file,
                                                  std::string_view prefix,
                                                  std::span<const std::string_view> keys) {
  YamlMapReader reader{std::string(file), std::string(prefix), node};
  const std::string what = prefix.empty() ? "the file" : std::string(prefix);
  if (!node.IsDefined() || node.IsNull()) return reader;
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(yaml::Location(file, node), ": ", what,
                                                   " must be a mapping, not ",
                                                   std::string(yaml::Describe(node))));
  }
  const std::string in = prefix.empty() ? "" : absl::StrCat(" in ", std::string(prefix));
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(yaml::Location(file, key), ": keys", in,
                                                     " must be strings, not ",
                                                     std::string(yaml::Describe(key))));
    }
    const std::string& name = key.Scalar();
    if (std::find(keys.begin(), keys.end(), name) == keys.end()) {
      std::optional<std::string_view> closest = yaml::ClosestName(name, keys);
      const std::string hint =
          closest.has_value()
              ? absl::StrCat("; did you mean '", std::string(*closest), "'?")
              : absl::StrCat("; valid keys: ",
                             absl::StrJoin(keys, ", ", [](std::string* out, std::string_view k) {
                               out->append(k);
                             }));
      return absl::InvalidArgumentError(
          absl::StrCat(yaml::Location(file, key), ": unknown key '", name, "'", in, hint));
    }
    if (reader.Find(name) != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(yaml::Location(file, key), ": duplicate key '", name, "'", in));
    }
    reader.entries_.push_back(Entry{name, key, it->second});
  }
  return reader;
}

const YamlMapReader::Entry* YamlMapReader::Find(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

bool YamlMapReader::Has(std::string_view key) const { return Find(key) != nullptr; }

YAML::Node YamlMapReader::Value(std::string_view key) const {
  const Entry* entry = Find(key);
  return entry != nullptr ? entry->value : YAML::Node(YAML::NodeType::Undefined);
}

std::string YamlMapReader::Name(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : absl::StrCat(prefix_, ".", std::string(key));
}

std::string YamlMapReader::Where(std::string_view key) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) return yaml::Location(file_, node_);
  return WhereOf(file_, entry->value, entry->key_node);
}

absl::Status YamlMapReader::Error(std::string_view key, std::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(Where(key), ": ", std::string(message)));
}

void YamlMapReader::RecordOrigins(ConfigOrigins& origins) const {
  for (const Entry& entry : entries_) origins[Name(entry.key)] = Where(entry.key);
}

absl::Status YamlMapReader::RangeError(std::string_view key, int64_t min, int64_t max,
                                       int64_t value) const {
  // A maximum that is only the type's limit is worth naming only when it was exceeded.
  if (max == INT64_MAX || (max == INT32_MAX && value <= max)) {
    return Error(key, absl::StrCat(Name(key), " must be >= ", min, ", got ", value));
  }
  return Error(key, absl::StrCat(Name(key), " must be in [", min, ", ", max, "], got ", value));
}

absl::Status YamlMapReader::TypeError(std::string_view key, const YAML::Node& value,
                                      std::string_view type) const {
  std::string what;
  if (value.IsScalar()) {
    what = IsPlainScalar(value) ? absl::StrCat("'", value.Scalar(), "'")
                                : absl::StrCat("a string (\"", value.Scalar(), "\")");
  } else {
    what = std::string(yaml::Describe(value));
  }
  const Entry* entry = Find(key);
  return absl::InvalidArgumentError(
      absl::StrCat(WhereOf(file_, value, entry != nullptr ? entry->key_node : node_), ": ",
                   Name(key), " must be ", std::string(type), ", not ", what));
}

absl::StatusOr<int64_t> YamlMapReader::Int(std::string_view key) const {
  const YAML::Node value = Value(key);
  std::optional<int64_t> parsed;
  if (IsPlainScalar(value)) parsed = ParseInt(value.Scalar());
  if (!parsed.has_value()) return TypeError(key, value, "an integer");
  return *parsed;
}

absl::StatusOr<double> YamlMapReader::Number(std::string_view key) const {
  const YAML::Node value = Value(key);
  std::optional<double> parsed;
  if (IsPlainScalar(value)) parsed = ParseNumber(value.Scalar());
  if (!parsed.has_value()) return TypeError(key, value, "a number");
  return *parsed;
}

absl::StatusOr<bool> YamlMapReader::Bool(std::string_view key) const {
  const YAML::Node value = Value(key);
  if (IsPlainScalar(value)) {
    const std::string& text = value.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  return TypeError(key, value, "true or false");
}

absl::StatusOr<std::string> YamlMapReader::String(std::string_view key) const {
  const YAML::Node value = Value(key);
  if (!value.IsScalar()) return TypeError(key, value, "a string");
  return value.Scalar();
}

absl::StatusOr<std::vector<std::string>> YamlMapReader::StringList(std::string_view key) const {
  const YAML::Node value = Value(key);
  std::vector<std::string> out;
  if (value.IsNull()) return out;
  if (!value.IsSequence()) return TypeError(key, value, "a list of strings");
  for (size_t i = 0; i < value.size(); ++i) {
    const YAML::Node item = value[i];
    if (!item.IsScalar() || item.Scalar().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(WhereOf(file_, item, value), ": ", Name(key), "[", i,
                       "] must be a non-empty string, not ",
                       item.IsScalar() ? "empty" : std::string(yaml::Describe(item))));
    }
    out.push_back(item.Scalar());
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> YamlMapReader::IntList(std::string_view key) const {
  const YAML::Node value = Value(key);
  std::vector<int64_t> out;
  if (value.IsNull()) return out;
  if (!value.IsSequence()) return TypeError(key, value, "a list of integers");
  for (size_t i = 0; i < value.size(); ++i) {
    const YAML::Node item = value[i];
    std::optional<int64_t> parsed;
    if (IsPlainScalar(item)) parsed = ParseInt(item.Scalar());
    if (!parsed.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          WhereOf(file_, item, value), ": ", Name(key), "[", i, "] must be an integer, not ",
          item.IsScalar() ? absl::StrCat("'", item.Scalar(), "'")
                          : std::string(yaml::Describe(item))));
    }
    out.push_back(*parsed);
  }
  return out;
}

absl::Status YamlMapReader::ReadBool(std::string_view key, bool& out) const {
  if (!Has(key)) return absl::OkStatus();
  absl::StatusOr<bool> value = Bool(key);
  if (!value.ok()) return value.status();
  out = *value;
  return absl::OkStatus();
}

absl::Status YamlMapReader::ReadString(std::string_view key, std::string& out) const {
  if (!Has(key)) return absl::OkStatus();
  absl::StatusOr<std::string> value = String(key);
  if (!value.ok()) return value.status();
  if (value->empty()) return Error(key, absl::StrCat(Name(key), " must not be empty"));
  out = *std::move(value);
  return absl::OkStatus();
}

absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& file) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat(file, ": cannot read the file"));
  std::stringstream text;
  text << in.rdbuf();
  try {
    return YAML::Load(text.str());
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", e.what()));
  }
}

}  // namespace loom
