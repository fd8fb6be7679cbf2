// What the CUDA runtime can see: the runtime and driver versions and each GPU.
// Used by `loom check-env` and, later, to size the KV pool from free memory.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace loom::cuda {

struct GpuInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  size_t total_memory_bytes = 0;
  size_t free_memory_bytes = 0;
  int multiprocessors = 0;
};

struct CudaEnvironment {
  int runtime_version = 0;  // e.g. 13000 for CUDA 13.0
  int driver_version = 0;   // 0 when no driver is installed
  std::vector<GpuInfo> gpus;
};

// Never fails: with no driver, driver_version is 0; with no usable device, `gpus` is
// empty and ListGpus says why.
CudaEnvironment ProbeCudaEnvironment();

// FailedPrecondition naming the CUDA error when no usable device is visible.
absl::StatusOr<std::vector<GpuInfo>> ListGpus();

// "13.0" from 13000.
std::string FormatCudaVersion(int version);

}  // namespace loom::cuda
