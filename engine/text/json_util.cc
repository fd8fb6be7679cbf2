#include "engine/text/json_util.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/text/json_text_iterator.h"
#include "engine/text/string_view_compat.h"
#include "nlohmann/json.hpp"

namespace loom::text {

using nlohmann::json;

json ParseJson(std::string_view text) {
  return json::parse(JsonTextIterator(text.data()), JsonTextIterator(text.data() + text.size()),
                     nullptr, /*allow_exceptions=*/false);
}

JsonLocation JsonLocation::Key(std::string_view name) const {
  return JsonLocation(file_,
                      key_.empty() ? std::string(name) : absl::StrCat(key_, ".", ToAbsl(name)));
}

JsonLocation JsonLocation::Index(size_t index) const {
  return JsonLocation(file_, absl::StrCat(key_, "[", index, "]"));
}

absl::Status JsonLocation::Error(absl::string_view message) const {
  if (key_.empty()) return absl::InvalidArgumentError(absl::StrCat(file_, ": ", message));
  return absl::InvalidArgumentError(absl::StrCat(file_, ": ", key_, ": ", message));
}

const char* JsonTypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "invalid";
  }
  return "unknown";
}

absl::Status RequireObject(const json& value, const JsonLocation& where) {
  if (value.is_object()) return absl::OkStatus();
  return where.Error(absl::StrCat("expected an object, got ", JsonTypeName(value)));
}

const json* FindMember(const json& object, std::string_view name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<const json*> RequireMember(const json& object, std::string_view name,
                                          const JsonLocation& where) {
  const json* member = FindMember(object, name);
  if (member == nullptr) return where.Key(name).Error("missing required key");
  return member;
}

absl::StatusOr<std::string> RequireString(const json& object, std::string_view name,
                                          const JsonLocation& where) {
  absl::StatusOr<const json*> member = RequireMember(object, name, where);
  if (!member.ok()) return member.status();
  return AsString(**member, where.Key(name));
}

absl::StatusOr<std::optional<std::string>> OptionalString(const json& object, std::string_view name,
                                                          const JsonLocation& where) {
  const json* member = FindMember(object, name);
  if (member == nullptr) return std::optional<std::string>();
  absl::StatusOr<std::string> value = AsString(*member, where.Key(name));
  if (!value.ok()) return value.status();
  return std::optional<std::string>(*std::move(value));
}

absl::StatusOr<bool> OptionalBool(const json& object, std::string_view name, bool fallback,
                                  const JsonLocation& where) {
  const json* member = FindMember(object, name);
  if (member == nullptr) return fallback;
  if (!member->is_boolean()) {
    return where.Key(name).Error(absl::StrCat("expected a boolean, got ", JsonTypeName(*member)));
  }
  return member->get<bool>();
}

absl::StatusOr<int64_t> OptionalInt(const json& object, std::string_view name, int64_t fallback,
                                    const JsonLocation& where) {
  const json* member = FindMember(object, name);
  if (member == nullptr) return fallback;
  if (member->is_number_unsigned()) {
    const auto value = member->get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return where.Key(name).Error("integer out of range");
    }
    return static_cast<int64_t>(value);
  }
  if (!member->is_number_integer()) {
    return where.Key(name).Error(absl::StrCat("expected an integer, got ", JsonTypeName(*member)));
  }
  return member->get<int64_t>();
}

absl::StatusOr<std::string> AsString(const json& value, const JsonLocation& where) {
  if (!value.is_string()) {
    return where.Error(absl::StrCat("expected a string, got ", JsonTypeName(value)));
  }
  return value.get<std::string>();
}

absl::StatusOr<int32_t> AsTokenId(const json& value, const JsonLocation& where) {
  if (value.is_number_unsigned()) {
    const auto id = value.get<uint64_t>();
    if (id >= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      return where.Error(absl::StrCat("token id ", id, " is too large"));
    }
    return static_cast<int32_t>(id);
  }
  if (value.is_number_integer()) {
    const auto id = value.get<int64_t>();
    if (id < 0) return where.Error(absl::StrCat("token id ", id, " is negative"));
    if (id >= std::numeric_limits<int32_t>::max()) {
      return where.Error(absl::StrCat("token id ", id, " is too large"));
    }
    return static_cast<int32_t>(id);
  }
  return where.Error(absl::StrCat("expected a token id, got ", JsonTypeName(value)));
}

absl::StatusOr<std::string> ComponentType(const json& component, const JsonLocation& where) {
  if (absl::Status status = RequireObject(component, where); !status.ok()) return status;
  return RequireString(component, "type", where);
}

}  // namespace loom::text
