#include "server/reflection_service.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/status.h"

namespace loom {
namespace {

namespace rpb = grpc::reflection::v1alpha;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

class ReflectionReactor final
    : public grpc::ServerBidiReactor<rpb::ServerReflectionRequest, rpb::ServerReflectionResponse> {
 public:
  explicit ReflectionReactor(const grpc::Status& admitted) {
    if (!admitted.ok()) {
      Finish(admitted);
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client is done asking
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    Answer();
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void Answer() {
    response_.set_valid_host(request_.host());
    *response_.mutable_original_request() = request_;
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    switch (request_.message_request_case()) {
      case rpb::ServerReflectionRequest::kListServices: {
        auto* list = response_.mutable_list_services_response();
        for (const char* name : {"loom.v1.Generation", "grpc.health.v1.Health",
                                 "grpc.reflection.v1alpha.ServerReflection"}) {
          list->add_service()->set_name(name);
        }
        return;
      }
      case rpb::ServerReflectionRequest::kFileByFilename:
        return SendFile(pool->FindFileByName(request_.file_by_filename()),
                        absl::StrCat("no file named '", request_.file_by_filename(), "'"));
      case rpb::ServerReflectionRequest::kFileContainingSymbol:
        return SendFile(pool->FindFileContainingSymbol(request_.file_containing_symbol()),
                        absl::StrCat("no symbol named '", request_.file_containing_symbol(), "'"));
      case rpb::ServerReflectionRequest::kFileContainingExtension:
      case rpb::ServerReflectionRequest::kAllExtensionNumbersOfType:
        return Error(grpc::StatusCode::NOT_FOUND, "loom's API defines no extensions");
      case rpb::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
        break;
    }
    Error(grpc::StatusCode::INVALID_ARGUMENT, "message_request: set one of its fields");
  }

  // `file`, then its dependencies not yet sent on this stream, depth first.
  void SendFile(const FileDescriptor* file, const std::string& not_found) {
    if (file == nullptr) return Error(grpc::StatusCode::NOT_FOUND, not_found);
    auto* out = response_.mutable_file_descriptor_response();
    std::vector<const FileDescriptor*> todo = {file};
    while (!todo.empty()) {
      const FileDescriptor* f = todo.back();
      todo.pop_back();
      if (!sent_.insert(f->name()).second && f != file) continue;
      google::protobuf::FileDescriptorProto proto;
      f->CopyTo(&proto);
      out->add_file_descriptor_proto(proto.SerializeAsString());
      for (int i = 0; i < f->dependency_count(); ++i) todo.push_back(f->dependency(i));
    }
  }

  void Error(grpc::StatusCode code, const std::string& message) {
    auto* error = response_.mutable_error_response();
    error->set_error_code(static_cast<int32_t>(code));
    error->set_error_message(message);
  }

  rpb::ServerReflectionRequest request_;
  rpb::ServerReflectionResponse response_;
  absl::flat_hash_set<std::string> sent_;  // files this stream has sent
};

}  // namespace

grpc::ServerBidiReactor<rpb::ServerReflectionRequest, rpb::ServerReflectionResponse>*
ReflectionService::ServerReflectionInfo(grpc::CallbackServerContext* context) {
  return new ReflectionReactor(ToGrpcStatus(admission_->Admit(*context)));
}

}  // namespace loom
