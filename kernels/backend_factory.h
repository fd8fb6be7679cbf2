// Creates the backend a model runs on, by name: the one place that knows every backend.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace loom {

struct BackendOptions {
  std::string kind = "cpu";   // "cpu" or "cuda": the YAML's `backend`
  int device = 0;             // GPU index (cuda)
  DType dtype = DType::kF32;  // compute dtype: F32 on cpu; BF16 or F16 on cuda
};

// InvalidArgument for an unknown kind or a dtype the backend does not compute in;
// Unimplemented for cuda in a build without it; CudaBackend::Create's errors.
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options);

// Whether this binary was built with the CUDA backend.
bool CudaBackendBuilt();

}  // namespace loom
