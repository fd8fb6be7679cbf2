#include "server/config/server_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "yaml-cpp/yaml.h"

namespace loom {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ServerConfig> Parse(const std::string& text) {
  return ParseServerConfig(YAML::Load(text), "server.yaml", "/etc/loom");
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<ServerConfig> config = Parse(text);
  EXPECT_FALSE(config.ok()) << text;
  return config.ok() ? "" : std::string(config.status().message());
}

TEST(ServerConfigTest, EmptyFileKeepsTheBuiltInDefaults) {
  absl::StatusOr<ServerConfig> config = Parse("");
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerOptions defaults;
  EXPECT_EQ(config->host, defaults.host);
  EXPECT_EQ(config->port, defaults.port);
  EXPECT_EQ(config->metrics_port, 9400);
  EXPECT_FALSE(config->tls.has_value());
  EXPECT_TRUE(config->models_dir.empty());
  EXPECT_DOUBLE_EQ(config->drain_timeout, 30.0);
}

TEST(ServerConfigTest, ReadsEveryKeyAndResolvesPathsAgainstTheFilesDirectory) {
  absl::StatusOr<ServerConfig> config = Parse(R"(host: 0.0.0.0
port: 8000
metrics_port: -1
tls:
  cert: tls/server.pem
  key: /abs/server.key
  client_ca: ca.pem
api_keys: [alpha, beta]
api_key_file: keys.txt
max_queued_requests: 5
max_queued_tokens: 6000000000
max_sessions: 7
max_receive_message_bytes: 1024
max_send_message_bytes: 2048
drain_timeout: 2.5
models_dir: ../models
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->host, "0.0.0.0");
  EXPECT_EQ(config->port, 8000);
  EXPECT_EQ(config->metrics_port, -1);
  ASSERT_TRUE(config->tls.has_value());
  EXPECT_EQ(config->tls->cert, "/etc/loom/tls/server.pem");
  EXPECT_EQ(config->tls->key, "/abs/server.key");
  EXPECT_EQ(config->tls->client_ca, "/etc/loom/ca.pem");
  EXPECT_THAT(config->api_keys, ::testing::ElementsAre("alpha", "beta"));
  EXPECT_EQ(config->api_key_file, "/etc/loom/keys.txt");
  EXPECT_EQ(config->max_queued_requests, 5);
  EXPECT_EQ(config->max_queued_tokens, 6000000000);
  EXPECT_EQ(config->max_sessions, 7);
  EXPECT_EQ(config->max_receive_message_bytes, 1024);
  EXPECT_EQ(config->max_send_message_bytes, 2048);
  EXPECT_DOUBLE_EQ(config->drain_timeout, 2.5);
  EXPECT_EQ(config->models_dir, "/etc/models");
  EXPECT_EQ(config->Where("port"), "server.yaml:2:7");
  EXPECT_EQ(config->Where("tls.key"), "server.yaml:6:8");
  EXPECT_EQ(config->Where("host"), "server.yaml:1:7");
}

TEST(ServerConfigTest, UnknownKeysNameLineColumnAndTheNearestKey) {
  EXPECT_EQ(ErrorOf("port: 1\nmetric_port: 2\n"),
            "server.yaml:2:1: unknown key 'metric_port'; did you mean 'metrics_port'?");
  EXPECT_EQ(ErrorOf("port: 1\ntls:\n  cert: a\n  keyy: b\n"),
            "server.yaml:4:3: unknown key 'keyy' in tls; did you mean 'key'?");
  EXPECT_THAT(ErrorOf("zzzzzzzzzz: 1\n"),
              HasSubstr("server.yaml:1:1: unknown key 'zzzzzzzzzz'; valid keys: host, port,"));
  EXPECT_EQ(ErrorOf("port: 1\nport: 2\n"), "server.yaml:2:1: duplicate key 'port'");
}

TEST(ServerConfigTest, TypeErrorsNameTheKeyAndWhatWasFound) {
  EXPECT_EQ(ErrorOf("port: \"80\"\n"),
            "server.yaml:1:7: port must be an integer, not a string (\"80\")");
  EXPECT_EQ(ErrorOf("host: x\nport: eighty\n"),
            "server.yaml:2:7: port must be an integer, not 'eighty'");
  EXPECT_EQ(ErrorOf("port: 80.5\n"), "server.yaml:1:7: port must be an integer, not '80.5'");
  EXPECT_EQ(ErrorOf("api_keys: abc\n"),
            "server.yaml:1:11: api_keys must be a list of strings, not 'abc'");
  EXPECT_EQ(ErrorOf("tls: [a]\n"), "server.yaml:1:6: tls must be a mapping, not a list");
  EXPECT_EQ(ErrorOf("drain_timeout: soon\n"),
            "server.yaml:1:16: drain_timeout must be a number, not 'soon'");
  EXPECT_EQ(ErrorOf("- port\n"), "server.yaml:1:1: the file must be a mapping, not a list");
  EXPECT_EQ(ErrorOf("host: [a]\n"), "server.yaml:1:7: host must be a string, not a list");
}

TEST(ServerConfigTest, RangeErrorsNameTheRangeAndTheValue) {
  EXPECT_EQ(ErrorOf("port: -1\n"), "server.yaml:1:7: port must be in [0, 65535], got -1");
  EXPECT_EQ(ErrorOf("metrics_port: -2\n"),
            "server.yaml:1:15: metrics_port must be in [-1, 65535], got -2");
  EXPECT_EQ(ErrorOf("max_sessions: 0\n"), "server.yaml:1:15: max_sessions must be >= 1, got 0");
  EXPECT_EQ(ErrorOf("drain_timeout: -1\n"),
            "server.yaml:1:16: drain_timeout must be >= 0 seconds, got -1");
  EXPECT_EQ(ErrorOf("host: \"\"\n"), "server.yaml:1:7: host must not be empty");
  EXPECT_EQ(ErrorOf("tls:\n  cert: a.pem\n"),
            "server.yaml:2:3: tls needs both cert and key (a PEM certificate chain and its "
            "private key)");
  EXPECT_EQ(ErrorOf("api_keys: [\"a b\"]\n"), "server.yaml:1:11: api_keys[0] holds whitespace");
}

TEST(ServerConfigTest, ToServerOptionsCarriesEveryValue) {
  absl::StatusOr<ServerConfig> config = Parse(
      "host: 0.0.0.0\nport: 7\nmetrics_port: 0\napi_keys: [k]\ndrain_timeout: 3\n"
      "max_receive_message_bytes: 11\nmax_send_message_bytes: 12\n");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ServerOptions> options = ToServerOptions(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "0.0.0.0");
  EXPECT_EQ(options->port, 7);
  EXPECT_EQ(options->metrics_port, 0);
  EXPECT_TRUE(options->api_keys.enabled());
  EXPECT_EQ(options->drain_timeout, absl::Seconds(3));
  EXPECT_EQ(options->max_receive_message_bytes, 11);
  EXPECT_EQ(options->max_send_message_bytes, 12);
  EXPECT_FALSE(options->tls.has_value());
}

TEST(ServerConfigTest, StartUpErrorsNameWhereTheFileWasGiven) {
  absl::StatusOr<ServerConfig> config = Parse("port: 1\napi_key_file: missing-keys.txt\n");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ServerOptions> options = ToServerOptions(*config);
  ASSERT_FALSE(options.ok());
  EXPECT_THAT(options.status().message(),
              HasSubstr("server.yaml:2:15: api_key_file: cannot read /etc/loom/missing-keys.txt"));

  config = Parse("tls:\n  cert: /nonexistent/cert.pem\n  key: /nonexistent/key.pem\n");
  ASSERT_TRUE(config.ok()) << config.status();
  options = ToServerOptions(*config);
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().message(),
            "server.yaml:2:9: tls.cert: cannot read /nonexistent/cert.pem");
}

TEST(ServerConfigTest, LoadServerConfigReportsSyntaxErrorsAtTheirPosition) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("loom_server_config_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "server.yaml";
  std::ofstream(file) << "port: 1\ntls: {cert: a\n";
  absl::StatusOr<ServerConfig> config = LoadServerConfig(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr(file.string() + ":"));

  std::ofstream(file) << "models_dir: models\n";
  config = LoadServerConfig(file);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->models_dir, dir / "models");
  EXPECT_EQ(config->Where("models_dir"), file.string() + ":1:13");

  EXPECT_EQ(LoadServerConfig(dir / "absent.yaml").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace loom
