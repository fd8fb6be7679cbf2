#include "engine/text/pattern.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/text/utf8.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

// One range of the text and whether it was matched by the pattern.
struct Range {
  size_t begin;
  size_t end;
  bool is_match;
};

// Covers `text` with alternating non-matching and matching ranges (tokenizers'
// Pattern::find_matches). An empty text yields one empty non-matching range.
std::vector<Range> CoverText(size_t text_size, const std::vector<ByteRange>& matches, bool invert) {
  std::vector<Range> ranges;
  if (text_size == 0) {
    ranges.push_back({0, 0, invert});
    return ranges;
  }
  size_t previous = 0;
  for (const ByteRange& match : matches) {
    if (previous != match.begin) ranges.push_back({previous, match.begin, false});
    ranges.push_back({match.begin, match.end, true});
    previous = match.end;
  }
  if (previous != text_size) ranges.push_back({previous, text_size, false});
  if (invert) {
    for (Range& range : ranges) range.is_match = !range.is_match;
  }
  return ranges;
}

}  // namespace

absl::StatusOr<Pattern> Pattern::FromJson(const nlohmann::json& value, const JsonLocation& where) {
  if (absl::Status status = RequireObject(value, where); !status.ok()) return status;
  if (const nlohmann::json* literal = FindMember(value, "String"); literal != nullptr) {
    absl::StatusOr<std::string> text = AsString(*literal, where.Key("String"));
    if (!text.ok()) return text.status();
    return Literal(*std::move(text));
  }
  if (const nlohmann::json* regex = FindMember(value, "Regex"); regex != nullptr) {
    absl::StatusOr<std::string> text = AsString(*regex, where.Key("Regex"));
    if (!text.ok()) return text.status();
    absl::StatusOr<Pattern> pattern = FromRegex(*text);
    if (!pattern.ok()) return where.Key("Regex").Error(pattern.status().message());
    return pattern;
  }
  return where.Error("expected {\"String\": ...} or {\"Regex\": ...}");
}

Pattern Pattern::Literal(std::string literal) { return Pattern(std::move(literal), std::nullopt); }

absl::StatusOr<Pattern> Pattern::FromRegex(std::string_view regex) {
  absl::StatusOr<Regex> compiled = Regex::Compile(regex);
  if (!compiled.ok()) return compiled.status();
  return Pattern("", *std::move(compiled));
}

absl::Status Pattern::FindAll(std::string_view text, std::vector<ByteRange>* matches) const {
  if (regex_.has_value()) return regex_->FindAll(text, matches);
  if (literal_.empty()) {
    size_t pos = 0;
    while (true) {
      matches->push_back({pos, pos});
      if (pos >= text.size()) break;
      pos += Utf8SequenceLength(text, pos);
    }
    return absl::OkStatus();
  }
  for (size_t pos = text.find(literal_); pos != std::string_view::npos;
       pos = text.find(literal_, pos + literal_.size())) {
    matches->push_back({pos, pos + literal_.size()});
  }
  return absl::OkStatus();
}

absl::StatusOr<SplitBehavior> SplitBehaviorFromJson(const nlohmann::json& value,
                                                    const JsonLocation& where) {
  absl::StatusOr<std::string> name = AsString(value, where);
  if (!name.ok()) return name.status();
  if (*name == "Removed") return SplitBehavior::kRemoved;
  if (*name == "Isolated") return SplitBehavior::kIsolated;
  if (*name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (*name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (*name == "Contiguous") return SplitBehavior::kContiguous;
  return where.Error(absl::StrCat("unsupported split behavior \"", *name,
                                  "\" (supported: Removed, Isolated, MergedWithPrevious, "
                                  "MergedWithNext, Contiguous)"));
}

absl::Status SplitText(std::string_view text, const Pattern& pattern, SplitBehavior behavior,
                       bool invert, std::vector<std::string_view>* pieces) {
  std::vector<ByteRange> matches;
  if (absl::Status status = pattern.FindAll(text, &matches); !status.ok()) return status;
  const std::vector<Range> ranges = CoverText(text.size(), matches, invert);

  // Each kept piece is a range [begin, end); the fold rules mirror tokenizers exactly,
  // including that the first range never merges with a predecessor.
  std::vector<ByteRange> kept;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Range& r : ranges) kept.push_back({r.begin, r.end});
      break;
    case SplitBehavior::kRemoved:
      for (const Range& r : ranges) {
        if (!r.is_match) kept.push_back({r.begin, r.end});
      }
      break;
    case SplitBehavior::kContiguous:
      for (const Range& r : ranges) {
        if (r.is_match == previous_match && !kept.empty()) {
          kept.back().end = r.end;
        } else {
          kept.push_back({r.begin, r.end});
        }
        previous_match = r.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Range& r : ranges) {
        if (r.is_match && !previous_match && !kept.empty()) {
          kept.back().end = r.end;
        } else {
          kept.push_back({r.begin, r.end});
        }
        previous_match = r.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back({it->begin, it->end});
        }
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const ByteRange& r : kept) {
    if (r.end > r.begin) pieces->push_back(text.substr(r.begin, r.end - r.begin));
  }
  return absl::OkStatus();
}

}  // namespace loom::text
