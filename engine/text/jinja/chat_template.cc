#include "engine/text/jinja/chat_template.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace loom {
namespace {

constexpr char kTemplateName[] = "chat_template";

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool FileExists(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

absl::StatusOr<nlohmann::ordered_json> ReadJsonObject(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not a JSON object"));
  }
  return json;
}

// tokenizer_config.json's chat_template: a string, or [{"name", "template"}, ...].
absl::StatusOr<std::string> SelectTemplate(const nlohmann::ordered_json& value,
                                           const std::string& where, std::string_view name) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    for (const auto& entry : value) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
          !entry["name"].is_string() || !entry["template"].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": chat_template list entries must be {\"name\": str, \"template\": str}"));
      }
      if (entry["name"].get_ref<const std::string&>() == name) {
        return entry["template"].get<std::string>();
      }
    }
    return absl::NotFoundError(
        absl::StrCat(where, ": no chat template named '", std::string(name), "'"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": chat_template must be a string or a list of named templates"));
}

absl::StatusOr<std::optional<std::string>> SpecialToken(const nlohmann::ordered_json& config,
                                                        const char* key, const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) {
      return std::optional<std::string>(content->get<std::string>());
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", key, " must be a string or an object with a string content"));
}

}  // namespace

absl::StatusOr<ChatSpecialTokens> ReadChatSpecialTokens(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "tokenizer_config.json";
  ChatSpecialTokens tokens;
  if (!FileExists(path)) return tokens;
  absl::StatusOr<nlohmann::ordered_json> config = ReadJsonObject(path);
  if (!config.ok()) return config.status();
  const std::string where = path.string();
  std::optional<std::string>* fields[] = {&tokens.bos_token, &tokens.eos_token, &tokens.unk_token,
                                          &tokens.pad_token};
  const char* keys[] = {"bos_token", "eos_token", "unk_token", "pad_token"};
  for (size_t i = 0; i < 4; ++i) {
    absl::StatusOr<std::optional<std::string>> token = SpecialToken(*config, keys[i], where);
    if (!token.ok()) return token.status();
    *fields[i] = *std::move(token);
  }
  return tokens;
}

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  absl::StatusOr<jinja::Template> parsed = jinja::Template::Parse(source, kTemplateName);
  if (!parsed.ok()) return parsed.status();
  return ChatTemplate(*std::move(parsed));
}

absl::StatusOr<ChatTemplate> ChatTemplate::LoadFromModelDir(const std::filesystem::path& dir,
                                                            std::string_view name) {
  const std::filesystem::path jinja_path = dir / "chat_template.jinja";
  if (FileExists(jinja_path)) {
    absl::StatusOr<std::string> source = ReadFile(jinja_path);
    if (!source.ok()) return source.status();
    return Parse(*source);
  }
  const std::filesystem::path config_path = dir / "tokenizer_config.json";
  if (!FileExists(config_path)) {
    return absl::NotFoundError(absl::StrCat(dir.string(),
                                            " has no chat template (neither chat_template.jinja "
                                            "nor tokenizer_config.json)"));
  }
  absl::StatusOr<nlohmann::ordered_json> config = ReadJsonObject(config_path);
  if (!config.ok()) return config.status();
  auto it = config->find("chat_template");
  if (it == config->end() || it->is_null()) {
    return absl::NotFoundError(absl::StrCat(config_path.string(),
                                            " has no chat_template (and there is no "
                                            "chat_template.jinja)"));
  }
  absl::StatusOr<std::string> source = SelectTemplate(*it, config_path.string(), name);
  if (!source.ok()) return source.status();
  return Parse(*source);
}

absl::StatusOr<std::string> ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                                 const Options& options) const {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const ChatMessage& message : messages) {
    nlohmann::ordered_json object = {{"role", message.role}, {"content", message.content}};
    if (message.extra.is_object()) {
      for (const auto& [key, value] : message.extra.items()) object[key] = value;
    } else if (!message.extra.is_null()) {
      return absl::InvalidArgumentError("ChatMessage::extra must be a JSON object or null");
    }
    array.push_back(std::move(object));
  }
  return RenderJson(array, options);
}

absl::StatusOr<std::string> ChatTemplate::RenderJson(const nlohmann::ordered_json& messages,
                                                     const Options& options) const {
  if (!messages.is_array()) {
    return absl::InvalidArgumentError("chat messages must be a JSON array");
  }
  if (!options.extra_context.is_null() && !options.extra_context.is_object()) {
    return absl::InvalidArgumentError("extra_context must be a JSON object or null");
  }
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = messages;
  context["tools"] = nullptr;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = options.add_generation_prompt;
  const ChatSpecialTokens& tokens = options.special_tokens;
  if (tokens.bos_token) context["bos_token"] = *tokens.bos_token;
  if (tokens.eos_token) context["eos_token"] = *tokens.eos_token;
  if (tokens.unk_token) context["unk_token"] = *tokens.unk_token;
  if (tokens.pad_token) context["pad_token"] = *tokens.pad_token;
  if (options.extra_context.is_object()) {
    for (const auto& [key, value] : options.extra_context.items()) context[key] = value;
  }
  return template_.RenderJson(context, options.limits);
}

}  // namespace loom
