#include "server/request_builder.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace loom {
namespace {

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

absl::StatusOr<int32_t> CheckTokenId(uint32_t id, int vocab, const std::string& field) {
  if (id >= static_cast<uint32_t>(vocab)) {
    return Invalid(
        absl::StrCat(field, ": token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
  }
  return static_cast<int32_t>(id);
}

}  // namespace

absl::Status ApplySampling(const v1::SamplingParams& proto, const ServedModel& model,
                           int prompt_tokens, Request& request) {
  SamplingParams& s = request.sampling;
  s = model.default_sampling;
  if (proto.has_temperature()) s.temperature = proto.temperature();
  if (proto.has_top_p()) s.top_p = proto.top_p();
  if (proto.has_top_k()) s.top_k = proto.top_k();
  if (proto.has_min_p()) s.min_p = proto.min_p();
  if (proto.has_repetition_penalty()) s.repetition_penalty = proto.repetition_penalty();
  if (proto.has_presence_penalty()) s.presence_penalty = proto.presence_penalty();
  if (proto.has_frequency_penalty()) s.frequency_penalty = proto.frequency_penalty();
  if (proto.has_seed()) s.seed = proto.seed();
  if (proto.logprobs() > static_cast<uint32_t>(kMaxLogprobs)) {
    return Invalid(absl::StrCat("sampling.logprobs must be in [0, ", kMaxLogprobs, "], got ",
                                proto.logprobs()));
  }
  s.logprobs = static_cast<int>(proto.logprobs());
  if (auto status = ValidateSamplingParams(s); !status.ok()) {
    return Invalid(absl::StrCat("sampling.", status.message()));
  }

  const int session_len = model.engine->model().session_len;
  StopConditions& stop = request.stop;
  if (proto.has_max_tokens()) {
    if (proto.max_tokens() < 1 || proto.max_tokens() > static_cast<uint32_t>(session_len)) {
      return Invalid(absl::StrCat("sampling.max_tokens must be in [1, ", session_len,
                                  "] (the model's session_len), got ", proto.max_tokens()));
    }
    stop.max_tokens = static_cast<int>(proto.max_tokens());
  } else {
    stop.max_tokens = std::max(1, std::min(model.default_max_tokens, session_len - prompt_tokens));
  }
  // The model's default stop strings and ids (its YAML) apply unless the request sends
  // its own.
  if (proto.stop_size() == 0) stop.stop = model.default_stop;
  if (proto.stop_token_ids_size() == 0) stop.stop_token_ids = model.default_stop_token_ids;
  if (proto.stop_size() > kMaxStopStrings) {
    return Invalid(absl::StrCat("sampling.stop must hold at most ", kMaxStopStrings,
                                " stop strings, got ", proto.stop_size()));
  }
  for (int i = 0; i < proto.stop_size(); ++i) {
    const std::string& word = proto.stop(i);
    if (word.empty()) return Invalid(absl::StrCat("sampling.stop[", i, "] must not be empty"));
    if (word.size() > kMaxStopStringBytes) {
      return Invalid(absl::StrCat("sampling.stop[", i, "] must be at most ", kMaxStopStringBytes,
                                  " bytes, got ", word.size()));
    }
    stop.stop.push_back(word);
  }
  const int vocab = model.engine->model().config.vocab_size;
  for (int i = 0; i < proto.stop_token_ids_size(); ++i) {
    auto id = CheckTokenId(proto.stop_token_ids(i), vocab,
                           absl::StrCat("sampling.stop_token_ids[", i, "]"));
    if (!id.ok()) return id.status();
    stop.stop_token_ids.push_back(*id);
  }
  stop.ignore_eos = proto.ignore_eos();
  return absl::OkStatus();
}

absl::StatusOr<Request> BuildGenerateRequest(const v1::GenerateRequest& proto,
                                             const ServedModel& model) {
  Request request;
  if (proto.request_id().size() > kMaxRequestIdBytes) {
    return Invalid(absl::StrCat("request_id: at most ", kMaxRequestIdBytes, " bytes, got ",
                                proto.request_id().size()));
  }
  request.request_id = proto.request_id();
  request.session_id = proto.session_id();
  request.end_session = proto.end_session();
  const bool ends_only = proto.end_session() && !proto.session_id().empty() &&
                         proto.prompt_case() == v1::GenerateRequest::PROMPT_NOT_SET;
  const bool add_special_tokens =
      proto.has_add_special_tokens() ? proto.add_special_tokens() : true;
  const Tokenizer& tokenizer = *model.engine->model().tokenizer;
  switch (proto.prompt_case()) {
    case v1::GenerateRequest::kText: {
      if (proto.text().empty()) return Invalid("prompt: text is empty");
      auto ids = tokenizer.Encode(proto.text(), add_special_tokens);
      if (!ids.ok()) return Invalid(absl::StrCat("prompt: ", ids.status().message()));
      if (ids->empty()) return Invalid("prompt: text encodes to no tokens");
      if (!request.session_id.empty() && add_special_tokens) {
        // Special tokens (BOS) start a session, not each of its turns.
        auto bare = tokenizer.Encode(proto.text(), /*add_special_tokens=*/false);
        if (!bare.ok()) return Invalid(absl::StrCat("prompt: ", bare.status().message()));
        request.first_turn_prompt_ids = *std::move(ids);
        request.prompt_ids = *std::move(bare);
        if (request.prompt_ids.empty()) request.prompt_ids = request.first_turn_prompt_ids;
      } else {
        request.prompt_ids = *std::move(ids);
      }
      break;
    }
    case v1::GenerateRequest::kTokens: {
      if (proto.tokens().ids().empty()) return Invalid("prompt: tokens.ids is empty");
      const int vocab = model.engine->model().config.vocab_size;
      for (int i = 0; i < proto.tokens().ids_size(); ++i) {
        auto id =
            CheckTokenId(proto.tokens().ids(i), vocab, absl::StrCat("prompt.tokens.ids[", i, "]"));
        if (!id.ok()) return id.status();
        request.prompt_ids.push_back(*id);
      }
      break;
    }
    case v1::GenerateRequest::PROMPT_NOT_SET:
      if (!ends_only) return Invalid("prompt: set text or tokens");
      break;
  }
  const int prompt_tokens =
      static_cast<int>(std::max(request.prompt_ids.size(), request.first_turn_prompt_ids.size()));
  if (auto status = ApplySampling(proto.sampling(), model, prompt_tokens, request); !status.ok()) {
    return status;
  }
  return request;
}

}  // namespace loom
