// One engine step: plan, issue, queue the next decode step ahead, collect, apply.
//
// With async scheduling the device runs step N + 1 while the host reads back and
// applies step N: IssueAhead commits and issues N + 1 for every sequence N samples,
// with N's sampled ids fed to it on the device (ModelRunner::IssueSample's fed_rows),
// before N's tokens are known. A sequence that then ends in N (a stop token, a stop
// string, a cancellation) has its row in N + 1 dropped: the keys and values that row
// wrote are those of the token N really sampled, in a block the sequence held, so
// nothing another sequence reads is touched, and any block it released is handed out
// again only to steps queued after N + 1.
#include <algorithm>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "kernels/check.h"

namespace loom {

void Engine::Step() {
  std::optional<IssuedStep> current = std::exchange(ahead_, std::nullopt);
  if (!current.has_value()) current = PlanAndIssue();
  if (!current.has_value()) return;
  ahead_ = IssueAhead(*current);
  if (auto status = Collect(*current); !status.ok()) {
    for (const ScheduledChunk& c : current->chunks) {
      if (c.seq == nullptr) continue;
      FailSequence(*c.seq,
                   absl::InternalError(absl::StrCat("forward step failed: ", status.message())));
    }
    return;
  }
  Apply(*current);
}

std::optional<Engine::IssuedStep> Engine::PlanAndIssue() {
  BatchPlan plan = scheduler_.Plan(running_, waiting_, pool_);
  // Idle sessions' KV goes before any running sequence is preempted or any waiting one
  // is held back.
  while (plan.out_of_blocks && EvictIdleKv()) plan = scheduler_.Plan(running_, waiting_, pool_);
  if (plan.chunks.empty() && plan.preempted.empty()) {
    // Nothing runs and the first waiting request does not fit in an empty pool. Submit
    // rules this out, so it is a request the pool can never hold.
    if (running_.empty() && !waiting_.empty()) {
      Sequence* head = *std::min_element(
          waiting_.begin(), waiting_.end(),
          [](const Sequence* a, const Sequence* b) { return a->arrival < b->arrival; });
      FailSequence(*head, absl::ResourceExhaustedError("the KV cache cannot hold this request"));
    }
    return std::nullopt;
  }
  std::vector<Sequence*> first_admissions;
  for (const ScheduledChunk& c : plan.chunks) {
    // A session turn resuming on resident KV looks nothing up in the prefix cache.
    if (c.admit && !c.seq->admitted_once && c.seq->blocks.empty()) {
      first_admissions.push_back(c.seq);
    }
  }
  kv_.Commit(plan);
  counters_.num_preemptions += static_cast<int64_t>(plan.preempted.size());
  for (Sequence* s : first_admissions) {
    counters_.prefix_cache_queries += s->num_prompt_tokens;
    counters_.prefix_cache_hits += s->num_cached_prompt_tokens;
  }
  for (Sequence* s : plan.preempted) {
    std::erase(running_, s);
    waiting_.push_back(s);
  }
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.admit) continue;
    std::erase(waiting_, c.seq);
    running_.push_back(c.seq);
    if (c.seq->queued_tokens >= 0) {  // its first admission
      counters_.request_queue_time_seconds.Observe(
          absl::ToDoubleSeconds(absl::Now() - c.seq->arrival_time));
    }
    MarkStarted(*c.seq);
  }
  if (plan.chunks.empty()) return std::nullopt;

  std::vector<bool> samples;
  std::vector<Sequence*> seqs;
  for (const ScheduledChunk& c : plan.chunks) {
    samples.push_back(c.samples());
    seqs.push_back(c.seq);
  }
  auto issued = Issue(std::move(plan.chunks), std::move(samples), {});
  if (!issued.ok()) {
    for (Sequence* s : seqs) {
      FailSequence(*s, absl::InternalError(
                           absl::StrCat("forward step failed: ", issued.status().message())));
    }
    return std::nullopt;
  }
  return *std::move(issued);
}

absl::StatusOr<Engine::IssuedStep> Engine::Issue(std::vector<ScheduledChunk> chunks,
                                                 std::vector<bool> samples,
                                                 std::span<const int32_t> fed_rows) {
  ModelRunner& runner = *model_.runner;
  const int block_size = model_.options.block_size;
  // A fed token is not known yet: any id in the vocabulary holds its place.
  static constexpr int32_t kFedPlaceholder[] = {0};
  ForwardBatch batch;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ScheduledChunk& c = chunks[i];
    const std::span<const int32_t> tokens =
        i < fed_rows.size()
            ? std::span<const int32_t>(kFedPlaceholder)
            : std::span<const int32_t>(c.seq->tokens).subspan(c.start, c.num_tokens);
    batch.AddSequence(tokens, c.start, c.seq->blocks, block_size, samples[i]);
  }
  IssuedStep step{.chunks = std::move(chunks), .samples = std::move(samples)};

  const size_t vocab = static_cast<size_t>(model_.config.vocab_size);
  if (!runner.backend().SamplesOnDevice()) {
    auto logits = runner.Forward(batch);
    if (!logits.ok()) return logits.status();
    size_t row = 0;
    for (size_t i = 0; i < step.chunks.size(); ++i) {
      if (!step.samples[i]) continue;
      step.tokens.push_back(
          step.chunks[i].seq->sampler.Sample(logits->subspan(row++ * vocab, vocab)));
      step.on_host.push_back(true);
    }
    return step;
  }
  // On the device: the requests the device sampler covers take its token; the others
  // get their logits row and sample on the host when the step is collected.
  std::vector<RowSampling> rows;
  for (size_t i = 0; i < step.chunks.size(); ++i) {
    if (!step.samples[i]) continue;
    Sampler& sampler = step.chunks[i].seq->sampler;
    const SamplingParams& p = step.chunks[i].seq->request.sampling;
    const bool on_device = sampler.SamplesOnDevice();
    rows.push_back(RowSampling{.temperature = on_device ? p.temperature : 0.0f,
                               .top_k = p.top_k,
                               .top_p = p.top_p,
                               .uniform = on_device ? sampler.NextDeviceUniform() : 0.0f,
                               .needs_logits = !on_device});
    step.on_host.push_back(!on_device);
  }
  if (auto status = runner.IssueSample(batch, rows, fed_rows); !status.ok()) return status;
  step.pending = true;
  return step;
}

std::optional<Engine::IssuedStep> Engine::IssueAhead(const IssuedStep& current) {
  if (!config_.async_scheduling || !current.pending) return std::nullopt;
  // Waiting requests the batch has room for are admitted by the next plan.
  const bool room = static_cast<int>(running_.size()) < scheduler_.config().max_batch_size;
  if (!waiting_.empty() && room) return std::nullopt;
  const int block_size = model_.options.block_size;
  int available = pool_.num_blocks_available();
  std::vector<ScheduledChunk> chunks;
  std::vector<int32_t> fed_rows;
  int32_t row = 0;
  for (size_t i = 0; i < current.chunks.size(); ++i) {
    // A prefill chunk's next step is planned with the sequence's state.
    if (!current.samples[i]) return std::nullopt;
    const int32_t r = row++;
    if (current.on_host[r]) return std::nullopt;
    Sequence* s = current.chunks[i].seq;
    if (s == nullptr) continue;
    // The token this step samples is the sequence's last when it reaches max_tokens.
    if (s->num_output_tokens() + 1 >= s->request.stop.max_tokens) continue;
    const int position = static_cast<int>(s->tokens.size());  // of the token being sampled
    const int need =
        std::max((position + block_size) / block_size - static_cast<int>(s->blocks.size()), 0);
    // Short of blocks, the scheduler decides who yields.
    if (need > available) return std::nullopt;
    available -= need;
    chunks.push_back(
        ScheduledChunk{.seq = s, .start = position, .num_tokens = 1, .num_new_blocks = need});
    fed_rows.push_back(r);
  }
  if (chunks.empty()) return std::nullopt;
  kv_.Commit(BatchPlan{.chunks = chunks});
  std::vector<bool> samples(chunks.size(), true);
  auto issued = Issue(std::move(chunks), std::move(samples), fed_rows);
  // The blocks it committed stay with their sequences; the step planned after `current`
  // is applied runs the same tokens into them and reports the error.
  if (!issued.ok()) return std::nullopt;
  ++counters_.num_async_steps;
  return *std::move(issued);
}

absl::Status Engine::Collect(IssuedStep& step) {
  if (!step.pending) return absl::OkStatus();
  auto sampled = model_.runner->CollectSamples();
  if (!sampled.ok()) return sampled.status();
  step.pending = false;
  const size_t vocab = static_cast<size_t>(model_.config.vocab_size);
  size_t logits_row = 0;
  for (size_t i = 0, row = 0; i < step.chunks.size(); ++i) {
    if (!step.samples[i]) continue;
    if (step.on_host[row]) {
      const std::span<const float> logits = sampled->logits.subspan(logits_row++ * vocab, vocab);
      Sequence* seq = step.chunks[i].seq;
      step.tokens.push_back(seq != nullptr ? seq->sampler.Sample(logits) : SampledToken{});
    } else {
      step.tokens.push_back(
          SampledToken{.id = sampled->ids[row], .logprob = sampled->logprobs[row]});
    }
    ++row;
  }
  return absl::OkStatus();
}

void Engine::Apply(const IssuedStep& step) {
  ++counters_.num_steps;
  counters_.batch_size.Observe(static_cast<double>(step.chunks.size()));
  size_t row = 0;
  std::vector<std::pair<Sequence*, FinishReason>> finished;
  for (size_t i = 0; i < step.chunks.size(); ++i) {
    const ScheduledChunk& c = step.chunks[i];
    const bool samples = step.samples[i];
    const SampledToken* token = samples ? &step.tokens[row++] : nullptr;
    if (c.seq == nullptr) {
      ++counters_.num_async_discarded_tokens;
      continue;
    }
    kv_.Finish(c);
    if (!samples) continue;
    Sequence& seq = *c.seq;
    if (auto reason = SampleNext(seq, *token); reason.has_value()) {
      finished.emplace_back(&seq, *reason);
    } else if (!seq.pending.token_ids.empty()) {
      seq.channel->Push(std::exchange(seq.pending, RequestOutput{}));
    }
  }
  for (auto [seq, reason] : finished) FinishSequence(*seq, reason);
}

}  // namespace loom
