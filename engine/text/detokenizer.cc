#include "engine/text/detokenizer.h"

#include <utility>

#include "engine/text/decoder.h"
#include "engine/text/utf8.h"
#include "kernels/check.h"

namespace loom {

absl::StatusOr<Detokenizer> Detokenizer::Create(const Tokenizer& tokenizer,
                                                bool skip_special_tokens,
                                                std::span<const TokenId> prompt_ids) {
  Detokenizer detokenizer(tokenizer, skip_special_tokens, tokenizer.NewDecoderStream());
  if (prompt_ids.empty()) return detokenizer;
  // The stream releases a prefix of Decode(prompt ++ anything); what Decode(prompt) shows
  // beyond that prefix is remembered so that it is not streamed a second time.
  std::string released;
  for (const TokenId id : prompt_ids) {
    absl::StatusOr<const std::string*> token = tokenizer.TokenForDecode(id, skip_special_tokens);
    if (!token.ok()) return token.status();
    if (*token == nullptr) continue;
    if (absl::Status status = detokenizer.stream_->Push(**token, &released); !status.ok()) {
      return status;
    }
  }
  absl::StatusOr<std::string> prompt_text = tokenizer.Decode(prompt_ids, skip_special_tokens);
  if (!prompt_text.ok()) return prompt_text.status();
  detokenizer.shown_ = prompt_text->substr(released.size());
  return detokenizer;
}

Detokenizer::Detokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                         std::unique_ptr<text::DecoderStream> stream)
    : tokenizer_(&tokenizer),
      skip_special_tokens_(skip_special_tokens),
      stream_(std::move(stream)) {}

Detokenizer::Detokenizer(Detokenizer&&) noexcept = default;
Detokenizer& Detokenizer::operator=(Detokenizer&&) noexcept = default;
Detokenizer::~Detokenizer() = default;

absl::StatusOr<std::string> Detokenizer::Push(TokenId id) {
  absl::StatusOr<const std::string*> token = tokenizer_->TokenForDecode(id, skip_special_tokens_);
  if (!token.ok()) return token.status();
  if (*token == nullptr) return std::string();
  std::string text;
  if (absl::Status status = stream_->Push(**token, &text); !status.ok()) return status;
  return AfterShownPrompt(std::move(text));
}

absl::StatusOr<std::string> Detokenizer::Finish() {
  std::string text;
  if (absl::Status status = stream_->Finish(&text); !status.ok()) return status;
  return AfterShownPrompt(std::move(text));
}

std::string Detokenizer::AfterShownPrompt(std::string text) {
  if (diverged_ || shown_matched_ == shown_.size()) return text;
  // Both strings are valid UTF-8 and start on a character boundary: compare characters.
  size_t pos = 0;
  while (pos < text.size() && shown_matched_ < shown_.size()) {
    const size_t length = text::Utf8SequenceLength(text, pos);
    LOOM_CHECK(length > 0) << "the decoder stream released invalid UTF-8 at byte " << pos;
    if (std::string_view(text).substr(pos, length) !=
        std::string_view(shown_).substr(shown_matched_, length)) {
      diverged_ = true;
      break;
    }
    pos += length;
    shown_matched_ += length;
  }
  return text.substr(pos);
}

}  // namespace loom
