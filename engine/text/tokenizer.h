// A Hugging Face `tokenizer.json` tokenizer: text <-> token ids.
//
// Supported today: byte-level BPE as used by Llama 3, Qwen2/3, DeepSeek-V3 and GPT-2-style
// models, and SentencePiece-style BPE as used by Llama 2, Mistral and other SentencePiece
// conversions (byte_fallback, the Prepend/Replace normalizers, the Metaspace
// pre-tokenizer, the Replace/ByteFallback/Fuse/Strip/Metaspace decoders). Anything the
// file asks for that is not supported fails Load() with an error naming the file and the
// key, never a silent mis-tokenization. See engine/text/*.h for each component, and
// engine/text/detokenizer.h for decoding while the ids stream in.
//
// Encoding runs tokenizers' pipeline: added tokens are matched in the raw text
// (leftmost-longest, honoring lstrip/rstrip/single_word/normalized; special tokens too,
// unless tokenizer_config.json sets split_special_tokens); the rest is normalized,
// searched for normalized added tokens, pre-tokenized, and encoded word by word by the
// BPE model; then, with add_special_tokens, the post-processor and tokenizer_config.json's
// add_bos_token / add_eos_token add their tokens (each BOS/EOS at most once).
//
// Thread-safety: immutable after Load()/FromJson(); every const method may be called
// concurrently from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/token_id.h"

namespace loom {
namespace text {
class AddedVocabulary;
class BpeModel;
class Decoder;
class DecoderStream;
class Normalizer;
class PostProcessor;
class PreTokenizer;
}  // namespace text

class Tokenizer {
 public:
  // Loads `dir`/tokenizer.json and, when present, `dir`/tokenizer_config.json.
  // Errors: NotFound when tokenizer.json cannot be read; InvalidArgument naming the file
  // and the offending key for bad JSON or unsupported contents (model type, normalizer,
  // pre-tokenizer, post-processor, decoder), or a bos/eos token not in the vocabulary.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::filesystem::path& dir);

  // As Load(), from in-memory JSON. `tokenizer_config_json` may be empty. Errors name
  // `source`/tokenizer.json or `source`/tokenizer_config.json.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view tokenizer_json,
                                                             std::string_view tokenizer_config_json,
                                                             std::string_view source);

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  // The ids of `text`; with `add_special_tokens`, also the post-processor's special tokens
  // (e.g. BOS). Errors: InvalidArgument if `text` is not valid UTF-8 (naming the byte
  // offset); InvalidArgument if the BPE model needs an unk token that is not in its
  // vocabulary; ResourceExhausted if a pre-tokenizer regex hits PCRE2's limits.
  absl::StatusOr<std::vector<TokenId>> Encode(std::string_view text, bool add_special_tokens) const;

  // The text of `ids`: added tokens decode to their content (through the decoder, as in
  // tokenizers), special ones are dropped with `skip_special_tokens`, ids without a token
  // are skipped, and bytes that do not form valid UTF-8 become U+FFFD.
  // Errors: InvalidArgument naming the first id < 0 or >= vocab_size().
  absl::StatusOr<std::string> Decode(std::span<const TokenId> ids, bool skip_special_tokens) const;

  // The token string that Decode() hands to the decoder for `id`: an added token's
  // content, else the model's token; nullptr when Decode() leaves `id` out (a special
  // token with `skip_special_tokens`, or an id with no token). The string lives as long as
  // the tokenizer. Errors: InvalidArgument for an id < 0 or >= vocab_size().
  absl::StatusOr<const std::string*> TokenForDecode(TokenId id, bool skip_special_tokens) const;

  // A new incremental form of this tokenizer's decoder (see text::DecoderStream): fed the
  // TokenForDecode() strings of some ids, it yields exactly Decode() of those ids. It
  // refers to the tokenizer, which must outlive it.
  std::unique_ptr<text::DecoderStream> NewDecoderStream() const;

  // The largest id of the model vocabulary and the added tokens, plus one.
  int32_t vocab_size() const { return vocab_size_; }

  // The id of `token` (an added token's content or a model token, in byte-level form for
  // byte-level models: "Ġthe"), or nullopt.
  std::optional<TokenId> TokenToId(std::string_view token) const;
  // The token string of `id` (added tokens first), or nullopt.
  std::optional<std::string> IdToToken(TokenId id) const;
  // Whether `id` is an added token marked special.
  bool IsSpecial(TokenId id) const;
  // Every id in [0, vocab_size()) that IsSpecial(), ascending. O(vocab_size()).
  std::vector<TokenId> SpecialTokenIds() const;

  // tokenizer_config.json's bos_token / eos_token, resolved to ids; nullopt when unset.
  std::optional<TokenId> bos_token_id() const { return bos_token_id_; }
  std::optional<TokenId> eos_token_id() const { return eos_token_id_; }

 private:
  Tokenizer();

  std::unique_ptr<text::Normalizer> normalizer_;       // may be null
  std::unique_ptr<text::PreTokenizer> pre_tokenizer_;  // may be null
  std::unique_ptr<text::BpeModel> model_;
  std::unique_ptr<text::PostProcessor> post_processor_;  // may be null
  std::unique_ptr<text::Decoder> decoder_;               // may be null: join with " "
  std::unique_ptr<text::AddedVocabulary> added_vocabulary_;
  std::optional<TokenId> bos_token_id_;
  std::optional<TokenId> eos_token_id_;
  bool prepend_bos_ = false;  // add_bos_token and the post-processor does not add it
  bool append_eos_ = false;   // add_eos_token and the post-processor does not add it
  int32_t vocab_size_ = 0;
};

}  // namespace loom
