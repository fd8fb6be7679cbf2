// The engine of one model replica: requests in, streamed tokens and text out.
//
// Submit() validates a request and queues it; one worker thread, started by Create()
// and stopped by the destructor, runs continuous batching over the model's paged KV
// pool (Scheduler, KvCacheManager, ModelRunner) and pushes each request's tokens and
// text into its OutputChannel. Cancel a request through its channel.
//
// Where the backend samples on the device, the worker queues each decode step before it
// reads back the step before (EngineConfig::async_scheduling, engine_step.cc).
//
// Thread-safety: Submit() and stats() may be called from any thread. The worker thread
// owns the scheduler, the KV state and the model runner (DESIGN.md, "Threads"). A
// request's final output is pushed after its blocks are released and stats() shows it.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/block_pool.h"
#include "engine/engine_stats.h"
#include "engine/forward_batch.h"
#include "engine/kv_cache_manager.h"
#include "engine/model_loader.h"
#include "engine/output_channel.h"
#include "engine/request.h"
#include "engine/request_queue.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "engine/session_table.h"

namespace loom {

struct EngineConfig {
  bool enable_prefix_caching = true;
  int max_queued_requests = 1024;
  int64_t max_queued_tokens = 1 << 22;
  int max_sessions = 4096;  // open stateful sessions (Request::session_id)
  // Queue the next decode step before this one's tokens are read back, where the
  // backend samples on the device: the host's work between steps then overlaps the
  // device's. A sequence that ends in a step has already had one more token computed in
  // the next, which is dropped, and a request that arrives meanwhile is admitted a step
  // later.
  bool async_scheduling = true;
};

class Engine {
 public:
  // Takes the model, whose options (LoadModel's EngineOptions) give max_batch_size,
  // max_prefill_tokens, block_size and the KV pool, and starts the worker thread.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(LoadedModel model,
                                                        const EngineConfig& config);
  // Stops the worker. Requests still in flight end with FinishReason::kCancelled.
  ~Engine();

  // Queues `request` and returns the channel its outputs arrive on.
  // InvalidArgument naming the field: an empty prompt, a token id outside the
  // vocabulary, max_tokens < 1, prompt + max_tokens over session_len or over what the KV
  // pool can hold, bad sampling parameters, end_session without session_id.
  // ResourceExhausted when the queue is full.
  // A session turn can also fail on its channel: FailedPrecondition while the session
  // has another turn in flight, InvalidArgument when its history + prompt + max_tokens
  // exceed session_len, ResourceExhausted when max_sessions are open.
  absl::StatusOr<std::shared_ptr<OutputChannel>> Submit(Request request);

  EngineStats stats() const;
  const LoadedModel& model() const { return model_; }

 private:
  Engine(LoadedModel model, const EngineConfig& config);
  absl::Status Validate(const Request& request) const;
  void Run();
  void Admit(std::vector<QueuedRequest>& incoming);
  // For a session turn: the session it continues (opened when new), now busy, with the
  // session's tokens put before request.prompt_ids. nullptr when the request only
  // closes its session.
  absl::StatusOr<Session*> JoinSession(Request& request);
  // Gives a session turn's state back to its session as the turn ends, or closes the
  // session (end_session, or a failure after the turn started running).
  void EndTurn(Sequence& seq, const absl::Status& status);
  void CloseSession(const std::string& id);
  // Frees KV that no running sequence needs: the least recently used idle session's,
  // else a waiting session turn's. False when there is none.
  bool EvictIdleKv();
  void ReapCancelledAndExpired();

  // A forward step given to the model runner and not yet applied (engine_step.cc).
  struct IssuedStep {
    // A chunk's seq is null once its sequence has ended: its results are dropped.
    std::vector<ScheduledChunk> chunks;
    std::vector<bool> samples;         // per chunk: the step samples the sequence's next token
    std::vector<bool> on_host;         // per sampled row: sampled on the host from its logits
    bool pending = false;              // the runner holds it (IssueSample); else `tokens` has it
    std::vector<SampledToken> tokens;  // per sampled row, once collected
  };
  // One step of continuous batching: the step queued ahead last time, else a new plan;
  // then, if it can, the next decode step queued ahead; then this step's tokens.
  void Step();
  // Plans a step, applies the plan to the KV state and issues it. nullopt when nothing
  // runs (or the step failed, failing its sequences).
  std::optional<IssuedStep> PlanAndIssue();
  // Builds the forward batch of `chunks` and gives it to the runner: sampled on the
  // device where the backend samples there and the request allows it, else with the
  // sequence's own Sampler on the host. Chunk i < fed_rows.size() is a decode of the
  // token that row fed_rows[i] of the last issued step samples (IssueAhead).
  absl::StatusOr<IssuedStep> Issue(std::vector<ScheduledChunk> chunks, std::vector<bool> samples,
                                   std::span<const int32_t> fed_rows);
  // The next decode step of every sequence `current` samples and does not end by length,
  // committed and issued before `current`'s tokens are known. nullopt when it cannot be
  // (async scheduling off, a host-sampled row, a prefill chunk in `current`, requests
  // waiting with room in the batch, blocks short): the next step is then planned once
  // `current` is applied.
  std::optional<IssuedStep> IssueAhead(const IssuedStep& current);
  // Waits for `step`'s tokens where the runner still holds them.
  absl::Status Collect(IssuedStep& step);
  // Records the step's tokens in its live sequences and ends those that stop.
  void Apply(const IssuedStep& step);
  // Appends a sequence's next token, adds its text to the pending output, and says why
  // the sequence ends, if it does.
  std::optional<FinishReason> SampleNext(Sequence& seq, const SampledToken& token);
  void FinishSequence(Sequence& seq, FinishReason reason);
  void FailSequence(Sequence& seq, absl::Status status);
  // Counts a request that ends with `status` under its cause.
  void CountFailure(const absl::Status& status);
  // Releases the sequence, publishes stats, then pushes its last output.
  void EndSequence(Sequence& seq, RequestOutput final_output);
  // The same for a request that ends before it becomes a sequence (a session close, a
  // failed join, a prompt the detokenizer refuses).
  void EndAtAdmission(QueuedRequest& q, RequestOutput final_output);
  void Remove(Sequence* seq);
  // The sequence started running or ended: it leaves the queue's bounds.
  void MarkStarted(Sequence& seq);
  void PublishStats();
  // Reads the backend's device memory into device_memory_ when it was last read
  // kDeviceMemoryInterval ago or more.
  void SampleDeviceMemory();

  static constexpr absl::Duration kDeviceMemoryInterval = absl::Seconds(1);

  LoadedModel model_;
  const EngineConfig config_;
  RequestQueue queue_;
  std::thread worker_;

  // Worker-thread state.
  BlockPool pool_;
  KvCacheManager kv_;
  Scheduler scheduler_;
  std::vector<std::unique_ptr<Sequence>> sequences_;  // owns every live sequence
  std::vector<Sequence*> running_;
  std::vector<Sequence*> waiting_;
  std::optional<IssuedStep> ahead_;  // issued by IssueAhead, applied by the next Step
  SessionTable sessions_;
  int64_t next_arrival_ = 0;
  EngineStats counters_;  // the counters part, updated by the worker
  std::optional<DeviceMemory> device_memory_;
  absl::Time device_memory_time_ = absl::InfinitePast();

  mutable absl::Mutex stats_mu_;
  EngineStats stats_ ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace loom
