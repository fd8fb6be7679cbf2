// Runs the real `loom` binary as a user would and checks what it prints.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/tools/loom_cli.h"

namespace {

using loom::testing::CliResult;
using loom::testing::RunLoom;
using loom::testing::ServeProcess;

nlohmann::json Golden() {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/tests/goldens/tiny-shakespeare-llama.json");
  return nlohmann::json::parse(in);
}

TEST(CliTest, Version) {
  CliResult run = RunLoom("--version");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out.rfind("loom 0.", 0), 0u) << run.out;
}

TEST(CliTest, GenerateGreedyJsonOnTheBundledModelMatchesTransformers) {
  const auto c = Golden()["cases"][0];
  ASSERT_EQ(c["prompt"], "ROMEO:");
  CliResult run = RunLoom("generate --prompt 'ROMEO:' --temperature 0 --max-tokens 48 --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  auto out = nlohmann::json::parse(run.out);
  EXPECT_EQ(out["prompt_ids"], c["prompt_ids"]);
  EXPECT_EQ(out["output_ids"], c["greedy_ids"]);
  EXPECT_EQ(out["text"], c["greedy_text"]);
  EXPECT_EQ(out["finish_reason"], "length");
  EXPECT_EQ(out["usage"]["completion_tokens"], 48);
}

TEST(CliTest, GeneratePlainPrintsPromptAndContinuation) {
  CliResult run = RunLoom("generate --prompt 'The king' --max-tokens 20 --seed 3");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(run.out.rfind("The king", 0), 0u) << run.out;
  EXPECT_GT(run.out.size(), std::string("The king\n").size());
}

TEST(CliTest, SeededSamplingIsRepeatable) {
  const std::string args =
      "generate --prompt 'O' --temperature 0.9 --top-p 0.9 --top-k 50 "
      "--seed 1234 --max-tokens 30 --json";
  CliResult a = RunLoom(args);
  CliResult b = RunLoom(args);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_EQ(nlohmann::json::parse(a.out)["output_ids"], nlohmann::json::parse(b.out)["output_ids"]);
}

TEST(CliTest, GenerateFromPromptFile) {
  const std::string path = ::testing::TempDir() + "/loom_cli_prompt.txt";
  std::ofstream(path) << "ROMEO:";
  CliResult run =
      RunLoom("generate --prompt-file " + path + " --temperature 0 --max-tokens 5 --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(nlohmann::json::parse(run.out)["prompt_ids"], Golden()["cases"][0]["prompt_ids"]);
}

TEST(CliTest, PromptsFileRunsConcurrentlyAndKeepsInputOrder) {
  const std::string path = ::testing::TempDir() + "/loom_cli_prompts.json";
  std::ofstream(path) << R"(["ROMEO:", "The king", "O"])";
  CliResult all = RunLoom("generate --prompts-file " + path +
                          " --temperature 0 --max-tokens 12 --ignore-eos --json");
  ASSERT_EQ(all.exit_code, 0) << all.out;
  const auto results = nlohmann::json::parse(all.out);
  ASSERT_EQ(results.size(), 3u);
  for (const char* prompt : {"ROMEO:", "The king", "O"}) {
    CliResult one = RunLoom(std::string("generate --prompt '") + prompt +
                            "' --temperature 0 --max-tokens 12 --ignore-eos --json");
    ASSERT_EQ(one.exit_code, 0) << one.out;
    const auto single = nlohmann::json::parse(one.out);
    bool found = false;
    for (const auto& r : results) {
      if (r["prompt"] == prompt) {
        EXPECT_EQ(r["output_ids"], single["output_ids"]) << prompt;
        EXPECT_EQ(r["text"], single["text"]) << prompt;
        found = true;
      }
    }
    EXPECT_TRUE(found) << prompt;
  }
  EXPECT_EQ(results[0]["prompt"], "ROMEO:");
  EXPECT_EQ(results[1]["prompt"], "The king");
  EXPECT_EQ(results[2]["prompt"], "O");

  std::ofstream(path) << R"({"not": "an array"})";
  CliResult bad = RunLoom("generate --prompts-file " + path);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("--prompts-file"), std::string::npos) << bad.out;
}

// --max-batch-size 1 runs the prompts one at a time: each alone, as a single --prompt
// runs, so the ids are the same; 0 is refused, naming the flag.
TEST(CliTest, MaxBatchSizeOneRunsThePromptsOneAtATime) {
  const std::string path = ::testing::TempDir() + "/loom_cli_prompts_one.json";
  std::ofstream(path) << R"(["ROMEO:", "The king"])";
  const std::string run =
      "generate --prompts-file " + path + " --temperature 0 --max-tokens 12 --ignore-eos --json";
  CliResult together = RunLoom(run);
  CliResult alone = RunLoom(run + " --max-batch-size 1");
  ASSERT_EQ(together.exit_code, 0) << together.out;
  ASSERT_EQ(alone.exit_code, 0) << alone.out;
  const auto a = nlohmann::json::parse(together.out), b = nlohmann::json::parse(alone.out);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(b[i]["output_ids"], a[i]["output_ids"]) << i;
  CliResult zero = RunLoom(run + " --max-batch-size 0");
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_NE(zero.out.find("--max-batch-size"), std::string::npos) << zero.out;
}

TEST(CliTest, StopStringsStopTokensAndLogprobs) {
  const auto c = Golden()["cases"][0];  // "ROMEO:" -> " I have, I am noted.\n\nROMEO:..."
  CliResult stopped = RunLoom(
      "generate --prompt 'ROMEO:' --temperature 0 --max-tokens 48 "
      "--stop 'noted.' --json");
  ASSERT_EQ(stopped.exit_code, 0) << stopped.out;
  auto out = nlohmann::json::parse(stopped.out);
  EXPECT_EQ(out["text"], " I have, I am ");
  EXPECT_EQ(out["finish_reason"], "stop");

  const int stop_id = c["greedy_ids"][2];
  CliResult by_id = RunLoom(
      "generate --prompt 'ROMEO:' --temperature 0 --max-tokens 48 "
      "--stop-token-id " +
      std::to_string(stop_id) + " --json");
  ASSERT_EQ(by_id.exit_code, 0) << by_id.out;
  out = nlohmann::json::parse(by_id.out);
  EXPECT_EQ(out["output_ids"].back(), stop_id);
  EXPECT_EQ(out["finish_reason"], "stop");

  CliResult logprobs = RunLoom(
      "generate --prompt 'ROMEO:' --temperature 0 --max-tokens 5 "
      "--logprobs 3 --json");
  ASSERT_EQ(logprobs.exit_code, 0) << logprobs.out;
  out = nlohmann::json::parse(logprobs.out);
  ASSERT_EQ(out["logprobs"].size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const auto& step = out["logprobs"][i];
    EXPECT_EQ(step["token_id"], out["output_ids"][i]);
    ASSERT_EQ(step["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(step["top_logprobs"][0]["token_id"], step["token_id"]);
    EXPECT_LE(step["logprob"].get<double>(), 0.0);
  }
}

TEST(CliTest, TokenizeJson) {
  CliResult run =
      RunLoom(std::string("tokenize ") + LOOM_SOURCE_DIR +
              "/models/tiny-shakespeare-llama --text 'ROMEO:' --add-special-tokens --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(nlohmann::json::parse(run.out)["ids"], Golden()["cases"][0]["prompt_ids"]);
}

TEST(CliTest, CheckEnvReportsBuildFeatures) {
  CliResult run = RunLoom("check-env");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("CUDA: "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("backends: cpu"), std::string::npos) << run.out;
}

TEST(CliTest, ErrorsAreClearAndExitNonZero) {
  CliResult missing = RunLoom("generate /nonexistent-model-dir --prompt hi");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("/nonexistent-model-dir/config.json"), std::string::npos)
      << missing.out;

  CliResult no_prompt = RunLoom("generate");
  EXPECT_NE(no_prompt.exit_code, 0);
  EXPECT_NE(no_prompt.out.find("--prompt"), std::string::npos) << no_prompt.out;

  CliResult both = RunLoom("generate --prompt a --prompt-file b");
  EXPECT_NE(both.exit_code, 0);

  CliResult bad_top_p = RunLoom("generate --prompt a --top-p 2");
  EXPECT_NE(bad_top_p.exit_code, 0);
  EXPECT_NE(bad_top_p.out.find("--top-p"), std::string::npos) << bad_top_p.out;

  CliResult too_long = RunLoom("generate --prompt a --max-tokens 5000");
  EXPECT_NE(too_long.exit_code, 0);
  EXPECT_NE(too_long.out.find("session_len"), std::string::npos) << too_long.out;
}

// The replies of a chat transcript, in order: the text after each ">>> " prompt.
std::vector<std::string> Replies(const std::string& transcript) {
  std::vector<std::string> replies;
  size_t at = transcript.find(">>> ");
  while (at != std::string::npos) {
    const size_t next = transcript.find(">>> ", at + 4);
    replies.push_back(
        transcript.substr(at + 4, next == std::string::npos ? std::string::npos : next - at - 4));
    at = next;
  }
  return replies;
}

constexpr char kConversation[] =
    "printf 'Hello there\\nWho art thou?\\n/reset\\nHello there\\n' | ";

TEST(CliTest, ChatKeepsTheConversationAndResetStartsOver) {
  CliResult run = RunLoom("chat --temperature 0 --max-tokens 12", kConversation);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const std::vector<std::string> replies = Replies(run.out);
  ASSERT_GE(replies.size(), 4u) << run.out;
  EXPECT_FALSE(replies[0].empty());
  EXPECT_NE(replies[1], replies[0]);
  EXPECT_NE(replies[2].find("new conversation"), std::string::npos) << run.out;
  EXPECT_EQ(replies[3], replies[0]);  // a fresh conversation answers the same
}

TEST(CliTest, ClientTalksToAServerLikeTheLocalTools) {
  ServeProcess server;
  ASSERT_GT(server.port(), 0) << "loom serve did not start";
  CliResult raw = RunLoom("client " + server.target() +
                          " --prompt 'ROMEO:' --raw --temperature 0 --max-tokens 20");
  ASSERT_EQ(raw.exit_code, 0) << raw.out;
  CliResult local = RunLoom("generate --prompt 'ROMEO:' --temperature 0 --max-tokens 20 --json");
  ASSERT_EQ(local.exit_code, 0) << local.out;
  EXPECT_EQ(raw.out, nlohmann::json::parse(local.out)["text"].get<std::string>() + "\n");

  // The interactive client keeps its history in a server session: the same transcript
  // as `loom chat`, which keeps it in a local engine session.
  CliResult remote =
      RunLoom("client " + server.target() + " --temperature 0 --max-tokens 12", kConversation);
  ASSERT_EQ(remote.exit_code, 0) << remote.out;
  CliResult chat = RunLoom("chat --temperature 0 --max-tokens 12", kConversation);
  EXPECT_EQ(Replies(remote.out), Replies(chat.out));

  CliResult bad = RunLoom("client " + server.target() + " --prompt hi --temperature -1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("INVALID_ARGUMENT: sampling.temperature"), std::string::npos) << bad.out;
}

}  // namespace
