// The server side of one streaming Generate or Chat call: moves an engine request's
// outputs from its OutputChannel to the client, one GenerateResponse per write.
//
// The engine's worker wakes the reactor through the channel's notifier; the reactor
// never blocks. While a write is in flight, new outputs accumulate and go out together
// in the next message. The call ends with OK after the message carrying finish_reason
// and usage; with the engine's error mapped to a gRPC status; with CANCELLED after the
// client cancelled; with UNAVAILABLE when the server cancelled it while draining. A
// client cancel (or a failed write: the client is gone) cancels the engine request, so
// its KV blocks are freed at the engine's next step.
//
// Lifetime: Start() returns the reactor for the gRPC handler to return; it deletes
// itself after gRPC's OnDone and once the engine stopped notifying it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/output_channel.h"
#include "loom/v1/generation.pb.h"
#include "server/active_calls.h"

namespace loom {

class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  // Streams `channel`, registered in `calls` (which must outlive the call) while the
  // call is in flight. REQUIRES: nothing was pushed to `channel` yet, or the notifier
  // is not set (Start() sets it and reads what is already there).
  static GenerateReactor* Start(std::shared_ptr<OutputChannel> channel, std::string request_id,
                                ActiveCalls* calls);

  // A call that ends at once with `status` (a rejected request).
  static grpc::ServerWriteReactor<v1::GenerateResponse>* Reject(const grpc::Status& status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  GenerateReactor(std::shared_ptr<OutputChannel> channel, std::string request_id,
                  ActiveCalls* calls);
  // Sends what the channel holds, if no write is in flight.
  void Pump();

  const std::shared_ptr<OutputChannel> channel_;
  const std::string request_id_;
  ActiveCalls* const calls_;
  // Keeps the reactor alive until gRPC is done with it (OnDone); the notifier holds a
  // weak reference.
  std::shared_ptr<GenerateReactor> self_;

  absl::Mutex mu_;
  v1::GenerateResponse response_ ABSL_GUARDED_BY(mu_);  // the message being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;          // Finish() was called
  bool client_cancelled_ ABSL_GUARDED_BY(mu_) = false;  // OnCancel or a failed write
  std::optional<grpc::Status> finish_after_write_ ABSL_GUARDED_BY(mu_);
};

}  // namespace loom
