#include "engine/text/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/text/byte_level.h"
#include "engine/text/pattern.h"
#include "engine/text/utf8.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

bool IsAscii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  absl::Status Normalize(std::string* text) const override {
    for (const auto& step : steps_) {
      if (absl::Status status = step->Normalize(text); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

// Unicode normalization forms. ICU's instances are process-wide singletons.
class UnicodeNormalizer final : public Normalizer {
 public:
  UnicodeNormalizer(const icu::Normalizer2* normalizer, std::string name)
      : normalizer_(normalizer), name_(std::move(name)) {}
  absl::Status Normalize(std::string* text) const override {
    // ASCII text is invariant under all four forms.
    if (IsAscii(*text)) return absl::OkStatus();
    UErrorCode error = U_ZERO_ERROR;
    if (normalizer_->isNormalizedUTF8(*text, error) && U_SUCCESS(error)) return absl::OkStatus();
    error = U_ZERO_ERROR;
    std::string normalized;
    icu::StringByteSink<std::string> sink(&normalized, static_cast<int32_t>(text->size()));
    normalizer_->normalizeUTF8(0, *text, sink, nullptr, error);
    if (U_FAILURE(error)) {
      return absl::InternalError(absl::StrCat("ICU ", name_, " failed: ", u_errorName(error)));
    }
    *text = std::move(normalized);
    return absl::OkStatus();
  }

 private:
  const icu::Normalizer2* normalizer_;
  std::string name_;
};

// Lowercases character by character, as Rust's char::to_lowercase does (full mappings,
// no context, so a final capital sigma becomes σ, not ς).
class LowercaseNormalizer final : public Normalizer {
 public:
  absl::Status Normalize(std::string* text) const override {
    std::string lowered;
    lowered.reserve(text->size());
    size_t pos = 0;
    while (pos < text->size()) {
      const auto byte = static_cast<unsigned char>((*text)[pos]);
      if (byte < 0x80) {
        lowered.push_back(static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + 32 : byte));
        ++pos;
        continue;
      }
      const size_t begin = pos;
      DecodeUtf8(*text, &pos);
      UErrorCode error = U_ZERO_ERROR;
      icu::StringByteSink<std::string> sink(&lowered);
      icu::CaseMap::utf8ToLower("", 0, icu::StringPiece(text->data() + begin, pos - begin), sink,
                                nullptr, error);
      if (U_FAILURE(error)) {
        return absl::InternalError(absl::StrCat("ICU lowercase failed: ", u_errorName(error)));
      }
    }
    *text = std::move(lowered);
    return absl::OkStatus();
  }
};

// Prepends a fixed string to non-empty text (the SentencePiece "▁" convention).
class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  absl::Status Normalize(std::string* text) const override {
    if (!text->empty()) text->insert(0, prefix_);
    return absl::OkStatus();
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  absl::Status Normalize(std::string* text) const override {
    std::vector<ByteRange> matches;
    if (absl::Status status = pattern_.FindAll(*text, &matches); !status.ok()) return status;
    if (matches.empty()) return absl::OkStatus();
    std::string replaced;
    size_t previous = 0;
    for (const ByteRange& match : matches) {
      replaced.append(*text, previous, match.begin - previous);
      replaced.append(content_);
      previous = match.end;
    }
    replaced.append(*text, previous);
    *text = std::move(replaced);
    return absl::OkStatus();
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Strips Unicode White_Space (Rust's char::is_whitespace) from either end.
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  absl::Status Normalize(std::string* text) const override {
    size_t begin = 0;
    size_t end = text->size();
    if (left_) {
      while (begin < end) {
        size_t next = begin;
        if (!u_isUWhiteSpace(static_cast<UChar32>(DecodeUtf8(*text, &next)))) break;
        begin = next;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>((*text)[start]) & 0xC0) == 0x80) {
          --start;
        }
        size_t next = start;
        if (!u_isUWhiteSpace(static_cast<UChar32>(DecodeUtf8(*text, &next)))) break;
        end = start;
      }
    }
    *text = text->substr(begin, end - begin);
    return absl::OkStatus();
  }

 private:
  bool left_;
  bool right_;
};

// Maps every byte to its GPT-2 byte-level character (the ByteLevel normalizer).
class ByteLevelNormalizer final : public Normalizer {
 public:
  absl::Status Normalize(std::string* text) const override {
    std::string mapped;
    AppendByteLevel(*text, &mapped);
    *text = std::move(mapped);
    return absl::OkStatus();
  }
};

absl::StatusOr<std::unique_ptr<Normalizer>> MakeUnicodeNormalizer(const std::string& type,
                                                                  const JsonLocation& where) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = nullptr;
  if (type == "NFC") normalizer = icu::Normalizer2::getNFCInstance(error);
  if (type == "NFD") normalizer = icu::Normalizer2::getNFDInstance(error);
  if (type == "NFKC") normalizer = icu::Normalizer2::getNFKCInstance(error);
  if (type == "NFKD") normalizer = icu::Normalizer2::getNFKDInstance(error);
  if (U_FAILURE(error) || normalizer == nullptr) {
    return where.Error(absl::StrCat("ICU has no ", type, " normalizer: ", u_errorName(error)));
  }
  return std::make_unique<UnicodeNormalizer>(normalizer, type);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> NormalizerFromJson(const json& config,
                                                               const JsonLocation& where) {
  absl::StatusOr<std::string> type = ComponentType(config, where);
  if (!type.ok()) return type.status();

  if (*type == "Sequence") {
    absl::StatusOr<const json*> list = RequireMember(config, "normalizers", where);
    if (!list.ok()) return list.status();
    if (!(*list)->is_array()) return where.Key("normalizers").Error("expected an array");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < (*list)->size(); ++i) {
      absl::StatusOr<std::unique_ptr<Normalizer>> step =
          NormalizerFromJson((**list)[i], where.Key("normalizers").Index(i));
      if (!step.ok()) return step.status();
      steps.push_back(*std::move(step));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  if (*type == "NFC" || *type == "NFD" || *type == "NFKC" || *type == "NFKD") {
    return MakeUnicodeNormalizer(*type, where);
  }
  if (*type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (*type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (*type == "Prepend") {
    absl::StatusOr<std::string> prefix = RequireString(config, "prepend", where);
    if (!prefix.ok()) return prefix.status();
    return std::make_unique<PrependNormalizer>(*std::move(prefix));
  }
  if (*type == "Replace") {
    absl::StatusOr<const json*> pattern_json = RequireMember(config, "pattern", where);
    if (!pattern_json.ok()) return pattern_json.status();
    absl::StatusOr<Pattern> pattern = Pattern::FromJson(**pattern_json, where.Key("pattern"));
    if (!pattern.ok()) return pattern.status();
    absl::StatusOr<std::string> content = RequireString(config, "content", where);
    if (!content.ok()) return content.status();
    return std::make_unique<ReplaceNormalizer>(*std::move(pattern), *std::move(content));
  }
  if (*type == "Strip") {
    absl::StatusOr<bool> left = OptionalBool(config, "strip_left", true, where);
    if (!left.ok()) return left.status();
    absl::StatusOr<bool> right = OptionalBool(config, "strip_right", true, where);
    if (!right.ok()) return right.status();
    return std::make_unique<StripNormalizer>(*left, *right);
  }
  return where.Key("type").Error(
      absl::StrCat("unsupported normalizer \"", *type,
                   "\" (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, "
                   "Strip, ByteLevel)"));
}

}  // namespace loom::text
