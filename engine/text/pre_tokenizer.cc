#include "engine/text/pre_tokenizer.h"

#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "engine/text/byte_level.h"
#include "engine/text/pattern.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

// Splits every piece with `pattern` and `behavior`.
absl::Status SplitPieces(const Pattern& pattern, SplitBehavior behavior, bool invert,
                         std::vector<std::string>* pieces) {
  std::vector<std::string> result;
  result.reserve(pieces->size());
  std::vector<std::string_view> parts;
  for (const std::string& piece : *pieces) {
    parts.clear();
    if (absl::Status status = SplitText(piece, pattern, behavior, invert, &parts); !status.ok()) {
      return status;
    }
    for (const std::string_view part : parts) result.emplace_back(part);
  }
  *pieces = std::move(result);
  return absl::OkStatus();
}

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  absl::Status PreTokenize(std::vector<std::string>* pieces) const override {
    for (const auto& step : steps_) {
      if (absl::Status status = step->PreTokenize(pieces); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  absl::Status PreTokenize(std::vector<std::string>* pieces) const override {
    return SplitPieces(pattern_, behavior_, invert_, pieces);
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Optionally prefixes a space and splits with the GPT-2 pattern, then rewrites each piece
// into byte-level characters.
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::optional<Pattern> gpt2)
      : add_prefix_space_(add_prefix_space), gpt2_(std::move(gpt2)) {}
  absl::Status PreTokenize(std::vector<std::string>* pieces) const override {
    if (add_prefix_space_) {
      for (std::string& piece : *pieces) {
        if (!piece.empty() && piece.front() != ' ') piece = absl::StrCat(" ", piece);
      }
    }
    if (gpt2_.has_value()) {
      if (absl::Status status = SplitPieces(*gpt2_, SplitBehavior::kIsolated, false, pieces);
          !status.ok()) {
        return status;
      }
    }
    std::vector<std::string> mapped;
    mapped.reserve(pieces->size());
    for (const std::string& piece : *pieces) {
      if (piece.empty()) continue;
      AppendByteLevel(piece, &mapped.emplace_back());
    }
    *pieces = std::move(mapped);
    return absl::OkStatus();
  }

 private:
  bool add_prefix_space_;
  std::optional<Pattern> gpt2_;  // set when use_regex
};

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeSplit(const json& config,
                                                        const JsonLocation& where) {
  absl::StatusOr<const json*> pattern_json = RequireMember(config, "pattern", where);
  if (!pattern_json.ok()) return pattern_json.status();
  absl::StatusOr<Pattern> pattern = Pattern::FromJson(**pattern_json, where.Key("pattern"));
  if (!pattern.ok()) return pattern.status();
  absl::StatusOr<const json*> behavior_json = RequireMember(config, "behavior", where);
  if (!behavior_json.ok()) return behavior_json.status();
  absl::StatusOr<SplitBehavior> behavior =
      SplitBehaviorFromJson(**behavior_json, where.Key("behavior"));
  if (!behavior.ok()) return behavior.status();
  absl::StatusOr<bool> invert = OptionalBool(config, "invert", false, where);
  if (!invert.ok()) return invert.status();
  return std::make_unique<SplitPreTokenizer>(*std::move(pattern), *behavior, *invert);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeByteLevel(const json& config,
                                                            const JsonLocation& where) {
  absl::StatusOr<bool> add_prefix_space = OptionalBool(config, "add_prefix_space", true, where);
  if (!add_prefix_space.ok()) return add_prefix_space.status();
  absl::StatusOr<bool> use_regex = OptionalBool(config, "use_regex", true, where);
  if (!use_regex.ok()) return use_regex.status();
  std::optional<Pattern> gpt2;
  if (*use_regex) {
    absl::StatusOr<Pattern> pattern = Pattern::FromRegex(kGpt2Pattern);
    if (!pattern.ok()) return pattern.status();
    gpt2 = *std::move(pattern);
  }
  return std::make_unique<ByteLevelPreTokenizer>(*add_prefix_space, std::move(gpt2));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const json& config,
                                                                   const JsonLocation& where) {
  absl::StatusOr<std::string> type = ComponentType(config, where);
  if (!type.ok()) return type.status();
  if (*type == "Sequence") {
    absl::StatusOr<const json*> list = RequireMember(config, "pretokenizers", where);
    if (!list.ok()) return list.status();
    if (!(*list)->is_array()) return where.Key("pretokenizers").Error("expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < (*list)->size(); ++i) {
      absl::StatusOr<std::unique_ptr<PreTokenizer>> step =
          PreTokenizerFromJson((**list)[i], where.Key("pretokenizers").Index(i));
      if (!step.ok()) return step.status();
      steps.push_back(*std::move(step));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (*type == "Split") return MakeSplit(config, where);
  if (*type == "ByteLevel") return MakeByteLevel(config, where);
  return where.Key("type").Error(absl::StrCat("unsupported pre-tokenizer \"", *type,
                                              "\" (supported: Sequence, Split, ByteLevel)"));
}

}  // namespace loom::text
