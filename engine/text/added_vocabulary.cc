#include "engine/text/added_vocabulary.h"

#include <unicode/uchar.h>

#include <bitset>

#include "absl/strings/str_cat.h"
#include "engine/text/string_view_compat.h"
#include "engine/text/utf8.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

// Rust regex's Unicode \w, which tokenizers uses for single_word.
bool IsWordCharacter(char32_t c) {
  const auto cp = static_cast<UChar32>(c);
  constexpr uint32_t kWordCategories = U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK;
  return u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || (U_GET_GC_MASK(cp) & kWordCategories) != 0 ||
         u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL);
}

// Rust's \s and char::is_whitespace: the White_Space property.
bool IsWhitespace(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

// Offset of the last character of `text`. REQUIRES: `text` is non-empty valid UTF-8.
size_t LastCharacterStart(std::string_view text) {
  size_t pos = text.size() - 1;
  while (pos > 0 && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

bool EndsWithWord(std::string_view text) {
  if (text.empty()) return false;
  size_t pos = LastCharacterStart(text);
  return IsWordCharacter(DecodeUtf8(text, &pos));
}

bool StartsWithWord(std::string_view text) {
  if (text.empty()) return false;
  size_t pos = 0;
  return IsWordCharacter(DecodeUtf8(text, &pos));
}

// Where the run of whitespace that ends `text` begins.
size_t TrailingWhitespaceStart(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t pos = LastCharacterStart(text.substr(0, end));
    const size_t start = pos;
    if (!IsWhitespace(DecodeUtf8(text, &pos))) break;
    end = start;
  }
  return end;
}

// Length of the run of whitespace that starts `text`.
size_t LeadingWhitespaceLength(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!IsWhitespace(DecodeUtf8(text, &next))) break;
    pos = next;
  }
  return pos;
}

}  // namespace

// A byte trie over token contents that finds leftmost-longest, non-overlapping matches.
class AddedVocabulary::Trie {
 public:
  struct Match {
    size_t begin;
    size_t end;
    size_t token;  // index into the vocabulary's tokens_
  };

  void Insert(std::string_view pattern, size_t token) {
    int32_t node = 0;
    for (const char c : pattern) {
      const auto byte = static_cast<uint8_t>(c);
      const uint64_t key = EdgeKey(node, byte);
      const auto it = edges_.find(key);
      if (it != edges_.end()) {
        node = it->second;
      } else {
        const auto child = static_cast<int32_t>(terminal_.size());
        terminal_.push_back(-1);
        edges_.emplace(key, child);
        node = child;
      }
    }
    first_bytes_.set(static_cast<uint8_t>(pattern.front()));
    terminal_[node] = static_cast<int64_t>(token);
  }

  bool empty() const { return first_bytes_.none(); }

  std::vector<Match> FindAll(std::string_view text) const {
    std::vector<Match> matches;
    size_t pos = 0;
    while (pos < text.size()) {
      if (!first_bytes_.test(static_cast<uint8_t>(text[pos]))) {
        ++pos;
        continue;
      }
      int32_t node = 0;
      size_t best_end = 0;
      int64_t best_token = -1;
      for (size_t i = pos; i < text.size(); ++i) {
        const auto it = edges_.find(EdgeKey(node, static_cast<uint8_t>(text[i])));
        if (it == edges_.end()) break;
        node = it->second;
        if (terminal_[node] >= 0) {
          best_end = i + 1;
          best_token = terminal_[node];
        }
      }
      if (best_token < 0) {
        ++pos;
        continue;
      }
      matches.push_back({pos, best_end, static_cast<size_t>(best_token)});
      pos = best_end;
    }
    return matches;
  }

 private:
  static uint64_t EdgeKey(int32_t node, uint8_t byte) {
    return (static_cast<uint64_t>(node) << 8) | byte;
  }

  absl::flat_hash_map<uint64_t, int32_t> edges_;  // (node, byte) -> child
  std::vector<int64_t> terminal_{-1};             // node -> token index or -1; root is 0
  std::bitset<256> first_bytes_;
};

absl::StatusOr<std::vector<AddedToken>> AddedTokensFromJson(const json& list,
                                                            const JsonLocation& where) {
  if (!list.is_array()) {
    return where.Error(absl::StrCat("expected an array, got ", JsonTypeName(list)));
  }
  std::vector<AddedToken> tokens;
  tokens.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const json& entry = list[i];
    const JsonLocation at = where.Index(i);
    if (absl::Status status = RequireObject(entry, at); !status.ok()) return status;
    AddedToken token;
    absl::StatusOr<const json*> id = RequireMember(entry, "id", at);
    if (!id.ok()) return id.status();
    absl::StatusOr<TokenId> parsed_id = AsTokenId(**id, at.Key("id"));
    if (!parsed_id.ok()) return parsed_id.status();
    token.id = *parsed_id;
    absl::StatusOr<std::string> content = RequireString(entry, "content", at);
    if (!content.ok()) return content.status();
    token.content = *std::move(content);
    struct Flag {
      std::string_view name;
      bool fallback;
      bool* value;
    };
    // tokenizers' AddedToken defaults: everything false except `normalized`, which
    // defaults to the opposite of `special`.
    absl::StatusOr<bool> special = OptionalBool(entry, "special", false, at);
    if (!special.ok()) return special.status();
    token.special = *special;
    for (const Flag& flag :
         {Flag{"lstrip", false, &token.lstrip}, Flag{"rstrip", false, &token.rstrip},
          Flag{"single_word", false, &token.single_word},
          Flag{"normalized", !token.special, &token.normalized}}) {
      absl::StatusOr<bool> value = OptionalBool(entry, flag.name, flag.fallback, at);
      if (!value.ok()) return value.status();
      *flag.value = *value;
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

AddedVocabulary::AddedVocabulary()
    : raw_trie_(std::make_unique<Trie>()), normalized_trie_(std::make_unique<Trie>()) {}
AddedVocabulary::AddedVocabulary(AddedVocabulary&&) noexcept = default;
AddedVocabulary& AddedVocabulary::operator=(AddedVocabulary&&) noexcept = default;
AddedVocabulary::~AddedVocabulary() = default;

absl::StatusOr<AddedVocabulary> AddedVocabulary::Create(std::vector<AddedToken> tokens,
                                                        const Normalizer* normalizer,
                                                        Options options) {
  AddedVocabulary vocabulary;
  for (AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    const size_t index = vocabulary.tokens_.size();
    vocabulary.id_limit_ = std::max(vocabulary.id_limit_, token.id + 1);
    vocabulary.index_by_id_[token.id] = index;
    vocabulary.index_by_content_[token.content] = index;
    vocabulary.tokens_.push_back(std::move(token));
  }
  for (size_t index = 0; index < vocabulary.tokens_.size(); ++index) {
    const AddedToken& token = vocabulary.tokens_[index];
    // With split_special_tokens, special tokens stay in the tries: tokenizers matches them
    // and then discards the match, so they still hide tokens that overlap them.
    if (!token.normalized) {
      vocabulary.raw_trie_->Insert(token.content, index);
      continue;
    }
    std::string pattern = token.content;
    if (normalizer != nullptr) {
      if (absl::Status status = normalizer->Normalize(&pattern); !status.ok()) return status;
    }
    if (!pattern.empty()) vocabulary.normalized_trie_->Insert(pattern, index);
  }
  vocabulary.split_special_tokens_ = options.split_special_tokens;
  return vocabulary;
}

void AddedVocabulary::Split(std::string_view text, bool normalized,
                            std::vector<TextSegment>* segments) const {
  const Trie& trie = normalized ? *normalized_trie_ : *raw_trie_;
  if (text.empty()) return;
  if (trie.empty()) {
    segments->push_back({text, std::nullopt});
    return;
  }
  size_t start_offset = 0;
  for (const Trie::Match& match : trie.FindAll(text)) {
    const AddedToken& token = tokens_[match.token];
    if (split_special_tokens_ && token.special) continue;
    size_t start = match.begin;
    size_t stop = match.end;
    if (token.single_word) {
      const bool space_before = start == 0 || !EndsWithWord(text.substr(0, start));
      const bool space_after = stop == text.size() || !StartsWithWord(text.substr(stop));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      // Whitespace already swallowed by the previous match stays with it.
      start = std::max(TrailingWhitespaceStart(text.substr(0, start)), start_offset);
    }
    if (token.rstrip) stop += LeadingWhitespaceLength(text.substr(stop));
    // Only reachable when an rstrip swallowed the start of this match; tokenizers would
    // emit overlapping pieces, which we do not.
    if (start < start_offset) continue;
    if (start_offset < start) {
      segments->push_back({text.substr(start_offset, start - start_offset), std::nullopt});
    }
    segments->push_back({text.substr(start, stop - start), token.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) {
    segments->push_back({text.substr(start_offset), std::nullopt});
  }
}

const AddedToken* AddedVocabulary::FindById(TokenId id) const {
  const auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::FindByContent(std::string_view content) const {
  const auto it = index_by_content_.find(ToAbsl(content));
  return it == index_by_content_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace loom::text
