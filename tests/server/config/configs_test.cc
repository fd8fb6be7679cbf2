// Every file under configs/ is loaded here: server.yaml files as server configurations,
// every other YAML file as a model. A new file is covered without touching this test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/model/model_config.h"
#include "kernels/backend_factory.h"
#include "server/config/model_config_yaml.h"
#include "server/config/serve_config.h"
#include "server/config/server_config.h"

namespace loom {
namespace {

const std::filesystem::path kConfigs = std::filesystem::path(LOOM_SOURCE_DIR) / "configs";

std::vector<std::filesystem::path> AllFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kConfigs)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool IsServerConfig(const std::filesystem::path& file) { return file.filename() == "server.yaml"; }

TEST(ConfigsTest, EveryFileIsAValidConfiguration) {
  const std::vector<std::filesystem::path> files = AllFiles();
  ASSERT_GE(files.size(), 3u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    ASSERT_THAT(file.extension().string(), ::testing::AnyOf(".yaml", ".yml"))
        << "configs/ holds configuration files only";
    if (IsServerConfig(file)) {
      absl::StatusOr<ServerConfig> config = LoadServerConfig(file);
      EXPECT_TRUE(config.ok()) << config.status();
      continue;
    }
    absl::StatusOr<ModelYaml> model = LoadModelYaml(file);
    ASSERT_TRUE(model.ok()) << model.status();
    // A model this build can run must also start: its directory exists and it fits.
    if (!CheckSupportedByThisBuild(*model).ok()) continue;
    absl::StatusOr<ModelConfig> model_config = LoadModelConfig(model->path);
    ASSERT_TRUE(model_config.ok()) << model_config.status();
    absl::StatusOr<ModelLaunch> launch =
        PlanModelLaunch(*model, ServerConfig{}, *model_config, /*memory_bytes=*/0);
    EXPECT_TRUE(launch.ok()) << launch.status();
  }
}

TEST(ConfigsTest, TheServerYamlServesTheBundledModel) {
  absl::StatusOr<ServeConfig> config = BuildServeConfig(
      kConfigs / "server.yaml", ServeOverrides{}, []() -> absl::StatusOr<std::filesystem::path> {
        return absl::InternalError("the bundled model must not be asked for");
      });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.port, 50051);
  EXPECT_EQ(config->server.models_dir, (kConfigs / "models").lexically_normal());
  ASSERT_EQ(config->models.size(), 1u);
  const ModelYaml& model = config->models[0];
  EXPECT_EQ(model.name, "tiny-shakespeare-llama");
  EXPECT_EQ(std::filesystem::canonical(model.path),
            std::filesystem::canonical(std::filesystem::path(LOOM_SOURCE_DIR) / "models" /
                                       "tiny-shakespeare-llama"));
  EXPECT_TRUE(CheckSupportedByThisBuild(model).ok());
}

TEST(ConfigsTest, TheCudaExampleIsValidButNotSupportedByThisBuild) {
  absl::StatusOr<ModelYaml> model =
      LoadModelYaml(kConfigs / "examples" / "llama3-8b-instruct-cuda.yaml");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->tp, 2);
  absl::Status status = CheckSupportedByThisBuild(*model);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  // A build without CUDA refuses the backend first.
  EXPECT_THAT(status.message(),
              ::testing::HasSubstr(CudaBackendBuilt() ? "tp: 2 is not supported yet"
                                                      : "backend: cuda is not supported yet"));
}

}  // namespace
}  // namespace loom
