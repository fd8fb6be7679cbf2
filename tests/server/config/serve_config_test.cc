#include "server/config/serve_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/config/print_config.h"
#include "yaml-cpp/yaml.h"

namespace loom {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ServeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("loom_serve_config_test_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "models");
    Write("server.yaml",
          "port: 8000\nmax_sessions: 9\napi_keys: [s3cret]\ntls:\n  cert: a.pem\n  key: a.key\n"
          "models_dir: models\n");
    Write("models/a.yaml", "path: /m/a\nmax_batch_size: 4\nsession_len: 512\n");
    Write("models/b.yaml",
          "name: bee\npath: ../w/b\ncache_max_entry_count: 0.5\nchat_template: chatml\n"
          "sampling:\n  temperature: 0.7\n  top_k: 5\n");
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  // BuildServeConfig over dir_/server.yaml; fails the test if the bundled model is asked
  // for.
  absl::StatusOr<ServeConfig> Build(const ServeOverrides& cli, bool with_file = true) {
    return BuildServeConfig(with_file ? dir_ / "server.yaml" : std::filesystem::path(), cli,
                            [this]() -> absl::StatusOr<std::filesystem::path> {
                              ++default_model_dir_calls_;
                              return std::filesystem::path("/bundled/tiny");
                            });
  }

  std::filesystem::path dir_;
  int default_model_dir_calls_ = 0;
};

TEST_F(ServeConfigTest, YamlOverridesTheBuiltInDefaults) {
  absl::StatusOr<ServeConfig> config = Build(ServeOverrides{});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.port, 8000);                 // YAML
  EXPECT_EQ(config->server.metrics_port, 9400);         // default
  EXPECT_EQ(config->server.max_sessions, 9);            // YAML
  EXPECT_EQ(config->server.max_queued_requests, 1024);  // default
  EXPECT_EQ(config->server.models_dir, dir_ / "models");
  EXPECT_EQ(default_model_dir_calls_, 0);
  ASSERT_EQ(config->models.size(), 2u);
  const ModelYaml& a = config->models[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.max_batch_size, 4);  // YAML
  EXPECT_EQ(a.session_len, 512);   // YAML
  EXPECT_EQ(a.block_size, 64);     // default
  const ModelYaml& b = config->models[1];
  EXPECT_EQ(b.name, "bee");
  EXPECT_EQ(b.path, dir_ / "w/b");
  EXPECT_EQ(b.max_batch_size, 8);  // default
}

TEST_F(ServeConfigTest, FlagsOverrideTheYaml) {
  ServeOverrides cli;
  cli.port = 9000;
  cli.metrics_port = -1;
  cli.max_batch_size = 3;
  cli.block_size = 32;
  cli.async_scheduling = false;
  cli.api_keys = std::vector<std::string>{"k1", "k2"};
  cli.tls_cert = "/cli/cert.pem";
  absl::StatusOr<ServeConfig> config = Build(cli);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.port, 9000);
  EXPECT_EQ(config->server.metrics_port, -1);
  EXPECT_EQ(config->server.max_sessions, 9);  // not given: the YAML's
  EXPECT_THAT(config->server.api_keys, ::testing::ElementsAre("k1", "k2"));
  ASSERT_TRUE(config->server.tls.has_value());
  EXPECT_EQ(config->server.tls->cert, "/cli/cert.pem");
  EXPECT_EQ(config->server.tls->key, dir_ / "a.key");  // not given: the YAML's
  EXPECT_EQ(config->server.Where("port"), "--port");
  EXPECT_EQ(config->server.Where("tls.cert"), "--tls-cert");
  EXPECT_EQ(config->server.Where("max_sessions"), (dir_ / "server.yaml").string() + ":2:15");
  for (const ModelYaml& model : config->models) {
    EXPECT_EQ(model.max_batch_size, 3) << model.name;
    EXPECT_EQ(model.block_size, 32) << model.name;
    EXPECT_FALSE(model.async_scheduling) << model.name;
    EXPECT_EQ(model.Where("max_batch_size"), "--max-batch-size");
    EXPECT_EQ(model.Where("async_scheduling"), "--async-scheduling");
  }
  EXPECT_EQ(config->models[0].session_len, 512);  // not given: the YAML's
}

TEST_F(ServeConfigTest, FlagsOverrideTheDefaultsWithoutAFile) {
  ServeOverrides cli;
  cli.session_len = 100;
  cli.host = "0.0.0.0";
  absl::StatusOr<ServeConfig> config = Build(cli, /*with_file=*/false);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(default_model_dir_calls_, 1);
  EXPECT_EQ(config->server.host, "0.0.0.0");
  EXPECT_EQ(config->server.port, 50051);
  ASSERT_EQ(config->models.size(), 1u);
  EXPECT_EQ(config->models[0].path, "/bundled/tiny");
  EXPECT_EQ(config->models[0].name, "tiny");
  EXPECT_EQ(config->models[0].session_len, 100);
  EXPECT_EQ(config->models[0].max_batch_size, 8);
}

TEST_F(ServeConfigTest, ModelDirReplacesTheModelsDirectory) {
  ServeOverrides cli;
  cli.model_dir = "/models/other";
  cli.model_name = "o";
  absl::StatusOr<ServeConfig> config = Build(cli);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->models.size(), 1u);
  EXPECT_EQ(config->models[0].path, "/models/other");
  EXPECT_EQ(config->models[0].name, "o");
  EXPECT_EQ(config->server.port, 8000);  // the server settings still come from the file
  EXPECT_EQ(default_model_dir_calls_, 0);

  cli.models_dir = dir_ / "models";
  EXPECT_EQ(Build(cli).status().message(), "MODEL_DIR and --models-dir: give one");
}

TEST_F(ServeConfigTest, ModelsDirFlagOverridesTheFile) {
  std::filesystem::create_directories(dir_ / "other");
  Write("other/c.yaml", "path: /m/c\n");
  ServeOverrides cli;
  cli.models_dir = dir_ / "other";
  absl::StatusOr<ServeConfig> config = Build(cli);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->models.size(), 1u);
  EXPECT_EQ(config->models[0].name, "c");

  cli.models_dir = dir_ / "absent";
  EXPECT_THAT(Build(cli).status().message(),
              HasSubstr("--models-dir: models_dir " + (dir_ / "absent").string()));
}

TEST_F(ServeConfigTest, ModelNameNeedsExactlyOneModel) {
  ServeOverrides cli;
  cli.model_name = "x";
  EXPECT_THAT(Build(cli).status().message(),
              HasSubstr("--model-name names one model, but 2 are served"));
}

TEST_F(ServeConfigTest, DuplicateModelNamesAreAnError) {
  Write("models/c.yaml", "name: bee\npath: /m/c\n");
  EXPECT_THAT(Build(ServeOverrides{}).status().message(),
              HasSubstr("model name 'bee' is already used by " + (dir_ / "models/b.yaml").string() +
                        ":1:7"));
}

TEST_F(ServeConfigTest, NumBlocksAndCacheMaxEntryCountSizeThePool) {
  ServeOverrides cli;
  cli.num_blocks = 0;  // the default pool, whatever the YAML says
  absl::StatusOr<ServeConfig> config = Build(cli);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->models[1].cache_max_entry_count.has_value());

  cli.num_blocks = 77;
  config = Build(cli);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->models[1].cache_max_entry_count, 77.0);
  EXPECT_EQ(config->models[1].Where("cache_max_entry_count"), "--num-blocks");

  cli.cache_max_entry_count = 0.5;
  EXPECT_THAT(Build(cli).status().message(), HasSubstr("--num-blocks and --cache-max-entry-count"));
  cli.num_blocks.reset();
  cli.cache_max_entry_count = 2.5;
  EXPECT_THAT(Build(cli).status().message(),
              HasSubstr("--cache-max-entry-count must be a fraction in (0, 1) or a whole number"));
}

TEST_F(ServeConfigTest, FlagsOutOfRangeAreErrorsNamingTheFlag) {
  ServeOverrides cli;
  cli.port = 70000;
  EXPECT_EQ(Build(cli).status().message(), "--port must be in [0, 65535], got 70000");
  cli = ServeOverrides{};
  cli.max_batch_size = 0;
  EXPECT_EQ(Build(cli).status().message(), "--max-batch-size must be in [1, 2147483647], got 0");
}

TEST_F(ServeConfigTest, TlsFlagsMustLeaveBothCertAndKey) {
  ServeOverrides cli;
  cli.tls_client_ca = "/ca.pem";
  absl::StatusOr<ServeConfig> config = Build(cli, /*with_file=*/false);
  EXPECT_EQ(config.status().message(),
            "--tls-client-ca: needs --tls-cert and --tls-key (or tls in server.yaml)");
  cli = ServeOverrides{};
  cli.tls_key = "/k.pem";
  EXPECT_EQ(Build(cli, /*with_file=*/false).status().message(),
            "--tls-cert and --tls-key: give both (or set tls in server.yaml)");
  // The file has both: one flag replaces its half.
  EXPECT_TRUE(Build(cli).ok());
}

TEST_F(ServeConfigTest, ErrorsInTheFilesComeThrough) {
  Write("server.yaml", "port: 1\nmodel_dir: models\n");
  EXPECT_EQ(Build(ServeOverrides{}).status().message(),
            (dir_ / "server.yaml").string() +
                ":2:1: unknown key 'model_dir'; did you mean 'models_dir'?");
}

TEST_F(ServeConfigTest, PrintConfigShowsTheMergedValuesAndTheirOrigins) {
  ServeOverrides cli;
  cli.max_batch_size = 3;
  absl::StatusOr<ServeConfig> config = Build(cli);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string text = PrintServeConfig(*config);
  EXPECT_THAT(text, HasSubstr("max_batch_size: 3  # --max-batch-size"));
  EXPECT_THAT(text, HasSubstr("port: 8000  # " + (dir_ / "server.yaml").string() + ":1:7"));
  EXPECT_THAT(text, HasSubstr("metrics_port: 9400\n"));
  EXPECT_THAT(text, HasSubstr("temperature: 0.7  #"));
  EXPECT_THAT(text, HasSubstr("<redacted>"));
  EXPECT_THAT(text, Not(HasSubstr("s3cret")));

  // It is YAML, and each model entry is a model YAML that reads back the same.
  YAML::Node root = YAML::Load(text);
  ASSERT_TRUE(root["models"].IsSequence());
  ASSERT_EQ(root["models"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    absl::StatusOr<ModelYaml> again = ParseModelYaml(root["models"][i], "printed.yaml", "/");
    ASSERT_TRUE(again.ok()) << again.status() << "\n" << text;
    const ModelYaml& model = config->models[i];
    EXPECT_EQ(again->name, model.name);
    EXPECT_EQ(again->path, std::filesystem::absolute(model.path));
    EXPECT_EQ(again->max_batch_size, model.max_batch_size);
    EXPECT_EQ(again->session_len, model.session_len);
    EXPECT_EQ(again->block_size, model.block_size);
    EXPECT_EQ(again->cache_max_entry_count, model.cache_max_entry_count);
    EXPECT_EQ(again->enable_prefix_caching, model.enable_prefix_caching);
    EXPECT_EQ(again->async_scheduling, model.async_scheduling);
    EXPECT_EQ(again->sampling.temperature, model.sampling.temperature);
    EXPECT_EQ(again->sampling.top_k, model.sampling.top_k);
    EXPECT_EQ(again->chat_template.index(), model.chat_template.index());
  }
  // And so is the server part.
  root.remove("models");
  absl::StatusOr<ServerConfig> server = ParseServerConfig(root, "printed.yaml", "/");
  ASSERT_TRUE(server.ok()) << server.status() << "\n" << text;
  EXPECT_EQ(server->port, 8000);
  EXPECT_EQ(server->max_sessions, 9);
  EXPECT_EQ(server->models_dir, dir_ / "models");
  ASSERT_TRUE(server->tls.has_value());
  EXPECT_EQ(server->tls->cert, dir_ / "a.pem");
}

TEST_F(ServeConfigTest, PrintConfigShowsEveryKeyTheReadersKnow) {
  Write("models/a.yaml",
        "path: /m/a\nsampling:\n  temperature: 0.5\n  top_p: 0.5\n  top_k: 5\n  min_p: 0.1\n"
        "  repetition_penalty: 1.1\n  presence_penalty: 0.1\n  frequency_penalty: 0.1\n"
        "  max_tokens: 5\n  stop: [x]\n  stop_token_ids: [1]\n");
  absl::StatusOr<ServeConfig> config = Build(ServeOverrides{});
  ASSERT_TRUE(config.ok()) << config.status();
  YAML::Node root = YAML::Load(PrintServeConfig(*config));
  for (std::string_view key : ServerConfigKeys()) {
    EXPECT_TRUE(root[std::string(key)].IsDefined()) << key;
  }
  for (std::string_view key : TlsConfigKeys()) {
    EXPECT_TRUE(root["tls"][std::string(key)].IsDefined()) << key;
  }
  const YAML::Node model = root["models"][0];
  for (std::string_view key : ModelYamlKeys()) {
    EXPECT_TRUE(model[std::string(key)].IsDefined()) << key;
  }
  for (std::string_view key : SamplingYamlKeys()) {
    EXPECT_TRUE(model["sampling"][std::string(key)].IsDefined()) << key;
  }
}

}  // namespace
}  // namespace loom
