// Programmatic dependent launch (Hopper): back-to-back kernels overlap their edges.
//
// A kernel launched with LaunchPdl may be scheduled while the kernel before it in the
// stream is still running, so that its launch latency, and any prologue that reads only
// memory no earlier kernel writes (weights), hides behind the other's tail. The contract
// of every kernel launched this way:
//  - it calls WaitForPriorGrids() before it reads anything an earlier kernel wrote and
//    before it writes anything at all (an earlier kernel may still be reading it);
//  - it calls AllowDependentLaunch() after that wait, which lets the next kernel be
//    scheduled (only then, so that at most two kernels share the SMs).
// The wait returns once every earlier kernel has completed and its writes are visible,
// so the order of results is the stream's. Since a kernel lets the next one be
// scheduled only after its own wait, every kernel but the one just before has completed
// when a kernel starts: a prologue may also read what those wrote (the attention reads
// the keys that earlier steps cached while the RoPE kernel writes the new ones). One
// exception: the attention's combine pass releases the next kernel before its wait
// (SetCombineReleasesEarly), so that kernel may start while the attention's first pass
// still runs; its prologue reads only weights. On
// devices before sm_90 both are no-ops and the launch attribute is ignored: launches
// serialize as usual.
#pragma once

#include <cuda_runtime.h>

#include <utility>

namespace loom::cuda {

__device__ __forceinline__ void WaitForPriorGrids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void AllowDependentLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether LaunchPdl asks for the overlap (SetProgrammaticLaunch; on by default).
bool ProgrammaticLaunchEnabled();
// Whether the attention's combine pass releases the next kernel before its wait
// (SetCombineReleasesEarly; on by default).
bool CombineReleasesEarly();

// kernel<<<grid, block, shared_bytes, stream>>>(args...), allowed to overlap the end of
// the kernel before it (see above) while ProgrammaticLaunchEnabled().
template <typename... Params, typename... Args>
void LaunchPdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
               cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute attribute[1];
  attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute[0].val.programmaticStreamSerializationAllowed = ProgrammaticLaunchEnabled() ? 1 : 0;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = attribute;
  config.numAttrs = 1;
  cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace loom::cuda
