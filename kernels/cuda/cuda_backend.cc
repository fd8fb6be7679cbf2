#include "kernels/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/cuda/cublas_library.h"
#include "kernels/cuda/launch.h"

namespace loom {
namespace {

// Whether the environment variable `name` is set to exactly `value`.
bool EnvIs(const char* name, std::string_view value) {
  const char* set = std::getenv(name);
  return set != nullptr && std::string_view(set) == value;
}

// A fault here means a bug or a dead device; the context is unusable afterwards.
#define LOOM_CUDA_CHECK(expr)                                         \
  do {                                                                \
    const cudaError_t loom_cuda_error = (expr);                       \
    LOOM_CHECK(loom_cuda_error == cudaSuccess)                        \
        << #expr << ": " << cudaGetErrorName(loom_cuda_error) << ": " \
        << cudaGetErrorString(loom_cuda_error);                       \
  } while (false)

#define LOOM_CUBLAS_CHECK(expr)                                     \
  do {                                                              \
    const cublasStatus_t loom_cublas_status = (expr);               \
    LOOM_CHECK(loom_cublas_status == CUBLAS_STATUS_SUCCESS)         \
        << #expr << ": " << cublas.status_name(loom_cublas_status); \
  } while (false)

constexpr size_t kCublasWorkspaceBytes = 32u << 20;
// Split-attention partials: tokens * heads * splits * (head_dim + 2) floats.
constexpr size_t kAttentionWorkspaceBytes = 64u << 20;
// Sequences a mixed batch's prefill launch can list its tiles for.
constexpr int kTileScratch = 1 << 16;
// Splits shorter than this many keys cost more to combine than they save.
constexpr int kMinKeysPerSplit = 64;
// Up to this many rows, sampling spreads each row's first pass over several blocks, at
// most kMaxSampleChunks, so that a small batch does not read its logits on a few SMs.
constexpr int kSampleChunkRows = 128;
constexpr int kMaxSampleChunks = 16;

void CheckLaunch() { LOOM_CUDA_CHECK(cudaGetLastError()); }

cuda::FloatType FloatTypeOf(DType dtype) {
  return dtype == DType::kF16 ? cuda::FloatType::kF16 : cuda::FloatType::kBF16;
}

cudaDataType_t CudaDataTypeOf(DType dtype) {
  return dtype == DType::kF16 ? CUDA_R_16F : CUDA_R_16BF;
}

// The GemvNorm of `norm` (none for nullptr), its weight checked against x: [rows, k].
cuda::GemvNorm GemvNormOf(const RmsNormInput* norm, const Tensor& x) {
  if (norm == nullptr) return {};
  LOOM_CHECK(norm->weight.dtype == x.dtype && norm->weight.numel() == x.dim(1))
      << "norm weight " << norm->weight.ShapeString() << " for rows " << x.ShapeString();
  return {.weight = norm->weight.data, .eps = norm->eps};
}

class CudaGraph final : public BackendGraph {
 public:
  CudaGraph(cudaGraphExec_t exec, cudaStream_t stream) : exec_(exec), stream_(stream) {}
  ~CudaGraph() override { cudaGraphExecDestroy(exec_); }
  void Replay() override { LOOM_CUDA_CHECK(cudaGraphLaunch(exec_, stream_)); }

 private:
  cudaGraphExec_t exec_;
  cudaStream_t stream_;
};

}  // namespace

struct CudaBackend::State {
  const cuda::CublasApi* cublas_api = nullptr;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_workspace = nullptr;
  float* attention_workspace = nullptr;
  int32_t* tile_scratch = nullptr;  // kTileScratch ints: the prefill tiles of a mixed batch
  std::vector<int32_t> tile_scratch_contents;  // what tile_scratch holds
  float* sample_partials = nullptr;            // kSampleChunkRows * kMaxSampleChunks * 4 floats
  int32_t* sample_counters = nullptr;          // kSampleChunkRows, zero between launches
  int num_sms = 0;
  // Recorded after each CopyToHostAsync: ticket t's is copy_events[t % size].
  std::array<cudaEvent_t, Backend::kMaxPendingHostCopies> copy_events{};
  int64_t host_copies = 0;

  ~State() {
    for (cudaEvent_t event : copy_events) {
      if (event != nullptr) cudaEventDestroy(event);
    }
    if (cublas != nullptr) cublas_api->destroy(cublas);
    if (cublas_workspace != nullptr) cudaFree(cublas_workspace);
    if (attention_workspace != nullptr) cudaFree(attention_workspace);
    if (tile_scratch != nullptr) cudaFree(tile_scratch);
    if (sample_partials != nullptr) cudaFree(sample_partials);
    if (sample_counters != nullptr) cudaFree(sample_counters);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(
    const CudaBackendOptions& options) {
  if (options.dtype != DType::kBF16 && options.dtype != DType::kF16) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype: the cuda backend computes in bfloat16 "
                     "or float16, not ",
                     std::string(DTypeName(options.dtype))));
  }
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || options.device < 0 || options.device >= count) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cuda device ", options.device, " is not usable: ",
        err != cudaSuccess ? cudaGetErrorString(err) : absl::StrCat(count, " devices visible")));
  }
  if (err = cudaSetDevice(options.device); err != cudaSuccess) {
    return absl::FailedPreconditionError(
        absl::StrCat("cudaSetDevice(", options.device, "): ", cudaGetErrorString(err)));
  }
  // Programmatic dependent launch needs sm_90 (kernels/cuda/pdl.cuh); LOOM_CUDA_PDL=0
  // serializes every kernel launch, for bisecting.
  int major = 0;
  LOOM_CUDA_CHECK(
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, options.device));
  cuda::SetProgrammaticLaunch(major >= 9 && !EnvIs("LOOM_CUDA_PDL", "0"));
  auto cublas_api = cuda::LoadCublas();
  if (!cublas_api.ok()) return cublas_api.status();
  auto state = std::make_unique<State>();
  state->cublas_api = *cublas_api;
  const cuda::CublasApi& cublas = **cublas_api;
  LOOM_CUDA_CHECK(
      cudaDeviceGetAttribute(&state->num_sms, cudaDevAttrMultiProcessorCount, options.device));
  LOOM_CUDA_CHECK(cudaStreamCreateWithFlags(&state->stream, cudaStreamNonBlocking));
  for (cudaEvent_t& event : state->copy_events) {
    LOOM_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  }
  if (cublas.create(&state->cublas) != CUBLAS_STATUS_SUCCESS) {
    return absl::FailedPreconditionError("cublasCreate failed");
  }
  if (cudaMalloc(&state->cublas_workspace, kCublasWorkspaceBytes) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&state->attention_workspace), kAttentionWorkspaceBytes) !=
          cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&state->tile_scratch), kTileScratch * sizeof(int32_t)) !=
          cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&state->sample_partials),
                 kSampleChunkRows * kMaxSampleChunks * 4 * sizeof(float)) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&state->sample_counters),
                 kSampleChunkRows * sizeof(int32_t)) != cudaSuccess) {
    cudaGetLastError();
    return absl::ResourceExhaustedError(
        "cuda: no memory for the cuBLAS, attention and sampling workspaces");
  }
  // On the backend's stream: a non-blocking stream does not wait for the legacy one.
  LOOM_CUDA_CHECK(cudaMemsetAsync(state->sample_counters, 0, kSampleChunkRows * sizeof(int32_t),
                                  state->stream));
  LOOM_CUBLAS_CHECK(cublas.set_stream(state->cublas, state->stream));
  // A fixed workspace keeps cuBLAS from allocating, which graph capture forbids.
  LOOM_CUBLAS_CHECK(
      cublas.set_workspace(state->cublas, state->cublas_workspace, kCublasWorkspaceBytes));
  CudaBackendOptions chosen = options;
  if (EnvIs("LOOM_CUDA_FUSE", "0")) chosen.fuse = false;
  if (EnvIs("LOOM_CUDA_NORM_IN_LINEAR", "1")) chosen.norm_in_linear = true;
  return std::unique_ptr<CudaBackend>(new CudaBackend(chosen, std::move(state)));
}

CudaBackend::CudaBackend(const CudaBackendOptions& options, std::unique_ptr<State> state)
    : options_(options), state_(std::move(state)) {}

CudaBackend::~CudaBackend() {
  if (state_ != nullptr && state_->stream != nullptr) cudaStreamSynchronize(state_->stream);
}

void CudaBackend::UseDevice() const {
  // The current device is per thread, and the engine's worker is not the thread that
  // created the backend.
  thread_local int current = -1;
  if (current != options_.device) {
    LOOM_CUDA_CHECK(cudaSetDevice(options_.device));
    current = options_.device;
  }
}

std::string CudaBackend::name() const { return absl::StrCat("cuda:", options_.device); }

absl::StatusOr<DeviceBuffer> CudaBackend::Allocate(size_t bytes) {
  UseDevice();
  void* data = nullptr;
  if (cudaError_t err = cudaMalloc(&data, std::max<size_t>(bytes, 1)); err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky allocation error
    return absl::ResourceExhaustedError(
        absl::StrCat(name(), ": cannot allocate ", bytes, " bytes: ", cudaGetErrorString(err)));
  }
  // Zeroed like the CPU backend's memory, so that padding never holds NaNs.
  LOOM_CUDA_CHECK(cudaMemsetAsync(data, 0, std::max<size_t>(bytes, 1), state_->stream));
  return DeviceBuffer(data, bytes, [](void* p) { cudaFree(p); });
}

void CudaBackend::CopyToDevice(void* dst, const void* src, size_t bytes) {
  UseDevice();
  if (bytes == 0) return;
  // From pageable memory the call returns once `src` is staged, so the caller may reuse it.
  LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, state_->stream));
}

void CudaBackend::CopyToHost(void* dst, const void* src, size_t bytes) {
  UseDevice();
  if (bytes != 0) {
    LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, state_->stream));
  }
  LOOM_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
}

absl::StatusOr<DeviceBuffer> CudaBackend::AllocateHost(size_t bytes) {
  UseDevice();
  void* data = nullptr;
  if (cudaError_t err = cudaHostAlloc(&data, std::max<size_t>(bytes, 1), cudaHostAllocDefault);
      err != cudaSuccess) {
    cudaGetLastError();
    return absl::ResourceExhaustedError(absl::StrCat(
        name(), ": cannot page-lock ", bytes, " bytes of host memory: ", cudaGetErrorString(err)));
  }
  std::memset(data, 0, std::max<size_t>(bytes, 1));
  return DeviceBuffer(data, bytes, [](void* p) { cudaFreeHost(p); });
}

void CudaBackend::CopyOnDevice(void* dst, const void* src, size_t bytes) {
  UseDevice();
  if (bytes == 0) return;
  LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, state_->stream));
}

int64_t CudaBackend::CopyToHostAsync(void* dst, const void* src, size_t bytes) {
  UseDevice();
  if (bytes != 0) {
    LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, state_->stream));
  }
  const int64_t ticket = ++state_->host_copies;
  LOOM_CUDA_CHECK(
      cudaEventRecord(state_->copy_events[ticket % kMaxPendingHostCopies], state_->stream));
  return ticket;
}

void CudaBackend::WaitForHostCopy(int64_t ticket) {
  UseDevice();
  LOOM_CHECK(ticket <= state_->host_copies && ticket > state_->host_copies - kMaxPendingHostCopies)
      << "host copy " << ticket << " is not one of the last " << kMaxPendingHostCopies << " of "
      << state_->host_copies;
  LOOM_CUDA_CHECK(cudaEventSynchronize(state_->copy_events[ticket % kMaxPendingHostCopies]));
}

void CudaBackend::Synchronize() {
  UseDevice();
  LOOM_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
}

absl::Status CudaBackend::SupportsShape(int hidden, int head_dim, int num_kv_heads,
                                        int intermediate) const {
  if (!cuda::PagedAttentionSupports(head_dim)) {
    return absl::UnimplementedError(absl::StrCat(
        "the cuda backend's attention takes head_dim 32, 64, 128 or 256, not ", head_dim));
  }
  for (auto [name, value] : {std::pair<const char*, int>{"hidden_size", hidden},
                             {"intermediate_size", intermediate},
                             {"num_key_value_heads * head_dim", num_kv_heads * head_dim}}) {
    if (value % 8 != 0) {
      return absl::UnimplementedError(
          absl::StrCat("the cuda backend needs ", name, " to be a multiple of 8, not ", value));
    }
  }
  return absl::OkStatus();
}

std::optional<DeviceMemory> CudaBackend::MemoryInfo() const {
  UseDevice();
  DeviceMemory memory{.device = options_.device};
  if (cudaMemGetInfo(&memory.free_bytes, &memory.total_bytes) != cudaSuccess) {
    cudaGetLastError();
    return std::nullopt;
  }
  return memory;
}

absl::StatusOr<std::unique_ptr<BackendGraph>> CudaBackend::Capture(
    const std::function<void()>& record) {
  UseDevice();
  cudaStream_t stream = state_->stream;
  LOOM_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  record();
  cudaGraph_t graph = nullptr;
  if (cudaError_t err = cudaStreamEndCapture(stream, &graph); err != cudaSuccess) {
    cudaGetLastError();
    return absl::InternalError(absl::StrCat("CUDA graph capture: ", cudaGetErrorString(err)));
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return absl::InternalError(absl::StrCat("CUDA graph instantiation: ", cudaGetErrorString(err)));
  }
  return std::unique_ptr<BackendGraph>(new CudaGraph(exec, stream));
}

void CudaBackend::Embedding(const Tensor& table, const Tensor& ids, Tensor out) {
  UseDevice();
  LOOM_CHECK(table.dtype == options_.dtype && out.dtype == options_.dtype &&
             ids.dtype == DType::kI32);
  const int64_t cols = table.dim(1);
  LOOM_CHECK(out.dim(0) == ids.dim(0) && out.dim(1) == cols && cols % 8 == 0)
      << "out " << out.ShapeString() << " for ids " << ids.ShapeString() << " and table "
      << table.ShapeString();
  cuda::LaunchGatherRows(FloatTypeOf(options_.dtype), table.data, ids.as<int32_t>(),
                         static_cast<int>(ids.dim(0)), static_cast<int>(cols), out.data,
                         state_->stream);
  CheckLaunch();
}

void CudaBackend::RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor out) {
  UseDevice();
  const int64_t hidden = x.dim(1);
  LOOM_CHECK(x.dtype == options_.dtype && weight.numel() == hidden && out.numel() == x.numel() &&
             hidden % 8 == 0)
      << "x " << x.ShapeString() << " weight " << weight.ShapeString();
  cuda::LaunchRmsNorm(FloatTypeOf(options_.dtype), x.data, weight.data, eps,
                      static_cast<int>(x.dim(0)), static_cast<int>(hidden), out.data,
                      state_->stream);
  CheckLaunch();
}

void CudaBackend::AddRmsNorm(Tensor x, Tensor residual, const Tensor& weight, float eps) {
  UseDevice();
  const int64_t hidden = x.dim(1);
  LOOM_CHECK(x.dtype == options_.dtype && residual.numel() == x.numel() &&
             weight.numel() == hidden && hidden % 8 == 0)
      << "x " << x.ShapeString() << " residual " << residual.ShapeString();
  cuda::LaunchAddRmsNorm(FloatTypeOf(options_.dtype), x.data, residual.data, weight.data, eps,
                         static_cast<int>(x.dim(0)), static_cast<int>(hidden), state_->stream);
  CheckLaunch();
}

bool CudaBackend::PrefersNormInLinear(int64_t rows, int64_t hidden) const {
  return options_.fuse && options_.norm_in_linear && rows <= cuda::kMaxGemvRows &&
         hidden % 8 == 0 &&
         rows * hidden * static_cast<int64_t>(DTypeSize(options_.dtype)) <= cuda::kMaxGemvNormBytes;
}

void CudaBackend::Linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor out) {
  LinearWithNorm(x, nullptr, weight, bias, out);
}

void CudaBackend::RmsNormLinear(const RmsNormInput& in, const Tensor& weight, const Tensor& bias,
                                Tensor out) {
  if (!PrefersNormInLinear(in.residual.dim(0), in.residual.dim(1))) {
    Backend::RmsNormLinear(in, weight, bias, out);
    return;
  }
  LinearWithNorm(in.residual, &in, weight, bias, out);
}

void CudaBackend::LinearAddToResidual(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      Tensor product, Tensor residual) {
  UseDevice();
  const int64_t rows = x.dim(0);
  const int64_t in = x.dim(1);
  const int64_t out_features = weight.dim(0);
  LOOM_CHECK(residual.dtype == options_.dtype && residual.dim(0) == rows &&
             residual.dim(1) == out_features && product.numel() == residual.numel() &&
             out_features % 8 == 0)
      << "x " << x.ShapeString() << " weight " << weight.ShapeString() << " residual "
      << residual.ShapeString();
  if (rows == 0) return;
  if (!options_.fuse || rows > cuda::kMaxGemvRows || in % 8 != 0) {
    // cuBLAS or the plain GEMV into product, then the add, rounded as AddRmsNorm's.
    Linear(x, weight, bias, product.Reshape({rows, out_features}));
    cuda::LaunchAdd(FloatTypeOf(options_.dtype), product.data, rows * out_features, residual.data,
                    state_->stream);
    CheckLaunch();
    return;
  }
  LOOM_CHECK(x.dtype == options_.dtype && weight.dtype == options_.dtype && weight.dim(1) == in)
      << "x " << x.ShapeString() << " weight " << weight.ShapeString();
  LOOM_CHECK(bias.data == nullptr || bias.numel() == out_features) << bias.ShapeString();
  cuda::LaunchGemvAddResidual(FloatTypeOf(options_.dtype), x.data, weight.data, bias.data,
                              static_cast<int>(rows), static_cast<int>(out_features),
                              static_cast<int>(in), residual.data, state_->stream);
  CheckLaunch();
}

void CudaBackend::LinearWithNorm(const Tensor& x, const RmsNormInput* norm, const Tensor& weight,
                                 const Tensor& bias, Tensor out) {
  UseDevice();
  const int64_t rows = x.dim(0);
  const int64_t in = x.dim(1);
  const int64_t out_features = weight.dim(0);
  LOOM_CHECK(x.dtype == options_.dtype && weight.dtype == options_.dtype &&
             out.dtype == options_.dtype && weight.dim(1) == in && out.dim(0) == rows &&
             out.dim(1) == out_features)
      << "x " << x.ShapeString() << " weight " << weight.ShapeString() << " out "
      << out.ShapeString();
  LOOM_CHECK(bias.data == nullptr || bias.numel() == out_features) << bias.ShapeString();
  if (rows == 0) return;
  const cuda::FloatType type = FloatTypeOf(options_.dtype);
  if (rows <= cuda::kMaxGemvRows && in % 8 == 0) {
    cuda::LaunchGemv(type, x.data, weight.data, bias.data, static_cast<int>(rows),
                     static_cast<int>(out_features), static_cast<int>(in), GemvNormOf(norm, x),
                     out.data, state_->stream);
    CheckLaunch();
    return;
  }
  LOOM_CHECK(norm == nullptr) << "a norm fused into a cuBLAS product of " << rows << " rows";
  // Row-major out[rows, n] = x[rows, k] @ w[n, k]^T is column-major out^T = w^T x^T:
  // cuBLAS sees w as a k x n matrix to transpose and x as k x rows. A bias is broadcast
  // into out first and added with beta = 1, so the sum is rounded once.
  float beta = 0.0f;
  if (bias.data != nullptr) {
    cuda::LaunchBroadcastRows(type, bias.data, static_cast<int>(rows),
                              static_cast<int>(out_features), out.data, state_->stream);
    CheckLaunch();
    beta = 1.0f;
  }
  const float alpha = 1.0f;
  const cudaDataType_t dt = CudaDataTypeOf(options_.dtype);
  const cuda::CublasApi& cublas = *state_->cublas_api;
  LOOM_CUBLAS_CHECK(
      cublas.gemm_ex(state_->cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out_features),
                     static_cast<int>(rows), static_cast<int>(in), &alpha, weight.data, dt,
                     static_cast<int>(in), x.data, dt, static_cast<int>(in), &beta, out.data, dt,
                     static_cast<int>(out_features), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::Rope(Tensor qkv, int num_heads, const Tensor& positions, const RopeParams& rope) {
  UseDevice();
  const int64_t total_heads = qkv.dim(1);
  const int64_t head_dim = qkv.dim(2);
  const int64_t kv_heads = (total_heads - num_heads) / 2;
  LOOM_CHECK(qkv.dtype == options_.dtype && positions.dtype == DType::kI32 &&
             rope.inv_freq.dtype == DType::kF32 && positions.dim(0) == qkv.dim(0) &&
             num_heads + 2 * kv_heads == total_heads && rope.rotary_dim <= head_dim &&
             rope.inv_freq.numel() == rope.rotary_dim / 2)
      << "qkv " << qkv.ShapeString() << " with " << num_heads << " query heads";
  cuda::LaunchRope(FloatTypeOf(options_.dtype), qkv.data, static_cast<int>(qkv.dim(0)),
                   static_cast<int>(total_heads), static_cast<int>(num_heads + kv_heads),
                   static_cast<int>(head_dim), rope.rotary_dim, positions.as<int32_t>(),
                   rope.inv_freq.as<float>(), state_->stream);
  CheckLaunch();
}

void CudaBackend::WriteKvCache(const Tensor& qkv, int num_heads, const Tensor& slots,
                               const KvCacheView& cache) {
  UseDevice();
  const int64_t head_dim = qkv.dim(2);
  const int kv_heads = cache.num_kv_heads();
  LOOM_CHECK(qkv.dtype == options_.dtype && cache.k.dtype == options_.dtype &&
             slots.dtype == DType::kI32 && num_heads + 2 * kv_heads == qkv.dim(1) &&
             head_dim == cache.head_dim() && kv_heads * head_dim % 8 == 0)
      << "qkv " << qkv.ShapeString() << " into cache " << cache.k.ShapeString();
  cuda::LaunchWriteKv(FloatTypeOf(options_.dtype), qkv.data, static_cast<int>(qkv.dim(0)),
                      num_heads, kv_heads, static_cast<int>(head_dim), slots.as<int32_t>(),
                      cache.k.data, cache.v.data, state_->stream);
  CheckLaunch();
}

void CudaBackend::RopeAndWriteKvCache(Tensor qkv, int num_heads, const Tensor& positions,
                                      const RopeParams& rope, const Tensor& slots,
                                      const KvCacheView& cache) {
  UseDevice();
  const int64_t head_dim = qkv.dim(2);
  const int kv_heads = cache.num_kv_heads();
  LOOM_CHECK(qkv.dtype == options_.dtype && cache.k.dtype == options_.dtype &&
             positions.dtype == DType::kI32 && slots.dtype == DType::kI32 &&
             rope.inv_freq.dtype == DType::kF32 && positions.dim(0) == qkv.dim(0) &&
             slots.dim(0) == qkv.dim(0) && num_heads + 2 * kv_heads == qkv.dim(1) &&
             head_dim == cache.head_dim() && rope.rotary_dim <= head_dim &&
             rope.inv_freq.numel() == rope.rotary_dim / 2)
      << "qkv " << qkv.ShapeString() << " with " << num_heads << " query heads into cache "
      << cache.k.ShapeString();
  cuda::LaunchRopeWriteKv(FloatTypeOf(options_.dtype), qkv.data, static_cast<int>(qkv.dim(0)),
                          num_heads, kv_heads, static_cast<int>(head_dim), rope.rotary_dim,
                          positions.as<int32_t>(), rope.inv_freq.as<float>(), slots.as<int32_t>(),
                          cache.k.data, cache.v.data, state_->stream);
  CheckLaunch();
}

void CudaBackend::LinearRopeAndWriteKvCache(const Tensor& x, const Tensor& weight,
                                            const Tensor& bias, Tensor qkv, int num_heads,
                                            const Tensor& positions, const RopeParams& rope,
                                            const Tensor& slots, const KvCacheView& cache) {
  LinearRopeAndWriteKvCacheWithNorm(x, nullptr, weight, bias, qkv, num_heads, positions, rope,
                                    slots, cache);
}

void CudaBackend::RmsNormLinearRopeAndWriteKvCache(const RmsNormInput& in, const Tensor& weight,
                                                   const Tensor& bias, Tensor qkv, int num_heads,
                                                   const Tensor& positions, const RopeParams& rope,
                                                   const Tensor& slots, const KvCacheView& cache) {
  const int64_t rows = in.residual.dim(0);
  if (rows == 0) return;
  if (!PrefersNormInLinear(rows, in.residual.dim(1)) || rope.rotary_dim != qkv.dim(2)) {
    Backend::RmsNormLinearRopeAndWriteKvCache(in, weight, bias, qkv, num_heads, positions, rope,
                                              slots, cache);
    return;
  }
  LinearRopeAndWriteKvCacheWithNorm(in.residual, &in, weight, bias, qkv, num_heads, positions, rope,
                                    slots, cache);
}

void CudaBackend::LinearRopeAndWriteKvCacheWithNorm(const Tensor& x, const RmsNormInput* norm,
                                                    const Tensor& weight, const Tensor& bias,
                                                    Tensor qkv, int num_heads,
                                                    const Tensor& positions, const RopeParams& rope,
                                                    const Tensor& slots, const KvCacheView& cache) {
  UseDevice();
  const int64_t rows = x.dim(0);
  const int64_t in = x.dim(1);
  const int64_t head_dim = qkv.dim(2);
  if (!options_.fuse || rows == 0 || rows > cuda::kMaxGemvRows || in % 8 != 0 ||
      rope.rotary_dim != head_dim) {
    // Unfused, cuBLAS, or a partial rotation: the two passes.
    LOOM_CHECK(norm == nullptr) << "a norm fused into a two-pass projection of " << rows << " rows";
    Backend::LinearRopeAndWriteKvCache(x, weight, bias, qkv, num_heads, positions, rope, slots,
                                       cache);
    return;
  }
  const int kv_heads = cache.num_kv_heads();
  const int64_t features = qkv.dim(1) * head_dim;
  LOOM_CHECK(x.dtype == options_.dtype && weight.dtype == options_.dtype &&
             qkv.dtype == options_.dtype && cache.k.dtype == options_.dtype &&
             weight.dim(0) == features && weight.dim(1) == in && qkv.dim(0) == rows &&
             num_heads + 2 * kv_heads == qkv.dim(1) && head_dim == cache.head_dim() &&
             positions.dtype == DType::kI32 && slots.dtype == DType::kI32 &&
             positions.dim(0) == rows && slots.dim(0) == rows &&
             rope.inv_freq.dtype == DType::kF32 && rope.inv_freq.numel() == head_dim / 2)
      << "x " << x.ShapeString() << " weight " << weight.ShapeString() << " qkv "
      << qkv.ShapeString() << " cache " << cache.k.ShapeString();
  LOOM_CHECK(bias.data == nullptr || bias.numel() == features) << bias.ShapeString();
  cuda::RopeKvParams p;
  p.num_heads = num_heads;
  p.kv_heads = kv_heads;
  p.head_dim = static_cast<int>(head_dim);
  p.positions = positions.as<int32_t>();
  p.inv_freq = rope.inv_freq.as<float>();
  p.slots = slots.as<int32_t>();
  p.k_cache = cache.k.data;
  p.v_cache = cache.v.data;
  cuda::LaunchGemvRopeKv(FloatTypeOf(options_.dtype), x.data, weight.data, bias.data,
                         static_cast<int>(rows), static_cast<int>(in), GemvNormOf(norm, x), p,
                         qkv.data, state_->stream);
  CheckLaunch();
}

void CudaBackend::PagedAttention(const Tensor& qkv, int num_heads, const KvCacheView& cache,
                                 const AttentionBatch& batch, float scale, Tensor out) {
  UseDevice();
  const int num_tokens = static_cast<int>(qkv.dim(0));
  const int head_dim = static_cast<int>(qkv.dim(2));
  const int kv_heads = cache.num_kv_heads();
  LOOM_CHECK(qkv.dtype == options_.dtype && out.dtype == options_.dtype &&
             head_dim == cache.head_dim() && num_heads % kv_heads == 0 &&
             num_heads + 2 * kv_heads == qkv.dim(1) &&
             out.numel() == static_cast<int64_t>(num_tokens) * num_heads * head_dim &&
             cuda::PagedAttentionSupports(head_dim) && batch.max_q_len > 0 &&
             batch.max_kv_len >= batch.max_q_len)
      << "qkv " << qkv.ShapeString() << ", cache " << cache.k.ShapeString() << ", max_q_len "
      << batch.max_q_len << ", max_kv_len " << batch.max_kv_len;
  cuda::PagedAttentionParams p;
  p.type = FloatTypeOf(options_.dtype);
  p.qkv = qkv.data;
  p.k_cache = cache.k.data;
  p.v_cache = cache.v.data;
  p.out = out.data;
  p.q_indptr = batch.q_indptr.as<int32_t>();
  p.kv_indptr = batch.kv_indptr.as<int32_t>();
  p.kv_indices = batch.kv_indices.as<int32_t>();
  p.kv_last_block_len = batch.kv_last_block_len.as<int32_t>();
  p.num_seqs = batch.num_seqs;
  p.num_tokens = num_tokens;
  p.num_heads = num_heads;
  p.kv_heads = kv_heads;
  p.head_dim = head_dim;
  p.block_size = cache.block_size();
  p.max_q_len = batch.max_q_len;
  p.scale = scale;
  // Split the keys while the grid is under two waves, into shares of at least
  // kMinKeysPerSplit keys, as far as the partials fit the workspace.
  const int64_t blocks = static_cast<int64_t>(batch.num_seqs) * kv_heads;
  int splits = static_cast<int>(
      std::min<int64_t>(cuda::kMaxAttentionSplits,
                        (2 * state_->num_sms + blocks - 1) / std::max<int64_t>(blocks, 1)));
  splits = std::min(splits, std::max(1, batch.max_kv_len / kMinKeysPerSplit));
  const int64_t bytes_per_split =
      static_cast<int64_t>(num_tokens) * num_heads * (head_dim + 2) * sizeof(float);
  splits = static_cast<int>(
      std::min<int64_t>(splits, static_cast<int64_t>(kAttentionWorkspaceBytes) / bytes_per_split));
  if (batch.max_q_len > 16) splits = 1;  // prefill tiles already fill the GPU
  p.num_splits = std::max(1, splits);
  // A graph never records the tile list's host copy: graphs hold decode steps only.
  if (batch.max_q_len > 1 && batch.host_q_indptr != nullptr) {
    p.host_q_indptr = batch.host_q_indptr;
    p.tile_scratch = state_->tile_scratch;
    p.tile_scratch_capacity = kTileScratch;
    p.tile_scratch_contents = &state_->tile_scratch_contents;
  }
  p.partial_out = state_->attention_workspace;
  p.partial_max_sum = state_->attention_workspace +
                      static_cast<int64_t>(num_tokens) * num_heads * p.num_splits * head_dim;
  cuda::LaunchPagedAttention(p, state_->stream);
  CheckLaunch();
}

void CudaBackend::SiluAndMul(const Tensor& x, Tensor out) {
  UseDevice();
  const int64_t inter = out.dim(1);
  LOOM_CHECK(x.dtype == options_.dtype && out.dtype == options_.dtype && x.dim(0) == out.dim(0) &&
             x.dim(1) == 2 * inter && inter % 8 == 0)
      << "x " << x.ShapeString() << " out " << out.ShapeString();
  cuda::LaunchSiluAndMul(FloatTypeOf(options_.dtype), x.data, static_cast<int>(x.dim(0)),
                         static_cast<int>(inter), out.data, state_->stream);
  CheckLaunch();
}

void CudaBackend::LinearSiluAndMul(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   Tensor gate_up, Tensor out) {
  LinearSiluAndMulWithNorm(x, nullptr, weight, bias, gate_up, out);
}

void CudaBackend::RmsNormLinearSiluAndMul(const RmsNormInput& in, const Tensor& weight,
                                          const Tensor& bias, Tensor gate_up, Tensor out) {
  const int64_t rows = in.residual.dim(0);
  if (rows == 0) return;
  if (!PrefersNormInLinear(rows, in.residual.dim(1))) {
    Backend::RmsNormLinearSiluAndMul(in, weight, bias, gate_up, out);
    return;
  }
  LinearSiluAndMulWithNorm(in.residual, &in, weight, bias, gate_up, out);
}

void CudaBackend::LinearSiluAndMulWithNorm(const Tensor& x, const RmsNormInput* norm,
                                           const Tensor& weight, const Tensor& bias, Tensor gate_up,
                                           Tensor out) {
  UseDevice();
  const int64_t rows = x.dim(0);
  const int64_t in = x.dim(1);
  const int64_t inter = out.dim(1);
  if (!options_.fuse || rows > cuda::kMaxGemvRows || in % 8 != 0) {
    // Unfused, or the product runs on cuBLAS: the two passes.
    LOOM_CHECK(norm == nullptr) << "a norm fused into a cuBLAS product of " << rows << " rows";
    Backend::LinearSiluAndMul(x, weight, bias, gate_up, out);
    return;
  }
  LOOM_CHECK(x.dtype == options_.dtype && weight.dtype == options_.dtype &&
             out.dtype == options_.dtype && weight.dim(0) == 2 * inter && weight.dim(1) == in &&
             out.dim(0) == rows && gate_up.numel() == rows * 2 * inter)
      << "x " << x.ShapeString() << " weight " << weight.ShapeString() << " out "
      << out.ShapeString();
  LOOM_CHECK(bias.data == nullptr || bias.numel() == 2 * inter) << bias.ShapeString();
  if (rows == 0) return;
  cuda::LaunchGemvSiluAndMul(FloatTypeOf(options_.dtype), x.data, weight.data, bias.data,
                             static_cast<int>(rows), static_cast<int>(inter), static_cast<int>(in),
                             GemvNormOf(norm, x), out.data, state_->stream);
  CheckLaunch();
}

void CudaBackend::SampleTokens(const Tensor& logits, const SamplingBatch& params, Tensor ids,
                               Tensor logprobs) {
  UseDevice();
  const int64_t rows = logits.dim(0);
  LOOM_CHECK(logits.dtype == options_.dtype && ids.dtype == DType::kI32 &&
             logprobs.dtype == DType::kF32 && ids.numel() == rows && logprobs.numel() == rows &&
             params.temperature.numel() >= rows && params.top_k.numel() >= rows &&
             params.top_p.numel() >= rows && params.uniform.numel() >= rows)
      << "logits " << logits.ShapeString();
  cuda::SampleParams p;
  p.type = FloatTypeOf(options_.dtype);
  p.logits = logits.data;
  p.rows = static_cast<int>(rows);
  p.vocab = static_cast<int>(logits.dim(1));
  p.temperature = params.temperature.as<float>();
  p.top_k = params.top_k.as<int32_t>();
  p.top_p = params.top_p.as<float>();
  p.uniform = params.uniform.as<float>();
  p.out_ids = ids.as<int32_t>();
  p.out_logprobs = logprobs.as<float>();
  if (rows <= kSampleChunkRows) {
    p.chunks = std::clamp(state_->num_sms / static_cast<int>(rows), 1, kMaxSampleChunks);
    p.chunk_partials = state_->sample_partials;
    p.chunk_counters = state_->sample_counters;
  }
  cuda::LaunchSample(p, state_->stream);
  CheckLaunch();
}

}  // namespace loom
