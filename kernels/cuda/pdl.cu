#include <atomic>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/pdl.cuh"

namespace loom::cuda {
namespace {

std::atomic<bool> programmatic_launch{true};
std::atomic<bool> combine_releases_early{true};

}  // namespace

bool ProgrammaticLaunchEnabled() { return programmatic_launch.load(std::memory_order_relaxed); }

void SetProgrammaticLaunch(bool enabled) {
  programmatic_launch.store(enabled, std::memory_order_relaxed);
}

bool CombineReleasesEarly() { return combine_releases_early.load(std::memory_order_relaxed); }

void SetCombineReleasesEarly(bool enabled) {
  combine_releases_early.store(enabled, std::memory_order_relaxed);
}

}  // namespace loom::cuda
