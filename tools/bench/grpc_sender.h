// Sends benchmark requests to a running `loom serve` through the streaming Generate RPC,
// timing the response messages as the client receives them.
//
// Every request sends its prompt as token ids, decodes greedily (temperature 0), ignores
// EOS and stops at output_len, like EngineSender. Streams are spread round-robin over one
// connection per kStreamsPerConnection of the concurrency.
//
// Thread-safety: Send() may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "loom/v1/generation.grpc.pb.h"
#include "tools/bench/grpc_client.h"
#include "tools/bench/runner.h"

namespace loom::bench {

class GrpcSender : public RequestSender {
 public:
  static constexpr int kStreamsPerConnection = 64;

  GrpcSender(GrpcTarget target, int concurrency);

  RequestRecord Send(const BenchRequest& request) override;

 private:
  const GrpcTarget target_;
  std::vector<std::unique_ptr<v1::Generation::Stub>> stubs_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace loom::bench
