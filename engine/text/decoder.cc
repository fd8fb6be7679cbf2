#include "engine/text/decoder.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/text/byte_level.h"
#include "engine/text/pattern.h"
#include "engine/text/utf8.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& step : steps_) {
      if (absl::Status status = step->DecodeChain(tokens); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// Maps every token's characters back to bytes and joins them into one string. A token
// with a character outside the byte map (an added token such as "<|im_end|> ") keeps its
// own UTF-8 bytes; invalid UTF-8 in the result becomes U+FFFD.
class ByteLevelDecoder final : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& token : *tokens) {
      std::optional<std::string> decoded = ByteLevelToBytes(token);
      bytes.append(decoded.has_value() ? *decoded : token);
    }
    tokens->assign(1, Utf8Lossy(bytes));
    return absl::OkStatus();
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<ByteRange> matches;
    for (std::string& token : *tokens) {
      matches.clear();
      if (absl::Status status = pattern_.FindAll(token, &matches); !status.ok()) return status;
      if (matches.empty()) continue;
      std::string replaced;
      size_t previous = 0;
      for (const ByteRange& match : matches) {
        replaced.append(token, previous, match.begin - previous);
        replaced.append(content_);
        previous = match.end;
      }
      replaced.append(token, previous);
      token = std::move(replaced);
    }
    return absl::OkStatus();
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Parses a "<0xXX>" byte token (either hex case); nullopt for anything else.
std::optional<uint8_t> ParseByteToken(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return std::nullopt;
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int high = hex(token[3]);
  const int low = hex(token[4]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<uint8_t>(high * 16 + low);
}

// Replaces runs of <0xXX> tokens by the text they encode; a run that is not valid UTF-8
// becomes one U+FFFD per byte, as in tokenizers.
class ByteFallbackDecoder final : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> result;
    result.reserve(tokens->size());
    std::string run;
    const auto flush = [&] {
      if (run.empty()) return;
      if (IsValidUtf8(run)) {
        result.push_back(run);
      } else {
        for (size_t i = 0; i < run.size(); ++i) result.emplace_back(kReplacementCharacter);
      }
      run.clear();
    };
    for (std::string& token : *tokens) {
      if (std::optional<uint8_t> byte = ParseByteToken(token)) {
        run.push_back(static_cast<char>(*byte));
        continue;
      }
      flush();
      result.push_back(std::move(token));
    }
    flush();
    *tokens = std::move(result);
    return absl::OkStatus();
  }
};

class FuseDecoder final : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    tokens->assign(1, absl::StrJoin(*tokens, ""));
    return absl::OkStatus();
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character per token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(std::string content, int64_t start, int64_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& token : *tokens) {
      std::string_view rest = token;
      for (int64_t i = 0; i < start_ && rest.starts_with(content_); ++i) {
        rest.remove_prefix(content_.size());
      }
      for (int64_t i = 0; i < stop_ && rest.ends_with(content_); ++i) {
        rest.remove_suffix(content_.size());
      }
      token = std::string(rest);
    }
    return absl::OkStatus();
  }

 private:
  std::string content_;  // exactly one character
  int64_t start_;
  int64_t stop_;
};

absl::StatusOr<std::unique_ptr<Decoder>> MakeReplace(const json& config,
                                                     const JsonLocation& where) {
  absl::StatusOr<const json*> pattern_json = RequireMember(config, "pattern", where);
  if (!pattern_json.ok()) return pattern_json.status();
  absl::StatusOr<Pattern> pattern = Pattern::FromJson(**pattern_json, where.Key("pattern"));
  if (!pattern.ok()) return pattern.status();
  absl::StatusOr<std::string> content = RequireString(config, "content", where);
  if (!content.ok()) return content.status();
  return std::make_unique<ReplaceDecoder>(*std::move(pattern), *std::move(content));
}

absl::StatusOr<std::unique_ptr<Decoder>> MakeStrip(const json& config, const JsonLocation& where) {
  absl::StatusOr<std::string> content = RequireString(config, "content", where);
  if (!content.ok()) return content.status();
  if (content->empty() || Utf8SequenceLength(*content, 0) != content->size()) {
    return where.Key("content").Error("expected exactly one character");
  }
  absl::StatusOr<int64_t> start = OptionalInt(config, "start", 0, where);
  if (!start.ok()) return start.status();
  absl::StatusOr<int64_t> stop = OptionalInt(config, "stop", 0, where);
  if (!stop.ok()) return stop.status();
  return std::make_unique<StripDecoder>(*std::move(content), *start, *stop);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> DecoderFromJson(const json& config,
                                                         const JsonLocation& where) {
  absl::StatusOr<std::string> type = ComponentType(config, where);
  if (!type.ok()) return type.status();
  if (*type == "Sequence") {
    absl::StatusOr<const json*> list = RequireMember(config, "decoders", where);
    if (!list.ok()) return list.status();
    if (!(*list)->is_array()) return where.Key("decoders").Error("expected an array");
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < (*list)->size(); ++i) {
      absl::StatusOr<std::unique_ptr<Decoder>> step =
          DecoderFromJson((**list)[i], where.Key("decoders").Index(i));
      if (!step.ok()) return step.status();
      steps.push_back(*std::move(step));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  if (*type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (*type == "Replace") return MakeReplace(config, where);
  if (*type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (*type == "Fuse") return std::make_unique<FuseDecoder>();
  if (*type == "Strip") return MakeStrip(config, where);
  return where.Key("type").Error(
      absl::StrCat("unsupported decoder \"", *type,
                   "\" (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Sequence)"));
}

}  // namespace loom::text
