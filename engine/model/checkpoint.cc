#include "engine/model/checkpoint.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/model/read_file.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

using Json = nlohmann::json;

// The index of a 1T-parameter model is a few MB.
constexpr std::uintmax_t kMaxIndexBytes = 64 << 20;

bool IsFile(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

// A shard must be a plain file name inside the model directory: an index must not make
// loom map files elsewhere ("../../etc/...", "/dev/zero").
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// The "weight_map" of an index, grouped by shard: shard file name -> tensor names.
absl::StatusOr<std::map<std::string, std::vector<std::string>>> ReadWeightMap(
    const std::filesystem::path& index_path) {
  absl::StatusOr<std::string> text = ReadSmallFile(index_path, kMaxIndexBytes);
  if (!text.ok()) return text.status();
  const std::string source = index_path.string();
  const Json root = Json::parse(text->begin(), text->end(), /*cb=*/nullptr,
                                /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a JSON object, got ", root.type_name()));
  }
  const auto weight_map = root.find("weight_map");
  if (weight_map == root.end() || !weight_map->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing 'weight_map' object (tensor name -> shard file)"));
  }
  if (weight_map->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": 'weight_map' is empty"));
  }
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& [tensor, shard] : weight_map->items()) {
    if (!shard.is_string() || !IsPlainFileName(shard.get_ref<const std::string&>())) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", tensor, "' maps to ",
                       shard.dump(-1, ' ', false, Json::error_handler_t::replace),
                       ", which is not a file name in the model directory"));
    }
    shards[shard.get<std::string>()].push_back(tensor);
  }
  return shards;
}

}  // namespace

Checkpoint::Checkpoint(std::filesystem::path dir, std::string where)
    : dir_(std::move(dir)), where_(std::move(where)) {}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::filesystem::path& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": not a directory"));
  }

  const std::filesystem::path single_path = dir / kSingleFileName;
  if (IsFile(single_path)) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(single_path);
    if (!file.ok()) return file.status();
    auto checkpoint =
        std::unique_ptr<Checkpoint>(new Checkpoint(dir, std::string(kSingleFileName)));
    for (const TensorInfo& tensor : (*file)->tensors()) {
      checkpoint->tensors_.emplace(tensor.name, Entry{&tensor, file->get()});
    }
    checkpoint->files_.push_back(*std::move(file));
    return checkpoint;
  }

  const std::filesystem::path index_path = dir / kIndexFileName;
  if (IsFile(index_path)) {
    absl::StatusOr<std::map<std::string, std::vector<std::string>>> shards =
        ReadWeightMap(index_path);
    if (!shards.ok()) return shards.status();
    auto checkpoint = std::unique_ptr<Checkpoint>(
        new Checkpoint(dir, absl::StrCat("the weight_map of ", kIndexFileName, ", ", shards->size(),
                                         shards->size() == 1 ? " shard" : " shards")));
    for (const auto& [shard_name, names] : *shards) {
      const std::filesystem::path shard_path = dir / shard_name;
      if (!IsFile(shard_path)) {
        return absl::NotFoundError(absl::StrCat(
            index_path.string(), ": shard '", shard_name, "' (holding tensor '", names.front(), "'",
            names.size() > 1 ? " and others" : "", ") not found: no file ", shard_path.string()));
      }
      absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(shard_path);
      if (!file.ok()) return file.status();
      for (const std::string& name : names) {
        const TensorInfo* tensor = (*file)->Find(name);
        if (tensor == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat(index_path.string(), ": tensor '", name, "' is listed in shard '",
                           shard_name, "', but ", shard_path.string(), " does not contain it"));
        }
        checkpoint->tensors_.emplace(name, Entry{tensor, file->get()});
      }
      checkpoint->files_.push_back(*std::move(file));
    }
    return checkpoint;
  }

  for (const char* pickle : {"pytorch_model.bin", "pytorch_model.bin.index.json"}) {
    if (IsFile(dir / pickle)) {
      return absl::UnimplementedError(
          absl::StrCat(dir.string(), ": has PyTorch pickle weights (", pickle,
                       "), which loom does not load; convert them to safetensors (for example "
                       "model.save_pretrained(dir, safe_serialization=True) in transformers)"));
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no ", kSingleFileName, " or ", kIndexFileName, " in ", dir.string()));
}

absl::StatusOr<const TensorInfo*> Checkpoint::Get(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat(dir_.string(), ": tensor '", std::string(name),
                                            "' not found (looked in ", where_, ")"));
  }
  return it->second.tensor;
}

absl::StatusOr<const TensorInfo*> Checkpoint::GetFloat(
    std::string_view name, std::span<const int64_t> expected_shape) const {
  absl::StatusOr<const TensorInfo*> tensor = Get(name);
  if (!tensor.ok()) return tensor.status();
  const TensorInfo& info = **tensor;
  const std::string file = FileOf(name).string();
  if (!std::equal(info.shape.begin(), info.shape.end(), expected_shape.begin(),
                  expected_shape.end())) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": tensor '", std::string(name),
                                                   "' has shape ", FormatShape(info.shape),
                                                   ", expected ", FormatShape(expected_shape)));
  }
  if (info.dtype != DType::kF32 && info.dtype != DType::kF16 && info.dtype != DType::kBF16) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": tensor '", std::string(name), "' has dtype ",
                     std::string(DTypeName(info.dtype)), ", expected F32, F16 or BF16"));
  }
  return *tensor;
}

bool Checkpoint::Contains(std::string_view name) const { return tensors_.contains(name); }

std::vector<std::string> Checkpoint::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, entry] : tensors_) names.push_back(name);
  return names;
}

std::filesystem::path Checkpoint::FileOf(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) return {};
  return it->second.file->path();
}

}  // namespace loom
