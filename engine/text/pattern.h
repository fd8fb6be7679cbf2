// Patterns and delimiter behaviors shared by the Split pre-tokenizer, the Replace
// normalizer and the Replace decoder.
//
// A Hugging Face pattern is {"String": "literal"} or {"Regex": "..."}; splitting follows
// NormalizedString::split: the text is cut into alternating non-matching and matching
// ranges, the behavior decides what happens to the matches, and empty pieces are dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "engine/text/regex.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

class Pattern {
 public:
  // Parses {"String": ...} or {"Regex": ...} at `where`.
  static absl::StatusOr<Pattern> FromJson(const nlohmann::json& value, const JsonLocation& where);
  static Pattern Literal(std::string literal);
  static absl::StatusOr<Pattern> FromRegex(std::string_view regex);

  // Appends the non-overlapping matches in `text`, left to right. An empty literal
  // matches the empty string at every character boundary, as its escaped regex would.
  // REQUIRES: `text` is valid UTF-8. Errors: see Regex::FindAll.
  absl::Status FindAll(std::string_view text, std::vector<ByteRange>* matches) const;

 private:
  Pattern(std::string literal, std::optional<Regex> regex)
      : literal_(std::move(literal)), regex_(std::move(regex)) {}

  std::string literal_;         // used when regex_ is empty
  std::optional<Regex> regex_;  // set for {"Regex": ...}
};

// What Split does with the matched delimiters (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior {
  kRemoved,             // drop the matches
  kIsolated,            // keep each match as its own piece
  kMergedWithPrevious,  // append each match to the piece before it
  kMergedWithNext,      // prepend each match to the piece after it
  kContiguous,          // consecutive matches form one piece
};

// Parses "Removed", "Isolated", ... at `where`.
absl::StatusOr<SplitBehavior> SplitBehaviorFromJson(const nlohmann::json& value,
                                                    const JsonLocation& where);

// Appends to `pieces` the non-empty pieces of `text` split at the matches of `pattern`
// with `behavior`; with `invert`, the non-matching ranges act as the delimiters.
// The pieces point into `text`. Errors: see Pattern::FindAll.
absl::Status SplitText(std::string_view text, const Pattern& pattern, SplitBehavior behavior,
                       bool invert, std::vector<std::string_view>* pieces);

}  // namespace loom::text
