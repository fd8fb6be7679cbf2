#include "engine/engine.h"

#include <algorithm>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/check.h"

namespace loom {
namespace {

bool Contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(LoadedModel model,
                                                       const EngineConfig& config) {
  if (model.runner == nullptr || model.tokenizer == nullptr) {
    return absl::InvalidArgumentError("engine: the model has no runner or tokenizer");
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(model), config));
  engine->SampleDeviceMemory();
  engine->PublishStats();
  engine->worker_ = std::thread([e = engine.get()] { e->Run(); });
  return engine;
}

Engine::Engine(LoadedModel model, const EngineConfig& config)
    : model_(std::move(model)),
      config_(config),
      queue_(config.max_queued_requests, config.max_queued_tokens),
      pool_(model_.options.num_blocks, model_.options.block_size, config.enable_prefix_caching),
      kv_(&pool_),
      scheduler_(SchedulerConfig{.max_batch_size = model_.options.max_batch_size,
                                 .max_prefill_tokens = model_.options.max_prefill_tokens,
                                 .block_size = model_.options.block_size},
                 std::make_unique<FcfsPolicy>()),
      sessions_(config.max_sessions) {}

Engine::~Engine() {
  queue_.Close();
  if (worker_.joinable()) worker_.join();
}

absl::Status Engine::Validate(const Request& request) const {
  constexpr size_t kMaxSessionIdBytes = 256;
  if (request.session_id.size() > kMaxSessionIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("session_id: at most ", kMaxSessionIdBytes,
                                                   " bytes, got ", request.session_id.size()));
  }
  if (request.end_session && request.session_id.empty()) {
    return absl::InvalidArgumentError("end_session: needs a session_id");
  }
  if (request.end_session && request.prompt_ids.empty()) return absl::OkStatus();
  if (request.prompt_ids.empty()) {
    return absl::InvalidArgumentError("prompt: must hold at least one token");
  }
  const int vocab = model_.config.vocab_size;
  for (const auto* ids : {&request.prompt_ids, &request.first_turn_prompt_ids}) {
    for (int32_t id : *ids) {
      if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("prompt: token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
      }
    }
  }
  for (int32_t id : request.stop.stop_token_ids) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stop_token_ids: token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (request.stop.max_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens: must be at least 1, got ", request.stop.max_tokens));
  }
  const int64_t total = static_cast<int64_t>(std::max(request.prompt_ids.size(),
                                                      request.first_turn_prompt_ids.size())) +
                        request.stop.max_tokens;
  if (total > model_.session_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt (", total - request.stop.max_tokens, " tokens) + max_tokens (",
        request.stop.max_tokens, ") = ", total, " exceeds session_len ", model_.session_len));
  }
  const int64_t block_size = model_.options.block_size;
  if ((total + block_size - 1) / block_size > model_.options.num_blocks) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt + max_tokens = ", total, " tokens is more than the KV cache holds (",
                     model_.options.num_blocks, " blocks of ", block_size, ")"));
  }
  if (auto status = ValidateSamplingParams(request.sampling); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("sampling: ", status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<OutputChannel>> Engine::Submit(Request request) {
  if (auto status = Validate(request); !status.ok()) return status;
  auto channel = std::make_shared<OutputChannel>();
  if (auto status = queue_.Push(QueuedRequest{
          .request = std::move(request), .channel = channel, .arrival_time = absl::Now()});
      !status.ok()) {
    return status;
  }
  return channel;
}

EngineStats Engine::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

void Engine::Run() {
  std::vector<QueuedRequest> incoming;
  while (true) {
    const bool idle = running_.empty() && waiting_.empty() && !ahead_.has_value();
    incoming.clear();
    const bool open =
        queue_.PopAll(idle ? absl::Milliseconds(100) : absl::ZeroDuration(), &incoming);
    Admit(incoming);
    if (!open) {
      // Shutting down: everything still in flight ends as cancelled.
      while (!sequences_.empty()) FinishSequence(*sequences_.front(), FinishReason::kCancelled);
      if (ahead_.has_value()) {
        // Its rows all ended; the runner still holds it.
        if (ahead_->pending) (void)model_.runner->CollectSamples();
        ahead_.reset();
      }
      PublishStats();
      return;
    }
    ReapCancelledAndExpired();
    if (!running_.empty() || !waiting_.empty() || ahead_.has_value()) Step();
    SampleDeviceMemory();
    PublishStats();
  }
}

void Engine::Admit(std::vector<QueuedRequest>& incoming) {
  for (QueuedRequest& q : incoming) {
    Session* session = nullptr;
    int num_session_tokens = 0;
    if (!q.request.session_id.empty()) {
      auto joined = JoinSession(q.request);
      if (!joined.ok()) {
        EndAtAdmission(q, RequestOutput{.status = joined.status()});
        continue;
      }
      session = *joined;
      if (session == nullptr) {  // the request only closed its session
        EndAtAdmission(q, RequestOutput{.finished = true, .finish_reason = FinishReason::kStop});
        continue;
      }
      num_session_tokens = static_cast<int>(session->tokens.size());
    }
    auto detokenizer =
        Detokenizer::Create(*model_.tokenizer, q.request.skip_special_tokens, q.request.prompt_ids);
    if (!detokenizer.ok()) {
      if (session != nullptr) session->busy = false;
      EndAtAdmission(q, RequestOutput{.status = detokenizer.status()});
      continue;
    }
    auto seq = std::make_unique<Sequence>(std::move(q.request), std::move(q.channel),
                                          next_arrival_++, q.arrival_time, *std::move(detokenizer));
    seq->queued_tokens = q.num_tokens;
    if (session != nullptr) {
      // The turn runs on the session's resident KV, if it still has it.
      seq->num_session_tokens = num_session_tokens;
      seq->blocks = std::move(session->blocks);
      seq->block_hashes = std::move(session->block_hashes);
      seq->num_computed = std::exchange(session->num_computed, 0);
      session->blocks.clear();
      session->block_hashes.clear();
    }
    waiting_.push_back(seq.get());
    sequences_.push_back(std::move(seq));
  }
}

absl::StatusOr<Session*> Engine::JoinSession(Request& request) {
  const std::string& id = request.session_id;
  Session* session = sessions_.Find(id);
  if (request.prompt_ids.empty()) {  // end_session alone (Validate)
    if (session != nullptr && session->busy) {
      session->end_after_turn = true;
    } else if (session != nullptr) {
      CloseSession(id);
    }
    return nullptr;
  }
  if (session == nullptr && !request.first_turn_prompt_ids.empty()) {
    request.prompt_ids = std::move(request.first_turn_prompt_ids);
  }
  request.first_turn_prompt_ids.clear();
  if (session != nullptr && session->busy) {
    return absl::FailedPreconditionError(
        absl::StrCat("session_id: session '", id,
                     "' has a turn in flight; send a session's turns one at a time"));
  }
  const int64_t history = session != nullptr ? static_cast<int64_t>(session->tokens.size()) : 0;
  const int64_t total =
      history + static_cast<int64_t>(request.prompt_ids.size()) + request.stop.max_tokens;
  if (total > model_.session_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        "session_id: the session's ", history, " earlier tokens + prompt (",
        request.prompt_ids.size(), " tokens) + max_tokens (", request.stop.max_tokens, ") = ",
        total, " exceeds session_len ", model_.session_len, "; end the session to start over"));
  }
  const int64_t block_size = model_.options.block_size;
  if ((total + block_size - 1) / block_size > model_.options.num_blocks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "session_id: the session's ", history, " earlier tokens + prompt + max_tokens = ", total,
        " tokens is more than the KV cache holds (", model_.options.num_blocks, " blocks of ",
        block_size, ")"));
  }
  if (session == nullptr) {
    auto opened = sessions_.Open(id);
    if (!opened.ok()) return opened.status();
    session = *opened;
  }
  request.prompt_ids.insert(request.prompt_ids.begin(), session->tokens.begin(),
                            session->tokens.end());
  session->busy = true;
  if (request.end_session) session->end_after_turn = true;
  return session;
}

void Engine::EndTurn(Sequence& seq, const absl::Status& status) {
  const std::string& id = seq.request.session_id;
  Session* session = sessions_.Find(id);
  LOOM_CHECK(session != nullptr && session->busy) << "a session turn without its session";
  session->busy = false;
  if (session->end_after_turn || (!status.ok() && seq.admitted_once)) {
    CloseSession(id);  // the sequence's own blocks go back in Remove()
    return;
  }
  if (seq.num_output_tokens() == 0) {
    // Nothing came of the turn (cancelled, or its deadline passed, before its first
    // token): the session stays as it was before it.
    kv_.Truncate(seq, seq.num_session_tokens);
    seq.tokens.resize(seq.num_session_tokens);
    if (seq.tokens.empty()) {
      CloseSession(id);
      return;
    }
  }
  session->tokens = std::move(seq.tokens);
  session->blocks = std::exchange(seq.blocks, {});
  session->block_hashes = std::exchange(seq.block_hashes, {});
  session->num_computed = std::exchange(seq.num_computed, 0);
  sessions_.Touch(*session);
}

void Engine::CloseSession(const std::string& id) {
  Session* session = sessions_.Find(id);
  if (session == nullptr) return;
  LOOM_CHECK(!session->busy) << "closing a session with a turn in flight";
  pool_.Release(session->blocks);
  sessions_.Close(id);
}

bool Engine::EvictIdleKv() {
  if (Session* session = sessions_.LeastRecentlyUsedResident(); session != nullptr) {
    pool_.Release(session->blocks);
    session->blocks.clear();
    session->block_hashes.clear();
    session->num_computed = 0;
    ++counters_.num_session_evictions;
    return true;
  }
  // A session turn still waiting for admission holds its session's KV: the youngest
  // one gives it up.
  Sequence* youngest = nullptr;
  for (Sequence* s : waiting_) {
    if (!s->blocks.empty() && (youngest == nullptr || s->arrival > youngest->arrival)) {
      youngest = s;
    }
  }
  if (youngest == nullptr) return false;
  kv_.Release(*youngest);
  ++counters_.num_session_evictions;
  return true;
}

void Engine::ReapCancelledAndExpired() {
  const absl::Time now = absl::Now();
  std::vector<Sequence*> cancelled, expired;
  for (const auto& seq : sequences_) {
    // A request whose deadline passed while it waited fails with DeadlineExceeded even
    // if its caller also cancelled it (gRPC does so at the deadline).
    if (!seq->admitted_once && seq->request.deadline.has_value() && *seq->request.deadline <= now) {
      expired.push_back(seq.get());
    } else if (seq->channel->cancelled()) {
      cancelled.push_back(seq.get());
    }
  }
  for (Sequence* s : expired) {
    FailSequence(
        *s, absl::DeadlineExceededError("the request's deadline passed before it was scheduled"));
  }
  for (Sequence* s : cancelled) FinishSequence(*s, FinishReason::kCancelled);
}

std::optional<FinishReason> Engine::SampleNext(Sequence& seq, const SampledToken& token) {
  seq.tokens.push_back(token.id);
  ++counters_.generation_tokens;
  const absl::Time now = absl::Now();
  if (seq.num_output_tokens() == 1) {
    counters_.time_to_first_token_seconds.Observe(absl::ToDoubleSeconds(now - seq.arrival_time));
  } else {
    counters_.inter_token_latency_seconds.Observe(absl::ToDoubleSeconds(now - seq.last_token_time));
  }
  seq.last_token_time = now;
  seq.pending.token_ids.push_back(token.id);
  if (seq.request.sampling.logprobs > 0) seq.pending.logprobs.push_back(token);

  std::optional<FinishReason> reason;
  const StopConditions& stop = seq.request.stop;
  if (Contains(stop.stop_token_ids, token.id) ||
      (!stop.ignore_eos && Contains(model_.config.eos_token_ids, token.id))) {
    reason = FinishReason::kStop;
  }
  auto piece = seq.detokenizer.Push(token.id);
  if (piece.ok()) {
    StopStrings::Result r = seq.stop_strings.Push(*piece);
    seq.pending.text += r.text;
    if (r.match.has_value()) {
      seq.stopped_by_string = true;
      reason = FinishReason::kStop;
    }
  }
  if (!reason.has_value() && seq.num_output_tokens() >= stop.max_tokens) {
    reason = FinishReason::kLength;
  }
  return reason;
}

void Engine::FinishSequence(Sequence& seq, FinishReason reason) {
  if (reason != FinishReason::kCancelled && !seq.stopped_by_string) {
    // Text still held back: the detokenizer's unfinished characters, then whatever the
    // stop strings were holding as a possible start.
    auto rest = seq.detokenizer.Finish();
    if (rest.ok()) {
      StopStrings::Result r = seq.stop_strings.Push(*rest);
      seq.pending.text += r.text;
      if (!r.match.has_value()) seq.pending.text += seq.stop_strings.Flush();
    }
  }
  seq.pending.finished = true;
  seq.pending.finish_reason = reason;
  seq.pending.usage = Usage{.prompt_tokens = seq.num_prompt_tokens,
                            .completion_tokens = seq.num_output_tokens(),
                            .cached_prompt_tokens = seq.num_cached_prompt_tokens};
  switch (reason) {
    case FinishReason::kStop:
      ++counters_.requests_finished_stop;
      break;
    case FinishReason::kLength:
      ++counters_.requests_finished_length;
      break;
    case FinishReason::kCancelled:
      ++counters_.requests_cancelled;
      break;
  }
  counters_.prompt_tokens += seq.num_prompt_tokens;
  if (reason != FinishReason::kCancelled) {
    counters_.e2e_request_latency_seconds.Observe(
        absl::ToDoubleSeconds(absl::Now() - seq.arrival_time));
  }
  EndSequence(seq, std::exchange(seq.pending, RequestOutput{}));
}

void Engine::CountFailure(const absl::Status& status) {
  ++counters_.requests_failed;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
      ++counters_.requests_failed_invalid;
      break;
    case absl::StatusCode::kResourceExhausted:
      ++counters_.requests_failed_rejected;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      ++counters_.requests_failed_deadline;
      break;
    default:
      ++counters_.requests_failed_internal;
      break;
  }
}

void Engine::FailSequence(Sequence& seq, absl::Status status) {
  CountFailure(status);
  EndSequence(seq, RequestOutput{.status = std::move(status)});
}

void Engine::EndSequence(Sequence& seq, RequestOutput final_output) {
  // Blocks and stats first: whoever reads the final output then sees them settled.
  std::shared_ptr<OutputChannel> channel = seq.channel;
  MarkStarted(seq);
  if (!seq.request.session_id.empty()) EndTurn(seq, final_output.status);
  Remove(&seq);
  PublishStats();
  channel->Push(std::move(final_output));
}

void Engine::EndAtAdmission(QueuedRequest& q, RequestOutput final_output) {
  // Stats first, as in EndSequence.
  queue_.Started(q.num_tokens);
  if (!final_output.status.ok()) CountFailure(final_output.status);
  PublishStats();
  q.channel->Push(std::move(final_output));
}

void Engine::MarkStarted(Sequence& seq) {
  if (seq.queued_tokens < 0) return;
  queue_.Started(seq.queued_tokens);
  seq.queued_tokens = -1;
}

void Engine::Remove(Sequence* seq) {
  kv_.Release(*seq);
  std::erase(running_, seq);
  std::erase(waiting_, seq);
  if (ahead_.has_value()) {
    for (ScheduledChunk& c : ahead_->chunks) {
      if (c.seq == seq) c.seq = nullptr;
    }
  }
  sequences_.erase(std::find_if(sequences_.begin(), sequences_.end(),
                                [seq](const auto& s) { return s.get() == seq; }));
}

void Engine::PublishStats() {
  EngineStats s = counters_;
  s.num_requests_running = static_cast<int>(running_.size());
  s.num_requests_waiting = static_cast<int>(waiting_.size()) + queue_.num_requests();
  s.num_blocks = pool_.num_blocks();
  s.num_blocks_free = pool_.num_blocks_free();
  s.num_blocks_active = pool_.num_blocks_active();
  s.num_blocks_cached = pool_.num_blocks_cached();
  s.num_sessions = sessions_.size();
  s.kv_cache_usage_ratio =
      s.num_blocks > 0 ? static_cast<double>(s.num_blocks_active) / s.num_blocks : 0.0;
  s.device_memory = device_memory_;
  absl::MutexLock lock(&stats_mu_);
  stats_ = s;
}

void Engine::SampleDeviceMemory() {
  const absl::Time now = absl::Now();
  if (now - device_memory_time_ < kDeviceMemoryInterval) return;
  device_memory_time_ = now;
  device_memory_ = model_.runner->backend().MemoryInfo();
}

}  // namespace loom
