#include "kernels/backend_factory.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/cpu/cpu_backend.h"
#if LOOM_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace loom {

bool CudaBackendBuilt() { return LOOM_HAVE_CUDA != 0; }

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options) {
  if (options.kind == "cpu") {
    if (options.dtype != DType::kF32) {
      return absl::InvalidArgumentError(
          absl::StrCat("dtype: the cpu backend computes in float32, not ",
                       std::string(DTypeName(options.dtype))));
    }
    return std::make_unique<CpuBackend>();
  }
  if (options.kind == "cuda") {
#if LOOM_HAVE_CUDA
    auto backend = CudaBackend::Create({.device = options.device, .dtype = options.dtype});
    if (!backend.ok()) return backend.status();
    return std::unique_ptr<Backend>(*std::move(backend));
#else
    return absl::UnimplementedError(
        "backend: this loom was built without CUDA (configure with -DLOOM_CUDA=ON)");
#endif
  }
  return absl::InvalidArgumentError(
      absl::StrCat("backend: unknown backend '", options.kind, "'; use cpu or cuda"));
}

}  // namespace loom
