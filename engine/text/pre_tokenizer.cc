#include "engine/text/pre_tokenizer.h"

#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/text/byte_level.h"
#include "engine/text/pattern.h"
#include "engine/text/string_view_compat.h"
#include "engine/text/utf8.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

// Splits every piece with `pattern` and `behavior`; the front piece keeps its place at
// the input start only if its first part begins where it did.
absl::Status SplitPieces(const Pattern& pattern, SplitBehavior behavior, bool invert,
                         std::vector<std::string>* pieces, bool* front_at_input_start) {
  std::vector<std::string> result;
  result.reserve(pieces->size());
  std::vector<std::string_view> parts;
  bool front_kept = false;
  for (size_t i = 0; i < pieces->size(); ++i) {
    const std::string& piece = (*pieces)[i];
    parts.clear();
    if (absl::Status status = SplitText(piece, pattern, behavior, invert, &parts); !status.ok()) {
      return status;
    }
    if (i == 0) front_kept = !parts.empty() && parts.front().data() == piece.data();
    for (const std::string_view part : parts) result.emplace_back(part);
  }
  *front_at_input_start = *front_at_input_start && front_kept;
  *pieces = std::move(result);
  return absl::OkStatus();
}

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  absl::Status PreTokenize(std::vector<std::string>* pieces,
                           bool* front_at_input_start) const override {
    for (const auto& step : steps_) {
      if (absl::Status status = step->PreTokenize(pieces, front_at_input_start); !status.ok()) {
        return status;
      }
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
  absl::Status PreTokenize(std::vector<std::string>* pieces,
                           bool* front_at_input_start) const override {
    return SplitPieces(pattern_, behavior_, invert_, pieces, front_at_input_start);
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
  absl::Status PreTokenize(std::vector<std::string>* pieces,
                           bool* front_at_input_start) const override {
    if (add_prefix_space_) {
      for (std::string& piece : *pieces) {
        if (!piece.empty() && piece.front() != ' ') piece = absl::StrCat(" ", piece);
      }
    }
    if (gpt2_.has_value()) {
      if (absl::Status status =
              SplitPieces(*gpt2_, SplitBehavior::kIsolated, false, pieces, front_at_input_start);
          !status.ok()) {
        return status;
      }
    }
    if (!pieces->empty() && pieces->front().empty()) *front_at_input_start = false;
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

// SentencePiece spaces: every ' ' becomes the replacement, which the prepend scheme may
// put in front of a piece, and with `split` each replacement starts a new piece (tokens
// like "▁Hello" keep it at their front).
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(MetaspaceConfig config)
      : config_(std::move(config)), delimiter_(Pattern::Literal(config_.replacement)) {}
  absl::Status PreTokenize(std::vector<std::string>* pieces,
                           bool* front_at_input_start) const override {
    for (size_t i = 0; i < pieces->size(); ++i) {
      std::string& piece = (*pieces)[i];
      piece = absl::StrReplaceAll(piece, {{" ", config_.replacement}});
      const bool prepend =
          config_.prepend_scheme == PrependScheme::kAlways ||
          (config_.prepend_scheme == PrependScheme::kFirst && i == 0 && *front_at_input_start);
      if (prepend && !piece.starts_with(config_.replacement)) piece.insert(0, config_.replacement);
    }
    if (!config_.split) return absl::OkStatus();
    return SplitPieces(delimiter_, SplitBehavior::kMergedWithNext, /*invert=*/false, pieces,
                       front_at_input_start);
  }

 private:
  MetaspaceConfig config_;
  Pattern delimiter_;
};

// Character classes of Rust's `char` methods and `regex` crate, which tokenizers uses.
constexpr std::string_view kWhiteSpaceClass = R"(\p{White_Space})";
constexpr std::string_view kWordClass = R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D})";
constexpr std::string_view kPunctuationClass =
    R"(\p{P}\x{21}-\x{2F}\x{3A}-\x{40}\x{5B}-\x{60}\x{7B}-\x{7E})";

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeRegexSplit(std::string_view regex,
                                                             SplitBehavior behavior, bool invert,
                                                             const JsonLocation& where) {
  absl::StatusOr<Pattern> pattern = Pattern::FromRegex(regex);
  if (!pattern.ok()) return where.Error(pattern.status().message());
  return std::make_unique<SplitPreTokenizer>(*std::move(pattern), behavior, invert);
}

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

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeMetaspace(const json& config,
                                                            const JsonLocation& where) {
  absl::StatusOr<MetaspaceConfig> parsed = MetaspaceConfigFromJson(config, where);
  if (!parsed.ok()) return parsed.status();
  return std::make_unique<MetaspacePreTokenizer>(*std::move(parsed));
}

// Whitespace keeps the runs of word characters and the runs of other non-spaces
// (tokenizers: \w+|[^\w\s]+, inverted, Removed).
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeWhitespace(const JsonLocation& where) {
  return MakeRegexSplit(absl::StrCat("[", ToAbsl(kWordClass), "]+|[^", ToAbsl(kWordClass),
                                     ToAbsl(kWhiteSpaceClass), "]+"),
                        SplitBehavior::kRemoved, /*invert=*/true, where);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePunctuation(const json& config,
                                                              const JsonLocation& where) {
  SplitBehavior behavior = SplitBehavior::kIsolated;
  if (const json* value = FindMember(config, "behavior"); value != nullptr) {
    absl::StatusOr<SplitBehavior> parsed = SplitBehaviorFromJson(*value, where.Key("behavior"));
    if (!parsed.ok()) return parsed.status();
    behavior = *parsed;
  }
  // One match per character, as tokenizers' character predicate gives.
  return MakeRegexSplit(absl::StrCat("[", ToAbsl(kPunctuationClass), "]"), behavior,
                        /*invert=*/false, where);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeDigits(const json& config,
                                                         const JsonLocation& where) {
  absl::StatusOr<bool> individual = OptionalBool(config, "individual_digits", false, where);
  if (!individual.ok()) return individual.status();
  return MakeRegexSplit(R"(\p{N})",
                        *individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
                        /*invert=*/false, where);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeCharDelimiterSplit(const json& config,
                                                                     const JsonLocation& where) {
  absl::StatusOr<std::string> delimiter = RequireString(config, "delimiter", where);
  if (!delimiter.ok()) return delimiter.status();
  if (delimiter->empty() || Utf8SequenceLength(*delimiter, 0) != delimiter->size()) {
    return where.Key("delimiter").Error("expected exactly one character");
  }
  return std::make_unique<SplitPreTokenizer>(Pattern::Literal(*std::move(delimiter)),
                                             SplitBehavior::kRemoved, /*invert=*/false);
}

}  // namespace

absl::StatusOr<MetaspaceConfig> MetaspaceConfigFromJson(const json& config,
                                                        const JsonLocation& where) {
  MetaspaceConfig result;
  absl::StatusOr<std::string> replacement = RequireString(config, "replacement", where);
  if (!replacement.ok()) return replacement.status();
  if (replacement->empty() || Utf8SequenceLength(*replacement, 0) != replacement->size()) {
    return where.Key("replacement").Error("expected exactly one character");
  }
  result.replacement = *std::move(replacement);
  absl::StatusOr<std::optional<std::string>> scheme =
      OptionalString(config, "prepend_scheme", where);
  if (!scheme.ok()) return scheme.status();
  if (scheme->has_value()) {
    if (**scheme == "always") {
      result.prepend_scheme = PrependScheme::kAlways;
    } else if (**scheme == "first") {
      result.prepend_scheme = PrependScheme::kFirst;
    } else if (**scheme == "never") {
      result.prepend_scheme = PrependScheme::kNever;
    } else {
      return where.Key("prepend_scheme")
          .Error(absl::StrCat("unsupported prepend_scheme \"", **scheme,
                              "\" (supported: always, first, never)"));
    }
  }
  if (const json* legacy = FindMember(config, "add_prefix_space"); legacy != nullptr) {
    if (!legacy->is_boolean()) return where.Key("add_prefix_space").Error("expected a boolean");
    if (!legacy->get<bool>()) {
      if (scheme->has_value() && result.prepend_scheme != PrependScheme::kNever) {
        return where.Key("add_prefix_space")
            .Error("add_prefix_space false does not match prepend_scheme");
      }
      result.prepend_scheme = PrependScheme::kNever;
    }
  }
  absl::StatusOr<bool> split = OptionalBool(config, "split", true, where);
  if (!split.ok()) return split.status();
  result.split = *split;
  return result;
}

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
  if (*type == "Metaspace") return MakeMetaspace(config, where);
  if (*type == "Whitespace") return MakeWhitespace(where);
  if (*type == "WhitespaceSplit") {
    return MakeRegexSplit(absl::StrCat("[", ToAbsl(kWhiteSpaceClass), "]+"),
                          SplitBehavior::kRemoved, /*invert=*/false, where);
  }
  if (*type == "Punctuation") return MakePunctuation(config, where);
  if (*type == "Digits") return MakeDigits(config, where);
  if (*type == "CharDelimiterSplit") return MakeCharDelimiterSplit(config, where);
  return where.Key("type").Error(
      absl::StrCat("unsupported pre-tokenizer \"", *type,
                   "\" (supported: Sequence, Split, ByteLevel, Metaspace, Whitespace, "
                   "WhitespaceSplit, Punctuation, Digits, CharDelimiterSplit)"));
}

}  // namespace loom::text
