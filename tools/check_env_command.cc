#include "tools/check_env_command.h"

#include <iostream>

#include "loom/version.h"
#ifdef LOOM_HAVE_CUDA
#include "kernels/cuda/device_info.h"
#endif

namespace loom {
namespace {

void RunCheckEnv() {
  std::cout << "loom " << kLoomVersion << " (commit " << kLoomCommit << ")\n";
#ifdef LOOM_HAVE_CUDA
  std::cout << "backends: cpu, cuda\n";
  const cuda::CudaEnvironment env = cuda::ProbeCudaEnvironment();
  std::cout << "CUDA: yes (built with runtime " << cuda::FormatCudaVersion(env.runtime_version)
            << "; driver "
            << (env.driver_version ? cuda::FormatCudaVersion(env.driver_version) : "not found")
            << ")\n";
  if (env.driver_version == 0) {
    std::cout << "GPUs: none (no NVIDIA driver found)\n";
    return;
  }
  auto gpus = cuda::ListGpus();
  if (!gpus.ok()) {
    std::cout << "GPUs: none (" << gpus.status().message() << ")\n";
    return;
  }
  std::cout << "GPUs: " << gpus->size() << "\n";
  for (const cuda::GpuInfo& gpu : *gpus) {
    std::cout << "  [" << gpu.index << "] " << gpu.name << ", sm_" << gpu.compute_major
              << gpu.compute_minor << ", " << gpu.multiprocessors << " SMs, "
              << gpu.total_memory_bytes / (1 << 20) << " MiB (" << gpu.free_memory_bytes / (1 << 20)
              << " MiB free)\n";
  }
#else
  std::cout << "backends: cpu\n";
  std::cout << "CUDA: no (built without LOOM_CUDA)\nGPUs: not probed\n";
#endif
}

}  // namespace

void AddCheckEnvCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("check-env", "Print build features and visible GPUs");
  cmd->callback([&exit_code] {
    RunCheckEnv();
    exit_code = 0;
  });
}

}  // namespace loom
