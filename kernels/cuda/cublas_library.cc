#include "kernels/cuda/cublas_library.h"

#include <dlfcn.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace loom::cuda {
namespace {

constexpr const char* kCandidates[] = {"libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13"};

template <typename F>
bool Resolve(void* library, const char* name, F& out, std::string& error) {
  out = reinterpret_cast<F>(dlsym(library, name));
  if (out == nullptr && error.empty()) error = absl::StrCat(name, ": ", dlerror());
  return out != nullptr;
}

absl::StatusOr<CublasApi> Open() {
  void* library = nullptr;
  std::string tried;
  for (const char* name : kCandidates) {
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
    absl::StrAppend(&tried, tried.empty() ? "" : "; ", dlerror());
  }
  if (library == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("cannot open cuBLAS: ", tried));
  }
  CublasApi api{};
  std::string error;
  Resolve(library, "cublasCreate_v2", api.create, error);
  Resolve(library, "cublasDestroy_v2", api.destroy, error);
  Resolve(library, "cublasSetStream_v2", api.set_stream, error);
  Resolve(library, "cublasSetWorkspace_v2", api.set_workspace, error);
  Resolve(library, "cublasGemmEx", api.gemm_ex, error);
  Resolve(library, "cublasGetStatusName", api.status_name, error);
  if (!error.empty()) return absl::FailedPreconditionError(absl::StrCat("cuBLAS: ", error));
  return api;  // the library stays open for the life of the process
}

}  // namespace

absl::StatusOr<const CublasApi*> LoadCublas() {
  static const absl::StatusOr<CublasApi>* const api = new absl::StatusOr<CublasApi>(Open());
  if (!api->ok()) return api->status();
  return &**api;
}

}  // namespace loom::cuda
