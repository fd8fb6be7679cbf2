#include "engine/text/post_processor.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

class SequencePostProcessor final : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  void ProcessSingle(std::vector<TokenId>* ids) const override {
    for (const auto& step : steps_) step->ProcessSingle(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// Only trims offsets in tokenizers; ids pass through.
class ByteLevelPostProcessor final : public PostProcessor {
 public:
  void ProcessSingle(std::vector<TokenId>*) const override {}
};

// The sequence surrounded by fixed ids: `prefix` A `suffix`.
class TemplatePostProcessor final : public PostProcessor {
 public:
  TemplatePostProcessor(std::vector<TokenId> prefix, std::vector<TokenId> suffix)
      : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
  void ProcessSingle(std::vector<TokenId>* ids) const override {
    ids->insert(ids->begin(), prefix_.begin(), prefix_.end());
    ids->insert(ids->end(), suffix_.begin(), suffix_.end());
  }

 private:
  std::vector<TokenId> prefix_;
  std::vector<TokenId> suffix_;
};

// Reads the ids of special token `name` from the "special_tokens" map of the template at
// `template_at`; `use_at` locates the piece that uses the token.
absl::Status AppendSpecialIds(const json& config, const std::string& name,
                              const JsonLocation& template_at, const JsonLocation& use_at,
                              std::vector<TokenId>* ids) {
  const json* special_tokens = FindMember(config, "special_tokens");
  const json* entry = special_tokens != nullptr && special_tokens->is_object()
                          ? FindMember(*special_tokens, name)
                          : nullptr;
  if (entry == nullptr) {
    return use_at.Error(absl::StrCat("special token \"", name, "\" is not in special_tokens"));
  }
  const JsonLocation at = template_at.Key("special_tokens").Key(name);
  if (absl::Status status = RequireObject(*entry, at); !status.ok()) return status;
  absl::StatusOr<const json*> list = RequireMember(*entry, "ids", at);
  if (!list.ok()) return list.status();
  if (!(*list)->is_array()) return at.Key("ids").Error("expected an array");
  for (size_t i = 0; i < (*list)->size(); ++i) {
    absl::StatusOr<TokenId> id = AsTokenId((**list)[i], at.Key("ids").Index(i));
    if (!id.ok()) return id.status();
    ids->push_back(*id);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PostProcessor>> MakeTemplate(const json& config,
                                                            const JsonLocation& where) {
  absl::StatusOr<const json*> single = RequireMember(config, "single", where);
  if (!single.ok()) return single.status();
  if (!(*single)->is_array()) return where.Key("single").Error("expected an array of pieces");
  std::vector<TokenId> prefix;
  std::vector<TokenId> suffix;
  bool seen_sequence = false;
  for (size_t i = 0; i < (*single)->size(); ++i) {
    const json& piece = (**single)[i];
    const JsonLocation at = where.Key("single").Index(i);
    if (absl::Status status = RequireObject(piece, at); !status.ok()) return status;
    if (const json* special = FindMember(piece, "SpecialToken"); special != nullptr) {
      if (absl::Status status = RequireObject(*special, at.Key("SpecialToken")); !status.ok()) {
        return status;
      }
      absl::StatusOr<std::string> name = RequireString(*special, "id", at.Key("SpecialToken"));
      if (!name.ok()) return name.status();
      absl::Status status = AppendSpecialIds(config, *name, where, at.Key("SpecialToken").Key("id"),
                                             seen_sequence ? &suffix : &prefix);
      if (!status.ok()) return status;
    } else if (const json* sequence = FindMember(piece, "Sequence"); sequence != nullptr) {
      if (absl::Status status = RequireObject(*sequence, at.Key("Sequence")); !status.ok()) {
        return status;
      }
      absl::StatusOr<std::string> name = RequireString(*sequence, "id", at.Key("Sequence"));
      if (!name.ok()) return name.status();
      if (*name != "A" || seen_sequence) {
        return at.Key("Sequence").Error("a single template must use sequence A exactly once");
      }
      seen_sequence = true;
    } else {
      return at.Error("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
  if (!seen_sequence) return where.Key("single").Error("the template never uses sequence A");
  return std::make_unique<TemplatePostProcessor>(std::move(prefix), std::move(suffix));
}

// BertProcessing / RobertaProcessing: "cls": ["[CLS]", 101], "sep": ["[SEP]", 102].
absl::StatusOr<TokenId> ClsSepId(const json& config, std::string_view name,
                                 const JsonLocation& where) {
  absl::StatusOr<const json*> pair = RequireMember(config, name, where);
  if (!pair.ok()) return pair.status();
  if (!(*pair)->is_array() || (*pair)->size() != 2) {
    return where.Key(name).Error("expected [token, id]");
  }
  return AsTokenId((**pair)[1], where.Key(name).Index(1));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostProcessor>> PostProcessorFromJson(const json& config,
                                                                     const JsonLocation& where) {
  absl::StatusOr<std::string> type = ComponentType(config, where);
  if (!type.ok()) return type.status();
  if (*type == "Sequence") {
    absl::StatusOr<const json*> list = RequireMember(config, "processors", where);
    if (!list.ok()) return list.status();
    if (!(*list)->is_array()) return where.Key("processors").Error("expected an array");
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (size_t i = 0; i < (*list)->size(); ++i) {
      absl::StatusOr<std::unique_ptr<PostProcessor>> step =
          PostProcessorFromJson((**list)[i], where.Key("processors").Index(i));
      if (!step.ok()) return step.status();
      steps.push_back(*std::move(step));
    }
    return std::make_unique<SequencePostProcessor>(std::move(steps));
  }
  if (*type == "ByteLevel") return std::make_unique<ByteLevelPostProcessor>();
  if (*type == "TemplateProcessing") return MakeTemplate(config, where);
  if (*type == "BertProcessing" || *type == "RobertaProcessing") {
    absl::StatusOr<TokenId> cls = ClsSepId(config, "cls", where);
    if (!cls.ok()) return cls.status();
    absl::StatusOr<TokenId> sep = ClsSepId(config, "sep", where);
    if (!sep.ok()) return sep.status();
    return std::make_unique<TemplatePostProcessor>(std::vector<TokenId>{*cls},
                                                   std::vector<TokenId>{*sep});
  }
  return where.Key("type").Error(absl::StrCat("unsupported post-processor \"", *type,
                                              "\" (supported: TemplateProcessing, ByteLevel, "
                                              "BertProcessing, RobertaProcessing, Sequence)"));
}

}  // namespace loom::text
