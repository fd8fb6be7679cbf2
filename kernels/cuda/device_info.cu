#include <cuda_runtime.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/cuda/device_info.h"

namespace loom::cuda {

std::string FormatCudaVersion(int version) {
  return absl::StrCat(version / 1000, ".", (version % 1000) / 10);
}

absl::StatusOr<std::vector<GpuInfo>> ListGpus() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    return absl::FailedPreconditionError(
        absl::StrCat("no usable CUDA device: ", cudaGetErrorString(err)));
  }
  std::vector<GpuInfo> gpus;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    err = cudaGetDeviceProperties(&prop, i);
    if (err != cudaSuccess) {
      return absl::FailedPreconditionError(
          absl::StrCat("cudaGetDeviceProperties(", i, "): ", cudaGetErrorString(err)));
    }
    GpuInfo info;
    info.index = i;
    info.name = prop.name;
    info.compute_major = prop.major;
    info.compute_minor = prop.minor;
    info.total_memory_bytes = prop.totalGlobalMem;
    info.multiprocessors = prop.multiProcessorCount;
    if (cudaSetDevice(i) == cudaSuccess) {
      size_t free_bytes = 0;
      size_t total_bytes = 0;
      if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
        info.free_memory_bytes = free_bytes;
      }
    }
    gpus.push_back(std::move(info));
  }
  return gpus;
}

CudaEnvironment ProbeCudaEnvironment() {
  CudaEnvironment env;
  cudaRuntimeGetVersion(&env.runtime_version);
  if (cudaDriverGetVersion(&env.driver_version) != cudaSuccess) env.driver_version = 0;
  auto gpus = ListGpus();
  if (gpus.ok()) env.gpus = *std::move(gpus);
  return env;
}

}  // namespace loom::cuda
