// cuBLAS, opened at run time rather than linked.
//
// Why: libcublasLt carries about 94 KB of thread-local storage. Linked, it joins the
// static TLS block that glibc places on every thread's stack, and threads created with
// small stacks then fail to start; civetweb's (the metrics endpoint's) have 100 KB, so
// `loom serve` could not export metrics. Opened with dlopen, its TLS is allocated
// lazily, only in the threads that call it. It also keeps the CPU-only paths of the
// binary free of a 700 MB library.
#pragma once

#include <cublas_v2.h>

#include "absl/status/statusor.h"

namespace loom::cuda {

// The cuBLAS entry points the backend uses.
struct CublasApi {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetWorkspace_v2) set_workspace;
  // cublasGemmEx is overloaded in C++, so its C signature is spelled out.
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int m, int n,
                            int k, const void* alpha, const void* a, cudaDataType a_type, int lda,
                            const void* b, cudaDataType b_type, int ldb, const void* beta, void* c,
                            cudaDataType c_type, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo);
  decltype(&cublasGetStatusName) status_name;
};

// Opens libcublas.so.13 (through the loader's search path, then the CUDA toolkit's
// lib64) once per process. FailedPrecondition naming the library and dlerror() when it
// or a symbol is missing.
absl::StatusOr<const CublasApi*> LoadCublas();

}  // namespace loom::cuda
