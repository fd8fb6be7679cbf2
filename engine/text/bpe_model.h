// The BPE model of a Hugging Face tokenizer.json ("model": {"type": "BPE", ...}).
//
// Encodes one pre-token ("word") at a time, as tokenizers' BPE::tokenize does:
//  - with `ignore_merges`, a word that is itself in the vocabulary is emitted whole;
//  - otherwise the word starts as one symbol per character (with
//    `continuing_subword_prefix` on all but the first and `end_of_word_suffix` on the
//    last); characters missing from the vocabulary become `<0xXX>` byte tokens with
//    `byte_fallback`, else the unk token (fused when `fuse_unk`), else are dropped;
//  - then adjacent pairs are merged lowest merge rank first (ties: leftmost first) with
//    a priority queue, so a word of n characters costs O(n log n), not O(n^2).
// Merges may be "a b" strings or ["a", "b"] pairs. As in tokenizers, a pair listed twice
// keeps the rank of its last listing. `dropout` must be null or 0.
//
// Thread-safety: immutable after FromJson(); Tokenize() may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "engine/text/token_id.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

// One merge rule: the pair of tokens it joins.
struct BpeMerge {
  std::string left;
  std::string right;
};

// Splits a merge written as "left right" (exactly one space); nullopt otherwise.
std::optional<BpeMerge> ParseMergeLine(std::string_view line);

// The vocabulary and the merges (in rank order) of a BPE model as flat lists. A reader
// that streams tokenizer.json fills them instead of building a DOM of a million nodes;
// what is left unset is read from the "model" object.
struct BpeTables {
  std::optional<std::vector<std::pair<std::string, TokenId>>> vocab;
  std::optional<std::vector<BpeMerge>> merges;
};

class BpeModel {
 public:
  // Builds the model from the tokenizer.json "model" object `config` at `where`, taking
  // the vocabulary and merges from `tables` where set, else from `config`. Errors name
  // the offending key: an unsupported type, a missing or malformed vocab or merges, a
  // merge whose parts or result are not in the vocabulary.
  static absl::StatusOr<std::unique_ptr<BpeModel>> FromJson(const nlohmann::json& config,
                                                            const JsonLocation& where,
                                                            BpeTables tables = {});

  // Appends the ids of `word`. REQUIRES: `word` is valid UTF-8.
  // Errors: InvalidArgument when the unk token is needed but is not in the vocabulary.
  absl::Status Tokenize(std::string_view word, std::vector<TokenId>* ids) const;

  std::optional<TokenId> TokenToId(std::string_view token) const;
  // The token of `id`, or nullptr when the vocabulary has no such id. The pointer lives as
  // long as the model.
  const std::string* IdToToken(TokenId id) const;
  // The largest id in the vocabulary plus one (0 for an empty vocabulary).
  int32_t id_limit() const { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  struct Merge {
    uint32_t rank;
    TokenId new_id;
  };
  static uint64_t PairKey(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  BpeModel() = default;
  absl::Status LoadVocab(std::vector<std::pair<std::string, TokenId>> vocab,
                         const JsonLocation& where);
  absl::Status LoadMerges(const std::vector<BpeMerge>& merges, const JsonLocation& where);
  // Appends the initial symbols of `word` (before any merge) to `symbols`.
  absl::Status InitialSymbols(std::string_view word, std::vector<TokenId>* symbols) const;
  // Merges `symbols` in place by rank.
  void MergeAll(std::vector<TokenId>* symbols) const;

  absl::flat_hash_map<std::string, TokenId> vocab_;
  std::vector<std::optional<std::string>> id_to_token_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  std::optional<std::string> unk_token_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  // The vocabulary's <0x00>..<0xFF> tokens when byte_fallback is set (-1 where missing).
  std::vector<TokenId> byte_tokens_;
};

}  // namespace loom::text
