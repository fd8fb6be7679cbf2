#include "engine/chat/chat_formatter.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/chat/builtin_templates.h"

namespace loom {
namespace {

std::string NoTemplateMessage() {
  return absl::StrCat(
      "the model has no chat template; set chat_template in its YAML: a built-in name (",
      absl::StrJoin(BuiltinChatTemplateNames(), ", "),
      "), a Jinja template, or a mapping of prefixes and suffixes (name or base, system, user, "
      "assistant, ...)");
}

// The id of `word` when it is exactly one token: a token of the vocabulary (added tokens
// included) that encoding the word produces alone.
std::optional<TokenId> SingleToken(const std::string& word, const Tokenizer& tokenizer) {
  std::optional<TokenId> id = tokenizer.TokenToId(word);
  if (!id.has_value()) return std::nullopt;
  absl::StatusOr<std::vector<TokenId>> ids = tokenizer.Encode(word, false);
  if (!ids.ok() || ids->size() != 1 || ids->front() != *id) return std::nullopt;
  return id;
}

}  // namespace

absl::StatusOr<ChatFormatter> ChatFormatter::Create(const std::filesystem::path& model_dir,
                                                    const Tokenizer& tokenizer,
                                                    const ChatTemplateOverride& yaml_template) {
  ChatFormatter formatter;
  absl::StatusOr<ChatSpecialTokens> special_tokens = ReadChatSpecialTokens(model_dir);
  if (!special_tokens.ok()) return special_tokens.status();
  formatter.special_tokens_ = *std::move(special_tokens);

  if (const auto* named = std::get_if<NamedChatTemplate>(&yaml_template)) {
    formatter.source_ = Source::kYamlNamed;
    formatter.named_ = *named;
    formatter.end_of_turn_ = named->eoa;
    for (const std::string& word : named->stop_words) {
      if (std::optional<TokenId> id = SingleToken(word, tokenizer)) {
        if (std::find(formatter.stop_token_ids_.begin(), formatter.stop_token_ids_.end(), *id) ==
            formatter.stop_token_ids_.end()) {
          formatter.stop_token_ids_.push_back(*id);
        }
      } else {
        formatter.stop_strings_.push_back(word);
      }
    }
    return formatter;
  }

  if (const auto* jinja = std::get_if<JinjaChatTemplateSource>(&yaml_template)) {
    absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(jinja->source);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model YAML chat_template: ", parsed.status().message()));
    }
    formatter.source_ = Source::kYamlJinja;
    formatter.jinja_ = *std::move(parsed);
  } else {
    absl::StatusOr<ChatTemplate> loaded = ChatTemplate::LoadFromModelDir(model_dir);
    if (absl::IsNotFound(loaded.status())) return formatter;  // no template: Source::kNone
    if (!loaded.ok()) return loaded.status();
    formatter.source_ = Source::kModel;
    formatter.jinja_ = *std::move(loaded);
  }
  ChatTemplate::Options options;
  options.special_tokens = formatter.special_tokens_;
  formatter.continuation_ = JinjaContinuation::Probe(*formatter.jinja_, options, tokenizer);
  if (formatter.continuation_.ok()) formatter.end_of_turn_ = formatter.continuation_->end_of_turn();
  return formatter;
}

absl::StatusOr<std::string> ChatFormatter::Render(const std::vector<ChatMessage>& messages,
                                                  const RenderOptions& options) const {
  if (source_ == Source::kNone) return absl::FailedPreconditionError(NoTemplateMessage());
  if (messages.empty()) return absl::InvalidArgumentError("messages is empty");
  if (named_.has_value()) {
    return RenderNamedChatTemplate(*named_, messages,
                                   NamedRenderOptions{
                                       .add_generation_prompt = options.add_generation_prompt,
                                       .first_turn = options.first_turn,
                                   });
  }
  ChatTemplate::Options jinja_options;
  jinja_options.add_generation_prompt = options.add_generation_prompt;
  jinja_options.special_tokens = special_tokens_;
  jinja_options.extra_context = options.extra_context;
  if (options.first_turn) return jinja_->Render(messages, jinja_options);
  if (!continuation_.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot render a later turn of a session: ",
                                                      continuation_.status().message()));
  }
  return continuation_->Render(*jinja_, messages, jinja_options);
}

std::string ChatFormatter::Describe() const {
  switch (source_) {
    case Source::kNone:
      return "no chat template";
    case Source::kModel:
      return "the model's Jinja chat template";
    case Source::kYamlJinja:
      return "the Jinja chat template from the model YAML";
    case Source::kYamlNamed:
      return absl::StrCat("named chat template '", named_->name, "' from the model YAML");
  }
  return "no chat template";
}

}  // namespace loom
