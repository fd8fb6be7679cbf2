#include "engine/text/decoder.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/text/byte_level.h"
#include "engine/text/pattern.h"
#include "engine/text/pre_tokenizer.h"
#include "engine/text/utf8.h"
#include "kernels/check.h"
#include "nlohmann/json.hpp"

namespace loom::text {

// One step of a DecoderStream. It takes tokens (or, after a join, consecutive fragments
// of the one joined token) and puts out what its decoder makes of them, as soon as
// later input can no longer change it.
class StreamingStep {
 public:
  virtual ~StreamingStep() = default;
  // Takes the next token or fragment; appends what is now final to `out`.
  virtual absl::Status Push(std::string input, std::vector<std::string>* out) = 0;
  // Appends what is still held back, at the end of the stream.
  virtual void Finish(std::vector<std::string>* /*out*/) {}
};

namespace {

using nlohmann::json;

// `text` with every match of `pattern` replaced by `content`.
absl::StatusOr<std::string> ReplaceMatches(const Pattern& pattern, const std::string& content,
                                           std::string text) {
  std::vector<ByteRange> matches;
  if (absl::Status status = pattern.FindAll(text, &matches); !status.ok()) return status;
  if (matches.empty()) return text;
  std::string replaced;
  size_t previous = 0;
  for (const ByteRange& match : matches) {
    replaced.append(text, previous, match.begin - previous);
    replaced.append(content);
    previous = match.end;
  }
  replaced.append(text, previous);
  return replaced;
}

// `text` with every occurrence of the non-empty `from` replaced by `to`.
std::string ReplaceLiteral(std::string_view text, std::string_view from, std::string_view to) {
  std::string replaced;
  replaced.reserve(text.size());
  size_t previous = 0;
  for (size_t pos = text.find(from); pos != std::string_view::npos;
       pos = text.find(from, previous)) {
    replaced.append(text.substr(previous, pos - previous));
    replaced.append(to);
    previous = pos + from.size();
  }
  replaced.append(text.substr(previous));
  return replaced;
}

// `token` without up to `start` leading and `stop` trailing copies of `content`.
std::string StripToken(std::string_view token, std::string_view content, int64_t start,
                       int64_t stop) {
  for (int64_t i = 0; i < start && token.starts_with(content); ++i) {
    token.remove_prefix(content.size());
  }
  for (int64_t i = 0; i < stop && token.ends_with(content); ++i) {
    token.remove_suffix(content.size());
  }
  return std::string(token);
}

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

// Appends a finished run of byte tokens: its text when valid UTF-8, else one U+FFFD per
// byte, as tokenizers' ByteFallback does.
void FlushByteRun(std::string* run, std::vector<std::string>* out) {
  if (run->empty()) return;
  if (IsValidUtf8(*run)) {
    out->push_back(std::move(*run));
  } else {
    out->insert(out->end(), run->size(), std::string(kReplacementCharacter));
  }
  run->clear();
}

// Where the trailing bytes of `bytes` that may still become one valid character begin
// (bytes.size() when there are none): a lead byte followed by fewer continuation bytes
// than it needs, each in its allowed range. No maximal ill-formed subpart reaches past
// a lead byte, so everything before it converts the same whatever follows.
size_t UnfinishedCharacterStart(std::string_view bytes) {
  const size_t size = bytes.size();
  for (size_t back = 1; back <= std::min<size_t>(3, size); ++back) {
    const size_t pos = size - back;
    const auto lead = static_cast<uint8_t>(bytes[pos]);
    if (lead >= 0x80 && lead < 0xC0) continue;  // a continuation byte: look further back
    size_t length = 0;
    uint8_t second_min = 0x80;
    uint8_t second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_min = 0xA0;
      if (lead == 0xED) second_max = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_min = 0x90;
      if (lead == 0xF4) second_max = 0x8F;
    }
    if (back >= length) return size;  // ASCII, an invalid lead, or a complete character
    if (back >= 2) {
      const auto second = static_cast<uint8_t>(bytes[pos + 1]);
      if (second < second_min || second > second_max) return size;
    }
    // Later bytes are continuation bytes, which the loop has already seen.
    return pos;
  }
  return size;
}

// ---- Streaming steps ----

class JoinWithSpaceStep final : public StreamingStep {
 public:
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    out->push_back(first_ ? std::move(input) : absl::StrCat(" ", input));
    first_ = false;
    return absl::OkStatus();
  }

 private:
  bool first_ = true;
};

class ByteLevelStep final : public StreamingStep {
 public:
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    std::optional<std::string> bytes = ByteLevelToBytes(input);
    pending_.append(bytes.has_value() ? *bytes : input);
    const size_t final_end = UnfinishedCharacterStart(pending_);
    if (final_end > 0) {
      out->push_back(Utf8Lossy(std::string_view(pending_).substr(0, final_end)));
      pending_.erase(0, final_end);
    }
    return absl::OkStatus();
  }
  void Finish(std::vector<std::string>* out) override {
    if (!pending_.empty()) out->push_back(Utf8Lossy(pending_));
    pending_.clear();
  }

 private:
  std::string pending_;  // at most 3 bytes of an unfinished character
};

class ReplaceTokenStep final : public StreamingStep {
 public:
  ReplaceTokenStep(const Pattern& pattern, const std::string& content)
      : pattern_(pattern), content_(content) {}
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    absl::StatusOr<std::string> replaced = ReplaceMatches(pattern_, content_, std::move(input));
    if (!replaced.ok()) return replaced.status();
    out->push_back(*std::move(replaced));
    return absl::OkStatus();
  }

 private:
  const Pattern& pattern_;  // owned by the decoder
  const std::string& content_;
};

// A String Replace on fragments of one token: a match may span fragments, so the
// longest tail that could begin a match waits for the next fragment.
class ReplaceFragmentStep final : public StreamingStep {
 public:
  ReplaceFragmentStep(const std::string& literal, const std::string& content)
      : literal_(literal), content_(content) {}
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    pending_.append(input);
    std::string result;
    size_t previous = 0;
    for (size_t pos = pending_.find(literal_); pos != std::string::npos;
         pos = pending_.find(literal_, previous)) {
      result.append(pending_, previous, pos - previous);
      result.append(content_);
      previous = pos + literal_.size();
    }
    size_t hold = pending_.size();
    for (size_t pos =
             std::max(previous, pending_.size() - std::min(pending_.size(), literal_.size() - 1));
         pos < pending_.size(); ++pos) {
      if (std::string_view(literal_).starts_with(std::string_view(pending_).substr(pos))) {
        hold = pos;
        break;
      }
    }
    result.append(pending_, previous, hold - previous);
    pending_.erase(0, hold);
    if (!result.empty()) out->push_back(std::move(result));
    return absl::OkStatus();
  }
  void Finish(std::vector<std::string>* out) override {
    if (!pending_.empty()) out->push_back(std::move(pending_));
    pending_.clear();
  }

 private:
  const std::string& literal_;  // owned by the decoder; not empty
  const std::string& content_;
  std::string pending_;  // a proper prefix of literal_
};

class ByteFallbackStep final : public StreamingStep {
 public:
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    if (std::optional<uint8_t> byte = ParseByteToken(input)) {
      run_.push_back(static_cast<char>(*byte));
      return absl::OkStatus();
    }
    FlushByteRun(&run_, out);
    out->push_back(std::move(input));
    return absl::OkStatus();
  }
  void Finish(std::vector<std::string>* out) override { FlushByteRun(&run_, out); }

 private:
  std::string run_;  // the bytes of the current run of byte tokens
};

class StripTokenStep final : public StreamingStep {
 public:
  StripTokenStep(const std::string& content, int64_t start, int64_t stop)
      : content_(content), start_(start), stop_(stop) {}
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    out->push_back(StripToken(input, content_, start_, stop_));
    return absl::OkStatus();
  }

 private:
  const std::string& content_;
  int64_t start_;
  int64_t stop_;
};

// Strip on fragments of one token: leading copies are dropped while the token has shown
// nothing else; a trailing run of up to `stop` copies waits, since it may be the end.
class StripFragmentStep final : public StreamingStep {
 public:
  StripFragmentStep(const std::string& content, int64_t start, int64_t stop)
      : content_(content), leading_left_(start), stop_(stop) {}
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    std::string_view rest = input;
    while (leading_left_ > 0 && rest.starts_with(content_)) {
      rest.remove_prefix(content_.size());
      --leading_left_;
    }
    if (rest.empty()) return absl::OkStatus();
    leading_left_ = 0;
    std::string_view body = rest;
    int64_t run = 0;
    while (body.ends_with(content_)) {
      body.remove_suffix(content_.size());
      ++run;
    }
    std::string result;
    if (body.empty()) {
      const int64_t total = held_ + run;
      held_ = std::min(total, stop_);
      AppendCopies(total - held_, &result);
    } else {
      AppendCopies(held_, &result);
      result.append(body);
      held_ = std::min(run, stop_);
      AppendCopies(run - held_, &result);
    }
    if (!result.empty()) out->push_back(std::move(result));
    return absl::OkStatus();
  }

 private:
  void AppendCopies(int64_t count, std::string* result) const {
    for (int64_t i = 0; i < count; ++i) result->append(content_);
  }

  const std::string& content_;
  int64_t leading_left_;  // leading copies that may still be dropped
  int64_t stop_;
  int64_t held_ = 0;  // trailing copies held back (at most stop_)
};

// Metaspace on tokens (the first token is the first input) or on fragments of one token
// (all of them belong to the first token).
class MetaspaceStep final : public StreamingStep {
 public:
  MetaspaceStep(const std::string& replacement, bool drop_in_first, bool joined)
      : replacement_(replacement), drop_in_first_(drop_in_first), joined_(joined) {}
  absl::Status Push(std::string input, std::vector<std::string>* out) override {
    const bool drop = drop_in_first_ && first_;
    if (!joined_) first_ = false;
    out->push_back(ReplaceLiteral(input, replacement_, drop ? "" : " "));
    return absl::OkStatus();
  }

 private:
  const std::string& replacement_;
  bool drop_in_first_;
  bool joined_;
  bool first_ = true;
};

// ---- Decoders ----

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

  bool AppendStreamingSteps(bool* joined,
                            std::vector<std::unique_ptr<StreamingStep>>* steps) const override {
    for (const auto& step : steps_) {
      if (!step->AppendStreamingSteps(joined, steps)) return false;
    }
    return true;
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

  bool AppendStreamingSteps(bool* joined,
                            std::vector<std::unique_ptr<StreamingStep>>* steps) const override {
    if (*joined) return false;  // whether the one token maps is known only at its end
    steps->push_back(std::make_unique<ByteLevelStep>());
    *joined = true;
    return true;
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  // `literal` is set when the pattern is a String.
  ReplaceDecoder(Pattern pattern, std::optional<std::string> literal, std::string content)
      : pattern_(std::move(pattern)), literal_(std::move(literal)), content_(std::move(content)) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& token : *tokens) {
      absl::StatusOr<std::string> replaced = ReplaceMatches(pattern_, content_, std::move(token));
      if (!replaced.ok()) return replaced.status();
      token = *std::move(replaced);
    }
    return absl::OkStatus();
  }

  bool AppendStreamingSteps(bool* joined,
                            std::vector<std::unique_ptr<StreamingStep>>* steps) const override {
    if (!*joined) {
      steps->push_back(std::make_unique<ReplaceTokenStep>(pattern_, content_));
      return true;
    }
    if (!literal_.has_value() || literal_->empty()) return false;
    steps->push_back(std::make_unique<ReplaceFragmentStep>(*literal_, content_));
    return true;
  }

 private:
  Pattern pattern_;
  std::optional<std::string> literal_;
  std::string content_;
};

// Replaces runs of <0xXX> tokens by the text they encode; a run that is not valid UTF-8
// becomes one U+FFFD per byte, as in tokenizers.
class ByteFallbackDecoder final : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> result;
    result.reserve(tokens->size());
    std::string run;
    for (std::string& token : *tokens) {
      if (std::optional<uint8_t> byte = ParseByteToken(token)) {
        run.push_back(static_cast<char>(*byte));
        continue;
      }
      FlushByteRun(&run, &result);
      result.push_back(std::move(token));
    }
    FlushByteRun(&run, &result);
    *tokens = std::move(result);
    return absl::OkStatus();
  }

  bool AppendStreamingSteps(bool* joined,
                            std::vector<std::unique_ptr<StreamingStep>>* steps) const override {
    if (*joined) return false;  // whether the one token is "<0xXX>" is known only at its end
    steps->push_back(std::make_unique<ByteFallbackStep>());
    return true;
  }
};

class FuseDecoder final : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    tokens->assign(1, absl::StrJoin(*tokens, ""));
    return absl::OkStatus();
  }

  // Fragments of the joined token are the tokens themselves: no step, just the join.
  bool AppendStreamingSteps(bool* joined,
                            std::vector<std::unique_ptr<StreamingStep>>* /*steps*/) const override {
    *joined = true;
    return true;
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character per token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(std::string content, int64_t start, int64_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& token : *tokens) token = StripToken(token, content_, start_, stop_);
    return absl::OkStatus();
  }

  bool AppendStreamingSteps(bool* joined,
                            std::vector<std::unique_ptr<StreamingStep>>* steps) const override {
    if (*joined) {
      steps->push_back(std::make_unique<StripFragmentStep>(content_, start_, stop_));
    } else {
      steps->push_back(std::make_unique<StripTokenStep>(content_, start_, stop_));
    }
    return true;
  }

 private:
  std::string content_;  // exactly one character
  int64_t start_;
  int64_t stop_;
};

// The replacement character back to ' '; in the first token it is dropped instead,
// unless the prepend scheme is "never" (so the space that encoding prepended goes).
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool drop_in_first)
      : replacement_(std::move(replacement)), drop_in_first_(drop_in_first) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string& token = (*tokens)[i];
      token = ReplaceLiteral(token, replacement_, i == 0 && drop_in_first_ ? "" : " ");
    }
    return absl::OkStatus();
  }

  bool AppendStreamingSteps(bool* joined,
                            std::vector<std::unique_ptr<StreamingStep>>* steps) const override {
    steps->push_back(std::make_unique<MetaspaceStep>(replacement_, drop_in_first_, *joined));
    return true;
  }

 private:
  std::string replacement_;  // exactly one character
  bool drop_in_first_;
};

absl::StatusOr<std::unique_ptr<Decoder>> MakeReplace(const json& config,
                                                     const JsonLocation& where) {
  absl::StatusOr<const json*> pattern_json = RequireMember(config, "pattern", where);
  if (!pattern_json.ok()) return pattern_json.status();
  absl::StatusOr<Pattern> pattern = Pattern::FromJson(**pattern_json, where.Key("pattern"));
  if (!pattern.ok()) return pattern.status();
  std::optional<std::string> literal;
  if (const json* string = FindMember(**pattern_json, "String"); string != nullptr) {
    absl::StatusOr<std::string> text = AsString(*string, where.Key("pattern").Key("String"));
    if (!text.ok()) return text.status();
    literal = *std::move(text);
  }
  absl::StatusOr<std::string> content = RequireString(config, "content", where);
  if (!content.ok()) return content.status();
  return std::make_unique<ReplaceDecoder>(*std::move(pattern), std::move(literal),
                                          *std::move(content));
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

absl::StatusOr<std::unique_ptr<Decoder>> MakeMetaspace(const json& config,
                                                       const JsonLocation& where) {
  absl::StatusOr<MetaspaceConfig> parsed = MetaspaceConfigFromJson(config, where);
  if (!parsed.ok()) return parsed.status();
  return std::make_unique<MetaspaceDecoder>(std::move(parsed->replacement),
                                            parsed->prepend_scheme != PrependScheme::kNever);
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
  if (*type == "Metaspace") return MakeMetaspace(config, where);
  return where.Key("type").Error(absl::StrCat(
      "unsupported decoder \"", *type,
      "\" (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)"));
}

DecoderStream::DecoderStream(const Decoder* decoder) : decoder_(decoder) {
  if (decoder_ == nullptr) {
    steps_.push_back(std::make_unique<JoinWithSpaceStep>());
    return;
  }
  bool joined = false;
  if (!decoder_->AppendStreamingSteps(&joined, &steps_)) {
    steps_.clear();
    incremental_ = false;
  }
}

DecoderStream::~DecoderStream() = default;

absl::Status DecoderStream::Push(std::string token, std::string* text) {
  LOOM_CHECK(!finished_) << "DecoderStream::Push after Finish";
  if (!incremental_) {
    held_tokens_.push_back(std::move(token));
    return absl::OkStatus();
  }
  std::vector<std::string> current;
  current.push_back(std::move(token));
  std::vector<std::string> next;
  for (const std::unique_ptr<StreamingStep>& step : steps_) {
    next.clear();
    for (std::string& input : current) {
      if (absl::Status status = step->Push(std::move(input), &next); !status.ok()) return status;
    }
    current.swap(next);
  }
  for (const std::string& piece : current) text->append(piece);
  return absl::OkStatus();
}

absl::Status DecoderStream::Finish(std::string* text) {
  LOOM_CHECK(!finished_) << "DecoderStream::Finish called twice";
  finished_ = true;
  if (!incremental_) {
    if (absl::Status status = decoder_->DecodeChain(&held_tokens_); !status.ok()) return status;
    for (const std::string& piece : held_tokens_) text->append(piece);
    held_tokens_.clear();
    return absl::OkStatus();
  }
  // Each step first takes what the steps before it released at the end, then ends.
  std::vector<std::string> current;
  std::vector<std::string> next;
  for (const std::unique_ptr<StreamingStep>& step : steps_) {
    next.clear();
    for (std::string& input : current) {
      if (absl::Status status = step->Push(std::move(input), &next); !status.ok()) return status;
    }
    step->Finish(&next);
    current.swap(next);
  }
  for (const std::string& piece : current) text->append(piece);
  return absl::OkStatus();
}

}  // namespace loom::text
