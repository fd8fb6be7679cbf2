#include "engine/chat/chat_template_yaml.h"

#include <array>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/chat/builtin_templates.h"
#include "engine/chat/yaml_fields.h"
#include "yaml-cpp/yaml.h"

namespace loom {
namespace {

constexpr std::array<std::string_view, 16> kKeys = {"name",
                                                    "base",
                                                    "bos",
                                                    "system",
                                                    "meta_instruction",
                                                    "eosys",
                                                    "user",
                                                    "eoh",
                                                    "assistant",
                                                    "eoa",
                                                    "separator",
                                                    "tool",
                                                    "eotool",
                                                    "stop_words",
                                                    "capability",
                                                    "generation_prompt"};

struct StringField {
  std::string_view key;
  std::string NamedChatTemplate::*member;
};
constexpr std::array<StringField, 11> kStringFields = {{
    {"bos", &NamedChatTemplate::bos},
    {"system", &NamedChatTemplate::system},
    {"eosys", &NamedChatTemplate::eosys},
    {"user", &NamedChatTemplate::user},
    {"eoh", &NamedChatTemplate::eoh},
    {"assistant", &NamedChatTemplate::assistant},
    {"eoa", &NamedChatTemplate::eoa},
    {"separator", &NamedChatTemplate::separator},
    {"tool", &NamedChatTemplate::tool},
    {"eotool", &NamedChatTemplate::eotool},
    {"name", &NamedChatTemplate::name},
}};

// Fields where null means "none" rather than a mistake.
struct OptionalStringField {
  std::string_view key;
  std::optional<std::string> NamedChatTemplate::*member;
};
constexpr std::array<OptionalStringField, 2> kOptionalStringFields = {{
    {"meta_instruction", &NamedChatTemplate::meta_instruction},
    {"generation_prompt", &NamedChatTemplate::generation_prompt},
}};

void AppendView(std::string* out, std::string_view s) { out->append(s); }

absl::Status Error(std::string_view file, const YAML::Node& at, std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(yaml::Location(file, at), ": ", std::string(message)));
}

// "; did you mean 'x'?" for a near miss among `candidates`, else "".
template <size_t N>
std::string Suggestion(std::string_view word, const std::array<std::string_view, N>& candidates) {
  std::optional<std::string_view> closest = yaml::ClosestName(word, candidates);
  return closest ? absl::StrCat("; did you mean '", std::string(*closest), "'?") : "";
}

std::string BuiltinNameSuggestion(std::string_view word) {
  std::vector<std::string_view> names(BuiltinChatTemplateNames().begin(),
                                      BuiltinChatTemplateNames().end());
  std::optional<std::string_view> closest = yaml::ClosestName(word, names);
  return closest ? absl::StrCat("; did you mean '", std::string(*closest), "'?") : "";
}

std::string BuiltinNameList() { return absl::StrJoin(BuiltinChatTemplateNames(), ", "); }

// A key of the mapping with its value; `at` is where type errors about the value point.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  const YAML::Node& at() const { return value.Mark().is_null() ? key_node : value; }
};

absl::StatusOr<std::string> ReadString(const Entry& entry, std::string_view file) {
  if (!entry.value.IsScalar()) {
    return Error(file, entry.at(),
                 absl::StrCat("chat_template.", entry.key, " must be a string, not ",
                              std::string(yaml::Describe(entry.value))));
  }
  return entry.value.Scalar();
}

absl::StatusOr<std::vector<std::string>> ReadStopWords(const Entry& entry, std::string_view file) {
  std::vector<std::string> words;
  if (entry.value.IsNull()) return words;
  if (!entry.value.IsSequence()) {
    return Error(file, entry.at(),
                 absl::StrCat("chat_template.stop_words must be a list of strings, not ",
                              std::string(yaml::Describe(entry.value))));
  }
  for (size_t i = 0; i < entry.value.size(); ++i) {
    const YAML::Node item = entry.value[i];
    if (!item.IsScalar() || item.Scalar().empty()) {
      return Error(
          file, item.Mark().is_null() ? entry.at() : item,
          absl::StrCat("chat_template.stop_words[", i, "] must be a non-empty string, not ",
                       item.IsScalar() ? "empty" : std::string(yaml::Describe(item))));
    }
    words.push_back(item.Scalar());
  }
  return words;
}

absl::StatusOr<ChatCapability> ReadCapability(const Entry& entry, std::string_view file) {
  absl::StatusOr<std::string> value = ReadString(entry, file);
  if (!value.ok()) return value.status();
  if (*value == "chat") return ChatCapability::kChat;
  if (*value == "completion") return ChatCapability::kCompletion;
  return Error(
      file, entry.at(),
      absl::StrCat("chat_template.capability is '", *value, "'; expected 'chat' or 'completion'"));
}

// Reads the keys in order, rejecting unknown and repeated ones.
absl::StatusOr<std::vector<Entry>> ReadEntries(const YAML::Node& node, std::string_view file) {
  std::vector<Entry> entries;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      return Error(file, key,
                   absl::StrCat("keys of chat_template must be strings, not ",
                                std::string(yaml::Describe(key))));
    }
    const std::string& name = key.Scalar();
    if (std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end()) {
      std::string suggestion = Suggestion(name, kKeys);
      if (suggestion.empty()) {
        suggestion = absl::StrCat("; valid keys: ", absl::StrJoin(kKeys, ", ", AppendView));
      }
      return Error(file, key,
                   absl::StrCat("unknown key '", name, "' in chat_template", suggestion));
    }
    if (!seen.insert(name).second) {
      return Error(file, key, absl::StrCat("duplicate key '", name, "' in chat_template"));
    }
    entries.push_back(Entry{name, key, it->second});
  }
  return entries;
}

absl::Status ApplyEntry(const Entry& entry, std::string_view file, NamedChatTemplate& t) {
  for (const StringField& field : kStringFields) {
    if (entry.key != field.key) continue;
    absl::StatusOr<std::string> value = ReadString(entry, file);
    if (!value.ok()) return value.status();
    t.*field.member = *std::move(value);
    return absl::OkStatus();
  }
  for (const OptionalStringField& field : kOptionalStringFields) {
    if (entry.key != field.key) continue;
    if (entry.value.IsNull()) {
      t.*field.member = std::nullopt;
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> value = ReadString(entry, file);
    if (!value.ok()) return value.status();
    t.*field.member = *std::move(value);
    return absl::OkStatus();
  }
  if (entry.key == "stop_words") {
    absl::StatusOr<std::vector<std::string>> words = ReadStopWords(entry, file);
    if (!words.ok()) return words.status();
    t.stop_words = *std::move(words);
  } else if (entry.key == "capability") {
    absl::StatusOr<ChatCapability> capability = ReadCapability(entry, file);
    if (!capability.ok()) return capability.status();
    t.capability = *capability;
  }
  return absl::OkStatus();  // `base` was applied first
}

absl::StatusOr<NamedChatTemplate> ParseMapping(const YAML::Node& node, std::string_view file) {
  if (!node.IsDefined() || !node.IsMap()) {
    return Error(
        file, node,
        absl::StrCat("chat_template must be a mapping, not ", std::string(yaml::Describe(node))));
  }
  absl::StatusOr<std::vector<Entry>> entries = ReadEntries(node, file);
  if (!entries.ok()) return entries.status();

  // The base first, so that the other keys override it in whatever order they come.
  NamedChatTemplate t;
  bool has_base = false;
  bool has_name = false;
  for (const Entry& entry : *entries) {
    has_name |= entry.key == "name";
    if (entry.key != "base") continue;
    absl::StatusOr<std::string> base = ReadString(entry, file);
    if (!base.ok()) return base.status();
    std::optional<NamedChatTemplate> builtin = FindBuiltinChatTemplate(*base);
    if (!builtin.has_value()) {
      return Error(
          file, entry.at(),
          absl::StrCat("unknown base '", *base, "' in chat_template", BuiltinNameSuggestion(*base),
                       " (built-in templates: ", BuiltinNameList(), ")"));
    }
    t = *std::move(builtin);
    has_base = true;
  }
  if (!has_base && !has_name) {
    return Error(file, node,
                 absl::StrCat("chat_template needs 'name' (to define a template) or 'base' (to "
                              "start from a built-in one: ",
                              BuiltinNameList(), ")"));
  }
  for (const Entry& entry : *entries) {
    if (absl::Status status = ApplyEntry(entry, file, t); !status.ok()) return status;
  }
  if (t.name.empty()) {
    return Error(file, node, "chat_template.name must not be empty");
  }
  return t;
}

bool LooksLikeJinja(std::string_view text) {
  return text.find("{{") != std::string_view::npos || text.find("{%") != std::string_view::npos;
}

}  // namespace

absl::StatusOr<NamedChatTemplate> ParseNamedChatTemplate(const YAML::Node& node,
                                                         std::string_view file) {
  try {
    return ParseMapping(node, file);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(file), ": chat_template: ", e.what()));
  }
}

absl::StatusOr<ChatTemplateOverride> ParseChatTemplateOverride(const YAML::Node& node,
                                                               std::string_view file) {
  try {
    if (!node.IsDefined() || node.IsNull()) return ChatTemplateOverride{};
    if (node.IsMap()) {
      absl::StatusOr<NamedChatTemplate> named = ParseMapping(node, file);
      if (!named.ok()) return named.status();
      return ChatTemplateOverride{*std::move(named)};
    }
    if (node.IsScalar()) {
      const std::string& text = node.Scalar();
      if (std::optional<NamedChatTemplate> builtin = FindBuiltinChatTemplate(text)) {
        return ChatTemplateOverride{*std::move(builtin)};
      }
      if (LooksLikeJinja(text)) return ChatTemplateOverride{JinjaChatTemplateSource{text}};
      return Error(file, node,
                   absl::StrCat("chat_template '", text,
                                "' is neither a built-in template name nor a Jinja template",
                                BuiltinNameSuggestion(text),
                                " (built-in templates: ", BuiltinNameList(), ")"));
    }
    return Error(file, node,
                 absl::StrCat("chat_template must be a template name, a Jinja template or a "
                              "mapping, not ",
                              std::string(yaml::Describe(node))));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(file), ": chat_template: ", e.what()));
  }
}

}  // namespace loom
