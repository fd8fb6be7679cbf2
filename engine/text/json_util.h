// Typed, non-throwing access to nlohmann::json values, with errors that name the file and
// the key path ("/m/tokenizer.json: model.merges[12]: expected a string").
//
// Every accessor checks the JSON type before reading, so no nlohmann exception can be
// thrown from code that uses only these helpers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

// Where a JSON value sits: the file it came from and its key path inside that file.
class JsonLocation {
 public:
  explicit JsonLocation(std::string file, std::string key = "")
      : file_(std::move(file)), key_(std::move(key)) {}

  // The location of member `name` of the object here.
  JsonLocation Key(std::string_view name) const;
  // The location of element `index` of the array here.
  JsonLocation Index(size_t index) const;

  const std::string& file() const { return file_; }
  const std::string& key() const { return key_; }

  // InvalidArgument "<file>: <key>: <message>" (the key part is left out at the root).
  absl::Status Error(absl::string_view message) const;

 private:
  std::string file_;
  std::string key_;
};

// Parses `text` without throwing; the result is_discarded() when `text` is not JSON.
nlohmann::json ParseJson(std::string_view text);

// A short name of the JSON type of `value` for error messages ("string", "object", ...).
const char* JsonTypeName(const nlohmann::json& value);

// OK if `value` is an object, else an error at `where`.
absl::Status RequireObject(const nlohmann::json& value, const JsonLocation& where);

// Member `name` of `object`, or nullptr when it is absent or JSON null.
// REQUIRES: object.is_object().
const nlohmann::json* FindMember(const nlohmann::json& object, std::string_view name);

// Member `name` of `object`; an error at `where.Key(name)` when absent or null.
absl::StatusOr<const nlohmann::json*> RequireMember(const nlohmann::json& object,
                                                    std::string_view name,
                                                    const JsonLocation& where);

// The string member `name`; errors when absent, null or not a string.
absl::StatusOr<std::string> RequireString(const nlohmann::json& object, std::string_view name,
                                          const JsonLocation& where);

// The string member `name`, or nullopt when absent or null; errors when of another type.
absl::StatusOr<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                          std::string_view name,
                                                          const JsonLocation& where);

// The boolean member `name`, or `fallback` when absent or null.
absl::StatusOr<bool> OptionalBool(const nlohmann::json& object, std::string_view name,
                                  bool fallback, const JsonLocation& where);

// The integer member `name`, or `fallback` when absent or null.
absl::StatusOr<int64_t> OptionalInt(const nlohmann::json& object, std::string_view name,
                                    int64_t fallback, const JsonLocation& where);

// The string `value` itself; errors when it is not a string.
absl::StatusOr<std::string> AsString(const nlohmann::json& value, const JsonLocation& where);

// The integer `value` itself, checked to be a token id in [0, INT32_MAX).
absl::StatusOr<int32_t> AsTokenId(const nlohmann::json& value, const JsonLocation& where);

// The "type" member of a component object (normalizer, pre_tokenizer, ...).
absl::StatusOr<std::string> ComponentType(const nlohmann::json& component,
                                          const JsonLocation& where);

}  // namespace loom::text
