// Added tokens (tokenizer.json "added_tokens"): strings matched in the input before the
// model sees it, each encoded as one fixed id.
//
// Matching follows tokenizers' AddedVocabulary:
//  - tokens with `normalized: false` are matched in the raw input, the others in the
//    normalized text (their contents are normalized too, at construction);
//  - matching is leftmost-longest and non-overlapping, like its Aho-Corasick automaton;
//  - a `single_word` token only matches between non-word characters (\w: alphanumeric,
//    marks, connector punctuation); `lstrip` / `rstrip` make the match swallow the
//    Unicode whitespace before / after it;
//  - special tokens are always matched unless `split_special_tokens` is set.
//
// Thread-safety: immutable after Create(); all methods may run concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "engine/text/normalizer.h"
#include "engine/text/token_id.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = true;
};

// Parses the tokenizer.json "added_tokens" array at `where`.
absl::StatusOr<std::vector<AddedToken>> AddedTokensFromJson(const nlohmann::json& list,
                                                            const JsonLocation& where);

// A piece of text, or an added token matched there.
struct TextSegment {
  std::string_view text;      // the piece (for a token: the matched span, with any strip)
  std::optional<TokenId> id;  // set when the piece is an added token
};

class AddedVocabulary {
 public:
  struct Options {
    // Leave special tokens unmatched (tokenizer_config.json "split_special_tokens").
    bool split_special_tokens = false;
  };

  // Builds the vocabulary. `normalizer` (may be null; not retained) normalizes the
  // contents of normalized tokens. Empty contents are ignored, as in tokenizers.
  // Errors: those of the normalizer.
  static absl::StatusOr<AddedVocabulary> Create(std::vector<AddedToken> tokens,
                                                const Normalizer* normalizer, Options options);

  AddedVocabulary(AddedVocabulary&&) noexcept;
  AddedVocabulary& operator=(AddedVocabulary&&) noexcept;
  ~AddedVocabulary();

  // Appends `text` cut into segments at the tokens matched in raw (`normalized` false) or
  // in normalized text (true). Segments cover `text` in order and point into it; none is
  // empty. REQUIRES: `text` is valid UTF-8.
  void Split(std::string_view text, bool normalized, std::vector<TextSegment>* segments) const;

  // The added token with this id or content, or nullptr.
  const AddedToken* FindById(TokenId id) const;
  const AddedToken* FindByContent(std::string_view content) const;

  // The largest added id plus one (0 when there are none).
  int32_t id_limit() const { return id_limit_; }

 private:
  class Trie;
  AddedVocabulary();

  std::vector<AddedToken> tokens_;
  absl::flat_hash_map<TokenId, size_t> index_by_id_;
  absl::flat_hash_map<std::string, size_t> index_by_content_;
  std::unique_ptr<Trie> raw_trie_;         // tokens with normalized == false
  std::unique_ptr<Trie> normalized_trie_;  // tokens with normalized == true
  int32_t id_limit_ = 0;
  bool split_special_tokens_ = false;
};

}  // namespace loom::text
