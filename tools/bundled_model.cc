#include "tools/bundled_model.h"

#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace loom {

absl::StatusOr<std::filesystem::path> BundledModelDir() {
  constexpr const char* kName = "tiny-shakespeare-llama";
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path installed =
      exe.parent_path().parent_path() / "share" / "loom" / "models" / kName;
  const std::filesystem::path source = std::filesystem::path(LOOM_MODELS_SOURCE_DIR) / kName;
  for (const auto& dir : {installed, source}) {
    if (!ec && std::filesystem::exists(dir / "config.json")) return dir;
  }
  return absl::NotFoundError(absl::StrCat("the bundled model is in neither ", installed.string(),
                                          " nor ", source.string(), "; pass MODEL_DIR"));
}

}  // namespace loom
