#include "engine/text/bpe_model.h"

#include <cstdio>
#include <queue>

#include "absl/strings/str_cat.h"
#include "engine/text/string_view_compat.h"
#include "engine/text/utf8.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;

// Ids must be dense enough that a direct id -> token table stays small.
constexpr size_t kMaxIdSlack = 1 << 16;

// One symbol of a word being merged: a doubly linked list over a vector.
struct Symbol {
  TokenId id;
  int32_t prev;
  int32_t next;
  bool alive;
};

// A possible merge of the symbol at `pos` with its successor.
struct Candidate {
  uint32_t rank;
  int32_t pos;
  TokenId new_id;
  // Orders the priority queue so that the lowest rank, then the leftmost pos, is on top.
  bool operator>(const Candidate& other) const {
    return rank != other.rank ? rank > other.rank : pos > other.pos;
  }
};

}  // namespace

std::optional<BpeMerge> ParseMergeLine(std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return BpeMerge{std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
}

namespace {

absl::StatusOr<std::vector<std::pair<std::string, TokenId>>> VocabFromJson(
    const json& vocab, const JsonLocation& where) {
  if (!vocab.is_object()) {
    return where.Error(
        absl::StrCat("expected an object of token -> id, got ", JsonTypeName(vocab)));
  }
  std::vector<std::pair<std::string, TokenId>> entries;
  entries.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    absl::StatusOr<TokenId> id = AsTokenId(it.value(), where.Key(it.key()));
    if (!id.ok()) return id.status();
    entries.emplace_back(it.key(), *id);
  }
  return entries;
}

absl::StatusOr<std::vector<BpeMerge>> MergesFromJson(const json& merges,
                                                     const JsonLocation& where) {
  if (!merges.is_array()) {
    return where.Error(absl::StrCat("expected an array, got ", JsonTypeName(merges)));
  }
  std::vector<BpeMerge> entries;
  entries.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json& entry = merges[rank];
    if (entry.is_string()) {
      std::optional<BpeMerge> merge = ParseMergeLine(entry.get_ref<const std::string&>());
      if (!merge.has_value()) {
        return where.Index(rank).Error(
            absl::StrCat("expected \"left right\" with one space, got \"",
                         entry.get_ref<const std::string&>(), "\""));
      }
      entries.push_back(*std::move(merge));
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      entries.push_back({entry[0].get<std::string>(), entry[1].get<std::string>()});
    } else {
      return where.Index(rank).Error("expected \"left right\" or [\"left\", \"right\"]");
    }
  }
  return entries;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(const json& config,
                                                             const JsonLocation& where,
                                                             BpeTables tables) {
  if (absl::Status status = RequireObject(config, where); !status.ok()) return status;
  absl::StatusOr<std::optional<std::string>> type = OptionalString(config, "type", where);
  if (!type.ok()) return type.status();
  if (type->has_value() && **type != "BPE") {
    return where.Key("type").Error(
        absl::StrCat("unsupported model type \"", **type, "\" (supported: BPE)"));
  }
  if (const json* dropout = FindMember(config, "dropout");
      dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    return where.Key("dropout").Error("BPE dropout is not supported (must be null or 0)");
  }

  auto model = std::unique_ptr<BpeModel>(new BpeModel());
  absl::StatusOr<std::optional<std::string>> unk = OptionalString(config, "unk_token", where);
  if (!unk.ok()) return unk.status();
  model->unk_token_ = *std::move(unk);
  absl::StatusOr<std::optional<std::string>> prefix =
      OptionalString(config, "continuing_subword_prefix", where);
  if (!prefix.ok()) return prefix.status();
  model->continuing_subword_prefix_ = prefix->value_or("");
  absl::StatusOr<std::optional<std::string>> suffix =
      OptionalString(config, "end_of_word_suffix", where);
  if (!suffix.ok()) return suffix.status();
  model->end_of_word_suffix_ = suffix->value_or("");
  absl::StatusOr<bool> fuse_unk = OptionalBool(config, "fuse_unk", false, where);
  if (!fuse_unk.ok()) return fuse_unk.status();
  model->fuse_unk_ = *fuse_unk;
  absl::StatusOr<bool> byte_fallback = OptionalBool(config, "byte_fallback", false, where);
  if (!byte_fallback.ok()) return byte_fallback.status();
  model->byte_fallback_ = *byte_fallback;
  absl::StatusOr<bool> ignore_merges = OptionalBool(config, "ignore_merges", false, where);
  if (!ignore_merges.ok()) return ignore_merges.status();
  model->ignore_merges_ = *ignore_merges;

  if (!tables.vocab.has_value()) {
    absl::StatusOr<const json*> vocab = RequireMember(config, "vocab", where);
    if (!vocab.ok()) return vocab.status();
    auto entries = VocabFromJson(**vocab, where.Key("vocab"));
    if (!entries.ok()) return entries.status();
    tables.vocab = *std::move(entries);
  }
  if (!tables.merges.has_value()) {
    absl::StatusOr<const json*> merges = RequireMember(config, "merges", where);
    if (!merges.ok()) return merges.status();
    auto entries = MergesFromJson(**merges, where.Key("merges"));
    if (!entries.ok()) return entries.status();
    tables.merges = *std::move(entries);
  }
  if (absl::Status status = model->LoadVocab(*std::move(tables.vocab), where.Key("vocab"));
      !status.ok()) {
    return status;
  }
  if (absl::Status status = model->LoadMerges(*tables.merges, where.Key("merges")); !status.ok()) {
    return status;
  }

  if (model->byte_fallback_) {
    model->byte_tokens_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (std::optional<TokenId> id = model->TokenToId(name)) model->byte_tokens_[b] = *id;
    }
  }
  return model;
}

absl::Status BpeModel::LoadVocab(std::vector<std::pair<std::string, TokenId>> vocab,
                                 const JsonLocation& where) {
  vocab_.reserve(vocab.size());
  TokenId max_id = -1;
  for (auto& [token, id] : vocab) {
    max_id = std::max(max_id, id);
    vocab_.insert_or_assign(std::move(token), id);
  }
  if (static_cast<size_t>(max_id) + 1 > 2 * vocab_.size() + kMaxIdSlack) {
    return where.Error(
        absl::StrCat("ids are too sparse: ", vocab_.size(), " tokens with ids up to ", max_id));
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [token, id] : vocab_) {
    if (!id_to_token_[id].has_value()) id_to_token_[id] = token;
  }
  return absl::OkStatus();
}

absl::Status BpeModel::LoadMerges(const std::vector<BpeMerge>& merges, const JsonLocation& where) {
  merges_.reserve(merges.size());
  const size_t prefix_length = continuing_subword_prefix_.size();
  std::string merged;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& left = merges[rank].left;
    const std::string& right = merges[rank].right;
    const std::optional<TokenId> left_id = TokenToId(left);
    const std::optional<TokenId> right_id = TokenToId(right);
    if (!left_id.has_value() || !right_id.has_value()) {
      return where.Index(rank).Error(absl::StrCat("token \"", left_id.has_value() ? right : left,
                                                  "\" is not in the vocabulary"));
    }
    if (right.size() < prefix_length) {
      return where.Index(rank).Error(
          absl::StrCat("token \"", right, "\" is shorter than the continuing prefix"));
    }
    merged.assign(left);
    merged.append(right, prefix_length);
    const std::optional<TokenId> new_id = TokenToId(merged);
    if (!new_id.has_value()) {
      return where.Index(rank).Error(
          absl::StrCat("merged token \"", merged, "\" is not in the vocabulary"));
    }
    merges_[PairKey(*left_id, *right_id)] = Merge{static_cast<uint32_t>(rank), *new_id};
  }
  return absl::OkStatus();
}

std::optional<TokenId> BpeModel::TokenToId(std::string_view token) const {
  const auto it = vocab_.find(ToAbsl(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(TokenId id) const {
  if (id < 0 || id >= id_limit() || !id_to_token_[id].has_value()) return nullptr;
  return &*id_to_token_[id];
}

absl::Status BpeModel::Tokenize(std::string_view word, std::vector<TokenId>* ids) const {
  if (word.empty()) return absl::OkStatus();
  if (ignore_merges_) {
    if (const auto it = vocab_.find(ToAbsl(word)); it != vocab_.end()) {
      ids->push_back(it->second);
      return absl::OkStatus();
    }
  }
  std::vector<TokenId> symbols;
  if (absl::Status status = InitialSymbols(word, &symbols); !status.ok()) return status;
  MergeAll(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  return absl::OkStatus();
}

absl::Status BpeModel::InitialSymbols(std::string_view word, std::vector<TokenId>* symbols) const {
  symbols->reserve(word.size());
  TokenId pending_unk = -1;  // an unk run not yet emitted (fuse_unk extends it), or -1
  std::string decorated;
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t begin = pos;
    pos += Utf8SequenceLength(word, pos);
    std::string_view piece = word.substr(begin, pos - begin);
    const bool add_prefix = begin != 0 && !continuing_subword_prefix_.empty();
    const bool add_suffix = pos == word.size() && !end_of_word_suffix_.empty();
    if (add_prefix || add_suffix) {
      decorated = absl::StrCat(add_prefix ? continuing_subword_prefix_ : "", ToAbsl(piece),
                               add_suffix ? end_of_word_suffix_ : "");
      piece = decorated;
    }
    if (const auto it = vocab_.find(ToAbsl(piece)); it != vocab_.end()) {
      if (pending_unk >= 0) symbols->push_back(pending_unk);
      pending_unk = -1;
      symbols->push_back(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (const char c : piece) all_bytes_known &= byte_tokens_[static_cast<uint8_t>(c)] >= 0;
      if (all_bytes_known) {
        // As in tokenizers, a pending unk is not flushed here; it follows these bytes.
        for (const char c : piece) symbols->push_back(byte_tokens_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (!unk_token_.has_value()) continue;  // no unk token: the character is dropped
    const std::optional<TokenId> unk_id = TokenToId(*unk_token_);
    if (!unk_id.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unk_token \"", *unk_token_, "\" is not in the BPE vocabulary"));
    }
    if (pending_unk >= 0 && !fuse_unk_) symbols->push_back(pending_unk);
    pending_unk = *unk_id;
  }
  if (pending_unk >= 0) symbols->push_back(pending_unk);
  return absl::OkStatus();
}

void BpeModel::MergeAll(std::vector<TokenId>* ids) const {
  const size_t n = ids->size();
  if (n < 2 || merges_.empty()) return;
  std::vector<Symbol> symbols(n);
  for (size_t i = 0; i < n; ++i) {
    symbols[i] = Symbol{(*ids)[i], static_cast<int32_t>(i) - 1,
                        i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push_candidate = [&](int32_t pos) {
    const Symbol& left = symbols[pos];
    if (left.next < 0) return;
    const auto it = merges_.find(PairKey(left.id, symbols[left.next].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.new_id});
  };
  for (size_t i = 0; i + 1 < n; ++i) push_candidate(static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    // A stale entry: one side has merged since it was queued.
    const auto it = merges_.find(PairKey(left.id, symbols[left.next].id));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;

    Symbol& right = symbols[left.next];
    right.alive = false;
    left.id = top.new_id;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) push_candidate(left.prev);
    push_candidate(top.pos);
  }
  ids->clear();
  for (const Symbol& symbol : symbols) {
    if (symbol.alive) ids->push_back(symbol.id);
  }
}

}  // namespace loom::text
