// The one place where an absl::Status becomes a grpc::Status (DESIGN.md, "Errors").
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace loom {

// Same code (the two enums share their numbering), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace loom
