#include "engine/text/tokenizer_config.h"

#include "absl/strings/str_cat.h"
#include "engine/text/json_util.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

// "bos_token": "<s>" or {"content": "<s>", "__type": "AddedToken", ...} or null.
absl::StatusOr<std::optional<std::string>> SpecialToken(const json& config, std::string_view name,
                                                        const JsonLocation& where) {
  const json* value = FindMember(config, name);
  if (value == nullptr) return std::optional<std::string>();
  if (value->is_object()) {
    absl::StatusOr<std::string> content = RequireString(*value, "content", where.Key(name));
    if (!content.ok()) return content.status();
    return std::optional<std::string>(*std::move(content));
  }
  absl::StatusOr<std::string> content = AsString(*value, where.Key(name));
  if (!content.ok()) return content.status();
  return std::optional<std::string>(*std::move(content));
}

absl::StatusOr<std::optional<bool>> OptionalFlag(const json& config, std::string_view name,
                                                 const JsonLocation& where) {
  if (FindMember(config, name) == nullptr) return std::optional<bool>();
  absl::StatusOr<bool> value = OptionalBool(config, name, false, where);
  if (!value.ok()) return value.status();
  return std::optional<bool>(*value);
}

}  // namespace

absl::StatusOr<TokenizerConfig> ParseTokenizerConfig(std::string_view json_text,
                                                     const std::string& file) {
  TokenizerConfig config;
  if (json_text.empty()) return config;
  const JsonLocation root(file);
  const json parsed = ParseJson(json_text);
  if (parsed.is_discarded()) return root.Error("not valid JSON");
  if (absl::Status status = RequireObject(parsed, root); !status.ok()) return status;

  absl::StatusOr<std::optional<std::string>> bos = SpecialToken(parsed, "bos_token", root);
  if (!bos.ok()) return bos.status();
  config.bos_token = *std::move(bos);
  absl::StatusOr<std::optional<std::string>> eos = SpecialToken(parsed, "eos_token", root);
  if (!eos.ok()) return eos.status();
  config.eos_token = *std::move(eos);
  absl::StatusOr<std::optional<bool>> add_bos = OptionalFlag(parsed, "add_bos_token", root);
  if (!add_bos.ok()) return add_bos.status();
  config.add_bos_token = *add_bos;
  absl::StatusOr<std::optional<bool>> add_eos = OptionalFlag(parsed, "add_eos_token", root);
  if (!add_eos.ok()) return add_eos.status();
  config.add_eos_token = *add_eos;
  absl::StatusOr<bool> split = OptionalBool(parsed, "split_special_tokens", false, root);
  if (!split.ok()) return split.status();
  config.split_special_tokens = *split;
  return config;
}

}  // namespace loom::text
