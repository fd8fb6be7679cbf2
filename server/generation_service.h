// loom.v1.Generation over gRPC's callback API: one reactor per call, and no handler
// ever blocks (DESIGN.md, "Threads"). Handlers check the API key and the drain state,
// build an engine Request (request_builder.h), submit it, and stream its channel
// (generate_reactor.h).
//
// Thread-safety: handlers run concurrently on gRPC's threads; the registry and keys are
// read-only, the draining flag is atomic.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "loom/v1/generation.grpc.pb.h"
#include "server/active_calls.h"
#include "server/api_keys.h"
#include "server/request_counters.h"
#include "server/served_model.h"

namespace loom {

class GenerationService final : public v1::Generation::CallbackService {
 public:
  // All three must outlive the service.
  GenerationService(const ModelRegistry* models, const ApiKeys* api_keys, ActiveCalls* calls);

  // Calls refused before reaching the engine, by model name (for metrics).
  const absl::flat_hash_map<std::string, std::unique_ptr<RequestCounters>>& request_counters()
      const {
    return counters_;
  }

  // From now on every new call gets UNAVAILABLE; calls in flight go on.
  void StartDraining() { draining_.store(true, std::memory_order_release); }

  // OK when a call may proceed: UNAVAILABLE while draining, UNAUTHENTICATED without a
  // valid key. Every RPC but health goes through it (reflection too).
  absl::Status Admit(const grpc::CallbackServerContext& context) const;

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Chat(grpc::CallbackServerContext* context,
                                                       const v1::ChatRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

 private:
  // Submits `request` to `model` and streams it; the call's deadline bounds its wait in
  // the queue.
  grpc::ServerWriteReactor<v1::GenerateResponse>* Submit(grpc::CallbackServerContext* context,
                                                         ServedModel& model, Request request);
  std::string NewRequestId();
  // Counts a generation call for `model` (by name; unknown names are not counted) that
  // ended with `status` before reaching the engine.
  void CountRefused(const std::string& model, const absl::Status& status);

  const ModelRegistry* const models_;
  const ApiKeys* const api_keys_;
  ActiveCalls* const calls_;
  absl::flat_hash_map<std::string, std::unique_ptr<RequestCounters>> counters_;
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_request_id_{0};
  const uint64_t request_id_salt_;
};

}  // namespace loom
