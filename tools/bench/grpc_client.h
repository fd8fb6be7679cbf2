// What `loom bench --server` needs of a running `loom serve` besides Generate: stubs
// (each on a connection of its own), the model's limits (ListModels) and its tokenizer
// (Tokenize).
//
// Thread-safety: the functions are safe to call concurrently; so are the stubs'.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loom/v1/generation.grpc.pb.h"
#include "tools/bench/sharegpt.h"

namespace loom::bench {

struct GrpcTarget {
  std::string address;  // HOST:PORT
  std::string api_key;  // sent as "authorization: Bearer KEY" when not empty
  std::string model;    // empty: the server's default model
};

// A stub on a connection of its own: stubs made with different `connection` numbers do
// not share an HTTP/2 connection, so hundreds of streams are not all multiplexed on one.
std::unique_ptr<v1::Generation::Stub> NewStub(const GrpcTarget& target, int connection);

void Authorize(const GrpcTarget& target, grpc::ClientContext& context);

// "CODE: message" of a gRPC status, as an absl::Status of the same code.
absl::Status FromGrpc(const grpc::Status& status);

struct RemoteModel {
  std::string name;
  int32_t vocab_size = 0;            // ModelInfo.vocab_size
  std::vector<int32_t> special_ids;  // ModelInfo.special_token_ids, ascending
  int max_context = 0;               // ModelInfo.max_context: session_len
};

// The target's model (the first listed, the server's default, when target.model is empty)
// from ListModels. Errors: the RPC's; NotFound for a model the server does not list;
// FailedPrecondition when the server does not report vocab_size (an older loom).
absl::StatusOr<RemoteModel> FetchRemoteModel(v1::Generation::Stub& stub, const GrpcTarget& target);

// An EncodeFn that calls Tokenize on the target's model. `stub` must outlive it.
EncodeFn RemoteEncoder(v1::Generation::Stub* stub, const GrpcTarget& target);

}  // namespace loom::bench
