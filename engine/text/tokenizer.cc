#include "engine/text/tokenizer.h"

#include <algorithm>
#include <exception>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/text/added_vocabulary.h"
#include "engine/text/bpe_model.h"
#include "engine/text/decoder.h"
#include "engine/text/json_util.h"
#include "engine/text/normalizer.h"
#include "engine/text/post_processor.h"
#include "engine/text/pre_tokenizer.h"
#include "engine/text/string_view_compat.h"
#include "engine/text/tokenizer_config.h"
#include "engine/text/tokenizer_json.h"
#include "engine/text/utf8.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

using nlohmann::json;
using text::JsonLocation;

// Reads a whole file; NotFound when it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open for reading"));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path.string(), ": read failed"));
  return std::move(contents).str();
}

// Resolves a tokenizer_config.json bos/eos token to an id.
absl::StatusOr<std::optional<TokenId>> ResolveConfigToken(const Tokenizer& tokenizer,
                                                          const std::optional<std::string>& token,
                                                          const JsonLocation& where) {
  if (!token.has_value()) return std::optional<TokenId>();
  const std::optional<TokenId> id = tokenizer.TokenToId(*token);
  if (!id.has_value()) {
    return where.Error(absl::StrCat("token \"", *token, "\" is not in the vocabulary"));
  }
  return id;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::filesystem::path& dir) {
  try {
    absl::StatusOr<std::string> tokenizer_json = ReadFile(dir / "tokenizer.json");
    if (!tokenizer_json.ok()) return tokenizer_json.status();
    std::string config_json;
    const std::filesystem::path config_path = dir / "tokenizer_config.json";
    std::error_code error;
    if (std::filesystem::exists(config_path, error)) {
      absl::StatusOr<std::string> contents = ReadFile(config_path);
      if (!contents.ok()) return contents.status();
      config_json = *std::move(contents);
    }
    return FromJson(*tokenizer_json, config_json, dir.string());
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(dir.string(), ": loading the tokenizer failed: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(
    std::string_view tokenizer_json, std::string_view tokenizer_config_json,
    std::string_view source) try {
  const std::string tokenizer_file = (std::filesystem::path(source) / "tokenizer.json").string();
  const std::string config_file =
      (std::filesystem::path(source) / "tokenizer_config.json").string();
  const JsonLocation root(tokenizer_file);

  absl::StatusOr<text::TokenizerJson> file = text::ParseTokenizerJson(tokenizer_json, root);
  if (!file.ok()) return file.status();
  const json& parsed = file->document;
  if (absl::Status status = text::RequireObject(parsed, root); !status.ok()) return status;
  absl::StatusOr<text::TokenizerConfig> config =
      text::ParseTokenizerConfig(tokenizer_config_json, config_file);
  if (!config.ok()) return config.status();

  auto tokenizer = std::unique_ptr<Tokenizer>(new Tokenizer());
  if (const json* normalizer = text::FindMember(parsed, "normalizer"); normalizer != nullptr) {
    auto built = text::NormalizerFromJson(*normalizer, root.Key("normalizer"));
    if (!built.ok()) return built.status();
    tokenizer->normalizer_ = *std::move(built);
  }
  if (const json* pre = text::FindMember(parsed, "pre_tokenizer"); pre != nullptr) {
    auto built = text::PreTokenizerFromJson(*pre, root.Key("pre_tokenizer"));
    if (!built.ok()) return built.status();
    tokenizer->pre_tokenizer_ = *std::move(built);
  }
  absl::StatusOr<const json*> model = text::RequireMember(parsed, "model", root);
  if (!model.ok()) return model.status();
  auto built_model = text::BpeModel::FromJson(**model, root.Key("model"), std::move(file->tables));
  if (!built_model.ok()) return built_model.status();
  tokenizer->model_ = *std::move(built_model);
  if (const json* post = text::FindMember(parsed, "post_processor"); post != nullptr) {
    auto built = text::PostProcessorFromJson(*post, root.Key("post_processor"));
    if (!built.ok()) return built.status();
    tokenizer->post_processor_ = *std::move(built);
  }
  if (const json* decoder = text::FindMember(parsed, "decoder"); decoder != nullptr) {
    auto built = text::DecoderFromJson(*decoder, root.Key("decoder"));
    if (!built.ok()) return built.status();
    tokenizer->decoder_ = *std::move(built);
  }

  std::vector<text::AddedToken> added_tokens;
  if (const json* list = text::FindMember(parsed, "added_tokens"); list != nullptr) {
    auto parsed_tokens = text::AddedTokensFromJson(*list, root.Key("added_tokens"));
    if (!parsed_tokens.ok()) return parsed_tokens.status();
    added_tokens = *std::move(parsed_tokens);
  }
  auto added =
      text::AddedVocabulary::Create(std::move(added_tokens), tokenizer->normalizer_.get(),
                                    {.split_special_tokens = config->split_special_tokens});
  if (!added.ok()) return root.Key("added_tokens").Error(added.status().message());
  tokenizer->added_vocabulary_ = std::make_unique<text::AddedVocabulary>(*std::move(added));
  tokenizer->vocab_size_ =
      std::max(tokenizer->model_->id_limit(), tokenizer->added_vocabulary_->id_limit());

  // What the post-processor adds around an empty sequence tells whether it already
  // provides the BOS/EOS that tokenizer_config.json asks for.
  std::vector<TokenId> specials;
  if (tokenizer->post_processor_ != nullptr) tokenizer->post_processor_->ProcessSingle(&specials);
  for (const TokenId id : specials) {
    if (id >= tokenizer->vocab_size_) {
      return root.Key("post_processor")
          .Error(absl::StrCat("special token id ", id, " is not in the vocabulary"));
    }
  }
  const JsonLocation config_root(config_file);
  auto bos = ResolveConfigToken(*tokenizer, config->bos_token, config_root.Key("bos_token"));
  if (!bos.ok()) return bos.status();
  tokenizer->bos_token_id_ = *bos;
  auto eos = ResolveConfigToken(*tokenizer, config->eos_token, config_root.Key("eos_token"));
  if (!eos.ok()) return eos.status();
  tokenizer->eos_token_id_ = *eos;
  tokenizer->prepend_bos_ = config->add_bos_token.value_or(false) && bos->has_value() &&
                            (specials.empty() || specials.front() != **bos);
  tokenizer->append_eos_ = config->add_eos_token.value_or(false) && eos->has_value() &&
                           (specials.empty() || specials.back() != **eos);
  return tokenizer;
} catch (const std::exception& e) {
  return absl::InternalError(
      absl::StrCat(text::ToAbsl(source), ": building the tokenizer failed: ", e.what()));
}

absl::StatusOr<std::vector<TokenId>> Tokenizer::Encode(std::string_view text,
                                                       bool add_special_tokens) const {
  if (const size_t bad = text::FindInvalidUtf8(text); bad != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("text is not valid UTF-8 (at byte offset ", bad, ")"));
  }
  std::vector<TokenId> ids;
  std::vector<text::TextSegment> raw_segments;
  std::vector<text::TextSegment> normalized_segments;
  std::vector<std::string> words;
  std::string normalized;
  added_vocabulary_->Split(text, /*normalized=*/false, &raw_segments);
  for (const text::TextSegment& raw : raw_segments) {
    if (raw.id.has_value()) {
      ids.push_back(*raw.id);
      continue;
    }
    normalized.assign(raw.text);
    if (normalizer_ != nullptr) {
      if (absl::Status status = normalizer_->Normalize(&normalized); !status.ok()) return status;
    }
    normalized_segments.clear();
    added_vocabulary_->Split(normalized, /*normalized=*/true, &normalized_segments);
    for (const text::TextSegment& segment : normalized_segments) {
      if (segment.id.has_value()) {
        ids.push_back(*segment.id);
        continue;
      }
      // Metaspace's "first" scheme needs to know whether this text starts the input.
      // Offsets are not tracked through the normalizer: its output's start counts as
      // the input's start.
      bool at_input_start =
          raw.text.data() == text.data() && segment.text.data() == normalized.data();
      words.assign(1, std::string(segment.text));
      if (pre_tokenizer_ != nullptr) {
        if (absl::Status status = pre_tokenizer_->PreTokenize(&words, &at_input_start);
            !status.ok()) {
          return status;
        }
      }
      for (const std::string& word : words) {
        if (absl::Status status = model_->Tokenize(word, &ids); !status.ok()) return status;
      }
    }
  }
  if (add_special_tokens) {
    if (post_processor_ != nullptr) post_processor_->ProcessSingle(&ids);
    if (prepend_bos_) ids.insert(ids.begin(), *bos_token_id_);
    if (append_eos_) ids.push_back(*eos_token_id_);
  }
  return ids;
}

absl::StatusOr<const std::string*> Tokenizer::TokenForDecode(TokenId id,
                                                             bool skip_special_tokens) const {
  if (id < 0 || id >= vocab_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("token id ", id, " is out of range [0, ", vocab_size_, ")"));
  }
  if (const text::AddedToken* added = added_vocabulary_->FindById(id); added != nullptr) {
    return skip_special_tokens && added->special ? nullptr : &added->content;
  }
  return model_->IdToToken(id);
}

absl::StatusOr<std::string> Tokenizer::Decode(std::span<const TokenId> ids,
                                              bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const TokenId id : ids) {
    absl::StatusOr<const std::string*> token = TokenForDecode(id, skip_special_tokens);
    if (!token.ok()) return token.status();
    if (*token != nullptr) tokens.push_back(**token);
  }
  if (decoder_ == nullptr) return absl::StrJoin(tokens, " ");
  if (absl::Status status = decoder_->DecodeChain(&tokens); !status.ok()) return status;
  return absl::StrJoin(tokens, "");
}

std::unique_ptr<text::DecoderStream> Tokenizer::NewDecoderStream() const {
  return std::make_unique<text::DecoderStream>(decoder_.get());
}

std::optional<TokenId> Tokenizer::TokenToId(std::string_view token) const {
  if (const text::AddedToken* added = added_vocabulary_->FindByContent(token); added != nullptr) {
    return added->id;
  }
  return model_->TokenToId(token);
}

std::optional<std::string> Tokenizer::IdToToken(TokenId id) const {
  if (const text::AddedToken* added = added_vocabulary_->FindById(id); added != nullptr) {
    return added->content;
  }
  if (const std::string* token = model_->IdToToken(id); token != nullptr) return *token;
  return std::nullopt;
}

bool Tokenizer::IsSpecial(TokenId id) const {
  const text::AddedToken* added = added_vocabulary_->FindById(id);
  return added != nullptr && added->special;
}

std::vector<TokenId> Tokenizer::SpecialTokenIds() const {
  std::vector<TokenId> ids;
  for (TokenId id = 0; id < vocab_size_; ++id) {
    if (IsSpecial(id)) ids.push_back(id);
  }
  return ids;
}

}  // namespace loom
