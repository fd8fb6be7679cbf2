#include "engine/model/safetensors.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

// The data section is reinterpreted in place, and safetensors stores little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

constexpr size_t kHeaderLengthBytes = 8;

using Json = nlohmann::json;

std::optional<DType> ParseDType(std::string_view name) {
  static constexpr DType kAll[] = {DType::kF32, DType::kF16,  DType::kBF16,   DType::kF64,
                                   DType::kI64, DType::kI32,  DType::kI16,    DType::kI8,
                                   DType::kU8,  DType::kBool, DType::kF8E4M3, DType::kF8E5M2};
  for (DType dtype : kAll) {
    if (DTypeName(dtype) == name) return dtype;
  }
  return std::nullopt;
}

// Reads a JSON value that must be a non-negative integer no larger than `max`.
std::optional<uint64_t> NonNegativeInteger(const Json& value, uint64_t max) {
  if (!value.is_number_unsigned()) return std::nullopt;  // negative, float, or not a number
  const auto result = value.get<uint64_t>();
  if (result > max) return std::nullopt;
  return result;
}

// For messages: never throws (even on strings that are not UTF-8), and stays short.
std::string Dump(const Json& value) {
  constexpr size_t kMaxChars = 120;
  std::string text =
      value.dump(/*indent=*/-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = absl::StrCat(text.substr(0, kMaxChars), "...");
  return text;
}

// Where a tensor's bytes lie in the data section, kept for the overlap check.
struct ByteRange {
  uint64_t begin;
  uint64_t end;
  size_t tensor;  // index into the tensor list
};

class HeaderParser {
 public:
  HeaderParser(const std::filesystem::path& path, std::span<const std::byte> data_section)
      : path_(path.string()), data_section_(data_section) {}

  absl::StatusOr<std::vector<TensorInfo>> Parse(const Json& header) {
    if (!header.is_object()) {
      return Error(absl::StrCat("header is JSON ", header.type_name(), ", expected an object"));
    }
    std::vector<TensorInfo> tensors;
    std::vector<ByteRange> ranges;
    tensors.reserve(header.size());
    ranges.reserve(header.size());
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") continue;
      ByteRange range{};
      absl::StatusOr<TensorInfo> tensor = ParseEntry(name, entry, &range);
      if (!tensor.ok()) return tensor.status();
      range.tensor = tensors.size();
      ranges.push_back(range);
      tensors.push_back(*std::move(tensor));
    }
    if (absl::Status status = CheckNoOverlap(tensors, ranges); !status.ok()) return status;
    // nlohmann's object is a std::map, so the order is already by name; sort anyway so
    // Find() does not depend on that.
    std::sort(tensors.begin(), tensors.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
    return tensors;
  }

 private:
  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", message));
  }
  absl::Status TensorError(absl::string_view name, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": tensor '", name, "': ", message));
  }

  absl::StatusOr<TensorInfo> ParseEntry(const std::string& name, const Json& entry,
                                        ByteRange* range) const {
    if (!entry.is_object()) {
      return TensorError(name,
                         absl::StrCat("entry is JSON ", entry.type_name(), ", expected an object"));
    }
    TensorInfo tensor;
    tensor.name = name;

    const auto dtype_it = entry.find("dtype");
    if (dtype_it == entry.end()) return TensorError(name, "missing 'dtype'");
    if (!dtype_it->is_string()) return TensorError(name, "'dtype' is not a string");
    const auto& dtype_name = dtype_it->get_ref<const std::string&>();
    const std::optional<DType> dtype = ParseDType(dtype_name);
    if (!dtype) return TensorError(name, absl::StrCat("unsupported dtype '", dtype_name, "'"));
    tensor.dtype = *dtype;

    const auto shape_it = entry.find("shape");
    if (shape_it == entry.end()) return TensorError(name, "missing 'shape'");
    if (!shape_it->is_array()) return TensorError(name, "'shape' is not an array");
    // Byte size accumulated with an overflow guard: the product must fit in int64.
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    uint64_t num_bytes = DTypeSize(tensor.dtype);
    for (const Json& dim_json : *shape_it) {
      const std::optional<uint64_t> dim = NonNegativeInteger(dim_json, kMax);
      if (!dim) {
        return TensorError(
            name, absl::StrCat("shape ", Dump(*shape_it), " must hold non-negative integers"));
      }
      tensor.shape.push_back(static_cast<int64_t>(*dim));
      if (*dim != 0 && num_bytes > kMax / *dim) {
        return TensorError(name, absl::StrCat("shape ", Dump(*shape_it), " of ", dtype_name,
                                              " overflows the addressable size"));
      }
      num_bytes *= *dim;
    }

    const auto offsets_it = entry.find("data_offsets");
    if (offsets_it == entry.end()) return TensorError(name, "missing 'data_offsets'");
    if (!offsets_it->is_array() || offsets_it->size() != 2) {
      return TensorError(name, "'data_offsets' must be an array [begin, end]");
    }
    const std::optional<uint64_t> begin = NonNegativeInteger((*offsets_it)[0], kMax);
    const std::optional<uint64_t> end = NonNegativeInteger((*offsets_it)[1], kMax);
    if (!begin || !end) {
      return TensorError(
          name, absl::StrCat("data_offsets ", Dump(*offsets_it), " must be non-negative integers"));
    }
    if (*end < *begin) {
      return TensorError(
          name, absl::StrCat("data_offsets ", Dump(*offsets_it), " end before they begin"));
    }
    if (*end > data_section_.size()) {
      return TensorError(name, absl::StrCat("truncated file: data ends at byte ", *end,
                                            " of the data section, which holds only ",
                                            data_section_.size(), " bytes"));
    }
    if (*end - *begin != num_bytes) {
      return TensorError(
          name, absl::StrCat("data_offsets ", Dump(*offsets_it), " span ", *end - *begin,
                             " bytes, but shape ", FormatShape(tensor.shape), " of ", dtype_name,
                             " needs ", num_bytes));
    }
    tensor.data = data_section_.subspan(*begin, num_bytes);
    *range = ByteRange{*begin, *end, 0};
    return tensor;
  }

  absl::Status CheckNoOverlap(const std::vector<TensorInfo>& tensors,
                              std::vector<ByteRange>& ranges) const {
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const ByteRange* previous = nullptr;  // the non-empty range that ends last so far
    for (const ByteRange& range : ranges) {
      if (range.begin == range.end) continue;  // empty tensors occupy no bytes
      if (previous != nullptr && range.begin < previous->end) {
        return TensorError(tensors[range.tensor].name,
                           absl::StrCat("data_offsets [", range.begin, ", ", range.end,
                                        "] overlap tensor '", tensors[previous->tensor].name,
                                        "' at [", previous->begin, ", ", previous->end, "]"));
      }
      if (previous == nullptr || range.end > previous->end) previous = &range;
    }
    return absl::OkStatus();
  }

  std::string path_;
  std::span<const std::byte> data_section_;
};

}  // namespace

int64_t TensorInfo::num_elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;  // cannot overflow: validated by Open()
  return count;
}

std::string FormatShape(std::span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(
    const std::filesystem::path& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapping = MappedFile::Open(path);
  if (!mapping.ok()) return mapping.status();
  const std::span<const std::byte> bytes = (*mapping)->bytes();
  const std::string file = path.string();

  if (bytes.size() < kHeaderLengthBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": file is ", bytes.size(),
                     " bytes, too short for a safetensors header length (8 bytes)"));
  }
  uint64_t header_length = 0;
  for (size_t i = 0; i < kHeaderLengthBytes; ++i) {
    header_length |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  }
  if (header_length > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": oversized header: ", header_length,
                                                   " bytes (limit ", kMaxHeaderBytes, ")"));
  }
  const size_t available = bytes.size() - kHeaderLengthBytes;
  if (header_length > available) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": oversized header: header length ",
                                                   header_length, " exceeds the file size (",
                                                   bytes.size(), " bytes)"));
  }

  const std::span<const std::byte> header_bytes = bytes.subspan(kHeaderLengthBytes, header_length);
  const auto* header_chars = reinterpret_cast<const char*>(header_bytes.data());
  const Json header = Json::parse(header_chars, header_chars + header_bytes.size(),
                                  /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": header is not valid JSON"));
  }

  HeaderParser parser(path, bytes.subspan(kHeaderLengthBytes + header_length));
  absl::StatusOr<std::vector<TensorInfo>> tensors = parser.Parse(header);
  if (!tensors.ok()) return tensors.status();
  return std::unique_ptr<SafetensorsFile>(
      new SafetensorsFile(*std::move(mapping), *std::move(tensors)));
}

SafetensorsFile::SafetensorsFile(std::unique_ptr<MappedFile> mapping,
                                 std::vector<TensorInfo> tensors)
    : mapping_(std::move(mapping)), tensors_(std::move(tensors)) {}

const TensorInfo* SafetensorsFile::Find(std::string_view name) const {
  const auto it = std::lower_bound(
      tensors_.begin(), tensors_.end(), name,
      [](const TensorInfo& tensor, std::string_view key) { return tensor.name < key; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace loom
