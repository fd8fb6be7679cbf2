// Non-owning views of backend memory, and the owning buffer they usually point into.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

#include "kernels/check.h"
#include "kernels/dtype.h"

namespace loom {

inline constexpr int kMaxTensorRank = 4;

// A dense, row-major view of memory owned elsewhere (a DeviceBuffer, a KV pool, an mmap).
// `data` lives on the device of the backend that allocated it; host code never
// dereferences a device view. Copying a Tensor copies the view, not the data.
struct Tensor {
  void* data = nullptr;
  DType dtype = DType::kF32;
  int rank = 0;
  std::array<int64_t, kMaxTensorRank> shape{};

  Tensor() = default;
  Tensor(void* data_in, DType dtype_in, std::initializer_list<int64_t> dims)
      : data(data_in), dtype(dtype_in), rank(static_cast<int>(dims.size())) {
    LOOM_CHECK(rank <= kMaxTensorRank) << "rank " << rank;
    int i = 0;
    for (int64_t d : dims) shape[i++] = d;
  }

  int64_t dim(int i) const {
    LOOM_CHECK(i >= 0 && i < rank) << "dim " << i << " of a rank-" << rank << " tensor";
    return shape[i];
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
  size_t nbytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype); }

  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }

  // Rows [begin, begin + count) of dimension 0, same trailing shape.
  Tensor Rows(int64_t begin, int64_t count) const {
    LOOM_CHECK(rank >= 1 && begin >= 0 && begin + count <= shape[0])
        << "rows [" << begin << ", " << begin + count << ") of " << (rank ? shape[0] : 0);
    Tensor t = *this;
    const size_t row_bytes = count == 0 ? 0 : nbytes() / static_cast<size_t>(shape[0]);
    t.data = static_cast<char*>(data) + static_cast<size_t>(begin) * row_bytes;
    t.shape[0] = count;
    return t;
  }

  // Same memory, new shape with the same number of elements.
  Tensor Reshape(std::initializer_list<int64_t> dims) const {
    Tensor t(data, dtype, dims);
    LOOM_CHECK(t.numel() == numel()) << "reshape of " << numel() << " elements to " << t.numel();
    return t;
  }

  std::string ShapeString() const {
    std::string s = "[";
    for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }
};

// Owning allocation on a backend's device. Move-only; frees through the deleter the
// backend supplied.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(void* data, size_t size, std::function<void(void*)> deleter)
      : data_(data), size_(size), deleter_(std::move(deleter)) {}
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      Reset();
      data_ = other.data_;
      size_ = other.size_;
      deleter_ = std::move(other.deleter_);
      other.data_ = nullptr;
      other.size_ = 0;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { Reset(); }

  void* data() const { return data_; }
  size_t size() const { return size_; }

  // A view of the whole buffer with the given type and shape.
  Tensor View(DType dtype, std::initializer_list<int64_t> dims) const {
    Tensor t(data_, dtype, dims);
    LOOM_CHECK(t.nbytes() <= size_)
        << "view of " << t.nbytes() << " bytes on a " << size_ << "-byte buffer";
    return t;
  }

 private:
  void Reset() {
    if (data_ != nullptr && deleter_) deleter_(data_);
    data_ = nullptr;
    size_ = 0;
  }

  void* data_ = nullptr;
  size_t size_ = 0;
  std::function<void(void*)> deleter_;
};

}  // namespace loom
