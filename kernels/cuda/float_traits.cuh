// Element types of the CUDA kernels: bf16 and fp16 storage, fp32 arithmetic.
//
// Every kernel is a template over the storage type T (__nv_bfloat16 or __half). Loads
// widen to float, stores round to nearest even. Vec8<T> moves eight elements (16 bytes)
// at a time, the widest load a thread can issue.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/cuda/launch.h"

namespace loom::cuda {

template <typename T>
struct FloatTraits;

template <>
struct FloatTraits<__nv_bfloat16> {
  static __device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 FromFloat(float x) {
    return __float2bfloat16_rn(x);
  }
};

template <>
struct FloatTraits<__half> {
  static __device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half FromFloat(float x) { return __float2half_rn(x); }
};

template <typename T>
__device__ __forceinline__ float ToFloat(T x) {
  return FloatTraits<T>::ToFloat(x);
}

template <typename T>
__device__ __forceinline__ T FromFloat(float x) {
  return FloatTraits<T>::FromFloat(x);
}

// Rounds x to T and back: what PyTorch does after every elementwise op on bf16/fp16
// tensors. The kernels use it where matching transformers' rounding keeps greedy ids
// identical.
template <typename T>
__device__ __forceinline__ float Round(float x) {
  return ToFloat(FromFloat<T>(x));
}

// One element of an RMSNorm in LlamaRMSNorm's order: weight * round(x * inv_rms),
// rounded to T.
template <typename T>
__device__ __forceinline__ T RmsNormElement(float x, float weight, float inv_rms) {
  return FromFloat<T>(weight * Round<T>(x * inv_rms));
}

// Eight elements in one 16-byte register group.
template <typename T>
struct alignas(16) Vec8 {
  T v[8];
};

template <typename T>
__device__ __forceinline__ Vec8<T> LoadVec8(const T* p) {
  Vec8<T> out;
  *reinterpret_cast<uint4*>(&out) = *reinterpret_cast<const uint4*>(p);
  return out;
}

template <typename T>
__device__ __forceinline__ void StoreVec8(T* p, const Vec8<T>& x) {
  *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(&x);
}

// A 16-byte load that bypasses L1: for weights, read once per step.
__device__ __forceinline__ uint4 LoadStreaming(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

__device__ __forceinline__ float WarpSum(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

__device__ __forceinline__ float WarpMax(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  }
  return x;
}

// Sum over the block; every thread gets the result. `scratch` holds 32 floats.
// REQUIRES: blockDim.x is a multiple of 32; all threads call it.
__device__ __forceinline__ float BlockSum(float x, float* scratch) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  x = WarpSum(x);
  __syncthreads();
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  const int num_warps = blockDim.x / 32;
  x = lane < num_warps ? scratch[lane] : 0.0f;
  return WarpSum(x);
}

// Calls f(T{}) with the storage type `type` names: a launcher's one dispatch point.
template <typename F>
void DispatchFloat(FloatType type, F&& f) {
  if (type == FloatType::kBF16) {
    f(__nv_bfloat16{});
  } else {
    f(__half{});
  }
}

}  // namespace loom::cuda
