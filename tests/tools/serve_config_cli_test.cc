// `loom serve --config/--print-config` as a user runs them: the merged configuration,
// and the errors of bad files and of configurations that cannot start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "kernels/backend_factory.h"
#include "tests/tools/loom_cli.h"

namespace {

using loom::testing::CliResult;
using loom::testing::RunLoom;

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kConfigs = std::string(LOOM_SOURCE_DIR) + "/configs";

std::filesystem::path TempDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ServeConfigCliTest, PrintConfigPrintsTheMergedYamlAndExits) {
  CliResult run = RunLoom("serve --config " + kConfigs + "/server.yaml --print-config");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("port: 50051  # " + kConfigs + "/server.yaml:"));
  EXPECT_THAT(run.out, HasSubstr("models:\n  - name: tiny-shakespeare-llama"));
  EXPECT_THAT(run.out, HasSubstr("max_batch_size: 8  # " + kConfigs +
                                 "/models/tiny-shakespeare-llama.yaml:"));
  EXPECT_THAT(run.out, Not(HasSubstr("loom: serving")));
}

TEST(ServeConfigCliTest, FlagsOverrideTheYamlInThePrintedConfig) {
  CliResult run = RunLoom("serve --config " + kConfigs +
                          "/server.yaml --max-batch-size 3 --metrics-port -1 --print-config");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("max_batch_size: 3  # --max-batch-size"));
  EXPECT_THAT(run.out, HasSubstr("metrics_port: -1  # --metrics-port"));
}

TEST(ServeConfigCliTest, PrintConfigWithoutAFileShowsTheDefaults) {
  CliResult run = RunLoom("serve --print-config");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("port: 50051\n"));
  EXPECT_THAT(run.out, HasSubstr("metrics_port: 9400\n"));
  EXPECT_THAT(run.out, HasSubstr("name: tiny-shakespeare-llama"));
}

TEST(ServeConfigCliTest, ABadServerYamlExitsOneNamingFileLineAndColumn) {
  const std::filesystem::path dir = TempDir("loom_serve_config_cli_bad_server");
  std::ofstream(dir / "server.yaml") << "host: 127.0.0.1\nprot: 1\n";
  CliResult run = RunLoom("serve --config " + (dir / "server.yaml").string() + " --print-config");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr((dir / "server.yaml").string() +
                                 ":2:1: unknown key 'prot'; did you mean 'port'?"));
}

TEST(ServeConfigCliTest, ABadModelYamlExitsOneNamingFileLineAndColumn) {
  const std::filesystem::path dir = TempDir("loom_serve_config_cli_bad_model");
  std::ofstream(dir / "tiny.yaml") << "path: /m\nsampling:\n  temperature: -1\n";
  CliResult run = RunLoom("serve --models-dir " + dir.string() + " --metrics-port -1");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr((dir / "tiny.yaml").string() +
                                 ":3:16: sampling.temperature must be >= 0, got -1"));
}

TEST(ServeConfigCliTest, WhatThisBuildCannotRunFailsAtStartUp) {
  CliResult run =
      RunLoom("serve --models-dir " + kConfigs + "/examples --port 0 --metrics-port -1");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr(kConfigs + "/examples/llama3-8b-instruct-cuda.yaml:"));
  // A build without CUDA refuses the backend first.
  EXPECT_THAT(run.out, HasSubstr(loom::CudaBackendBuilt()
                                     ? "tp: 2 is not supported yet by this build"
                                     : "backend: cuda is not supported yet by this build"));
  EXPECT_THAT(run.out, Not(HasSubstr("loom: serving")));
}

TEST(ServeConfigCliTest, WhatCannotFitFailsAtStartUpSayingWhy) {
  CliResult run = RunLoom("serve --config " + kConfigs +
                          "/server.yaml --port 0 --metrics-port -1 --session-len 4096");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr("--session-len: session_len 4096 exceeds the model's "
                                 "max_position_embeddings 2048"));
  run = RunLoom("serve --port 0 --metrics-port -1 --session-len 1024 --num-blocks 4");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr("--num-blocks: the KV pool of 4 blocks x 64 tokens holds 256 "
                                 "tokens, fewer than session_len 1024"));
}

}  // namespace
