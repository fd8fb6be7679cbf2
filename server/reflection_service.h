// gRPC server reflection (grpc.reflection.v1alpha), so that grpcurl and grpc_cli can
// list and describe loom's services without the .proto files.
//
// It answers from the descriptors compiled into the binary: list_services names
// loom.v1.Generation, grpc.health.v1.Health and this service; file_by_filename and
// file_containing_symbol return the file's FileDescriptorProto followed by the
// dependencies this stream has not sent yet. Like every RPC but health, a call needs a
// valid API key and is refused while the server drains (GenerationService::Admit).
//
// Thread-safety: one reactor per call; the service itself is immutable.
#pragma once

#include <grpcpp/grpcpp.h>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/generation_service.h"

namespace loom {

class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // `admission` must outlive the service.
  explicit ReflectionService(const GenerationService* admission) : admission_(admission) {}

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

 private:
  const GenerationService* admission_;
};

}  // namespace loom
