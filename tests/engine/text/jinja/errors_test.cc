// Templates are untrusted: every failure is a Status naming the construct and the line,
// resource use is bounded, and no input crashes the renderer.
#include <pthread.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/text/jinja/template.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::jinja {
namespace {

using ::testing::HasSubstr;

absl::Status ParseError(const std::string& source) {
  return Template::Parse(source, "chat_template").status();
}

absl::StatusOr<std::string> Render(
    const std::string& source, const RenderLimits& limits = {},
    const nlohmann::ordered_json& context = nlohmann::ordered_json::object()) {
  absl::StatusOr<Template> parsed = Template::Parse(source, "chat_template");
  if (!parsed.ok()) return parsed.status();
  return parsed->RenderJson(context, limits);
}

TEST(ErrorsTest, ParseErrorsNameTheConstructAndLine) {
  EXPECT_EQ(ParseError("a\nb\n{{ x | wordwrap(10) }}"),
            absl::InvalidArgumentError("chat_template:3: unsupported filter 'wordwrap'"));
  EXPECT_EQ(ParseError("{% if x is prime %}{% endif %}"),
            absl::InvalidArgumentError("chat_template:1: unsupported test 'prime'"));
  EXPECT_EQ(ParseError("x\n{% include 'other.jinja' %}"),
            absl::InvalidArgumentError("chat_template:2: unsupported tag 'include'"));
  EXPECT_EQ(ParseError("{% for x in xs %}\n{{ x }}"),
            absl::InvalidArgumentError(
                "chat_template:1: unterminated 'for' block (expected '{% endfor %}')"));
  EXPECT_EQ(ParseError("{% if x %}\n{% endfor %}"),
            absl::InvalidArgumentError("chat_template:2: unexpected 'endfor' inside 'if' block "
                                       "(expected 'elif' or 'else' or 'endif')"));
  EXPECT_THAT(ParseError("{{ }}").message(), HasSubstr("chat_template:1: expected an expression"));
  EXPECT_THAT(ParseError("{{ a b }}").message(), HasSubstr("expected end of print statement"));
  EXPECT_THAT(ParseError("{% break %}").message(), HasSubstr("'break' outside of a loop"));
  EXPECT_THAT(ParseError("{% for x in xs recursive %}{% endfor %}").message(),
              HasSubstr("unsupported: recursive for loops"));
  EXPECT_THAT(ParseError("{% macro m(a=1, b) %}{% endmacro %}").message(),
              HasSubstr("non-default argument follows default argument"));
}

TEST(ErrorsTest, RuntimeErrorsNameTheLine) {
  EXPECT_EQ(Render("line 1\n{{ raise_exception('Conversation roles must alternate') }}").status(),
            absl::InvalidArgumentError("chat_template:2: Conversation roles must alternate"));
  EXPECT_EQ(Render("\n\n{{ missing.attr }}").status(),
            absl::InvalidArgumentError("chat_template:3: 'missing' is undefined"));
  EXPECT_EQ(
      Render("{{ 'a' + 1 }}").status(),
      absl::InvalidArgumentError("chat_template:1: can only concatenate str (not \"int\") to str"));
  EXPECT_EQ(Render("{{ [1].append(2) }}").status(),
            absl::InvalidArgumentError(
                "chat_template:1: access to attribute 'append' of 'list' object is unsafe."));
  EXPECT_THAT(Render("{{ none | tojson(indent=2) | first | foo }}").status().message(),
              HasSubstr("unsupported filter 'foo'"));
  EXPECT_THAT(Render("{{ x | tojson }}").status().message(),
              HasSubstr("Object of type Undefined is not JSON serializable"));
  EXPECT_THAT(
      Render("{% set ns = namespace() %}{% set ns.inner = namespace() %}").status().message(),
      HasSubstr("unsupported: a namespace attribute holding a namespace"));
}

TEST(ErrorsTest, RecursiveMacroIsBounded) {
  absl::StatusOr<std::string> out =
      Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(out.status().message(), HasSubstr("macro calls nest deeper than 32 (macro 'f')"));
  // A wide call tree stays within the depth limit but not within the step budget.
  RenderLimits limits;
  limits.max_steps = 100000;
  out = Render(
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
      "{{ f(30) }}",
      limits);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(out.status().message(), HasSubstr("more than 100000 steps"));
}

TEST(ErrorsTest, LoopsAndRangesAreBounded) {
  // jinja2's sandbox refuses ranges over 100000 items.
  EXPECT_THAT(Render("{% for i in range(100000000) %}x{% endfor %}").status().message(),
              HasSubstr("Range too big"));
  absl::StatusOr<std::string> out =
      Render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(out.status().message(), HasSubstr("steps"));
}

TEST(ErrorsTest, OutputAndStringsAreBounded) {
  absl::StatusOr<std::string> out =
      Render("{% for i in range(100000) %}0123456789abcdefghij{% endfor %}");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(out.status().message(), HasSubstr("exceeds 1048576 bytes"));
  // Doubling a string never allocates past the limit, whether or not it is printed.
  out = Render(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Render("{{ 'x' * 10000000000 }}").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Render("{{ [1, 2] * 10000000000 }}").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Render("{{ 'x' | indent(100000000) }}").status().code(),
            absl::StatusCode::kResourceExhausted);
  // The limit is configurable.
  RenderLimits small;
  small.max_output_bytes = 10;
  EXPECT_TRUE(Render("0123456789", small).ok());
  EXPECT_EQ(Render("0123456789a", small).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Render("{% set s %}01234567890{% endset %}", small).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ErrorsTest, NestingIsBounded) {
  EXPECT_THAT(
      ParseError("{{ " + std::string(1000, '(') + "1" + std::string(1000, ')') + " }}").message(),
      HasSubstr("nests too deeply"));
  EXPECT_THAT(ParseError("{{ " + std::string(1000, '-') + "1 }}").message(),
              HasSubstr("nests too deeply"));
  std::string filters = "{{ x";
  for (int i = 0; i < 200; ++i) filters += " | trim";
  EXPECT_THAT(ParseError(filters + " }}").message(), HasSubstr("nests deeper than 128"));
  std::string chain = "{{ 1";
  for (int i = 0; i < 1000; ++i) chain += " + 1";
  EXPECT_THAT(ParseError(chain + " }}").message(), HasSubstr("nests deeper than"));
  std::string blocks;
  for (int i = 0; i < 200; ++i) blocks += "{% if true %}";
  EXPECT_THAT(ParseError(blocks).message(), HasSubstr("blocks nest deeper than 64"));
  EXPECT_THAT(Render("{% set ns = namespace(v=[]) %}{% for i in range(1000) %}"
                     "{% set ns.v = [ns.v] %}{% endfor %}")
                  .status()
                  .message(),
              HasSubstr("value nests deeper than"));
  // Nesting within the limits renders.
  std::string ok = "{{ 1";
  for (int i = 0; i < 100; ++i) ok += " + 1";
  EXPECT_EQ(*Render(ok + " }}"), "101");
}

// The deepest template the nesting limits allow: macro calls at the depth limit, each
// through nested blocks and a deeply nested expression.
std::string DeepestTemplate(int calls) {
  std::string body = "{% if n > 0 %}";
  for (int i = 0; i < 60; ++i) body += "{% if true %}";
  body += "{{ " + std::string(40, '(') + "f(n - 1)" + std::string(40, ')') + " }}";
  body += "{{ 0";
  for (int i = 0; i < 120; ++i) body += " + 1";
  body += " }}";
  for (int i = 0; i < 60; ++i) body += "{% endif %}";
  body += "{% else %}bottom{% endif %}";
  return "{% macro f(n) %}" + body + "{% endmacro %}{{ f(" + std::to_string(calls) + ") }}";
}

TEST(ErrorsTest, DeepestAllowedTemplateRendersOrStopsAtTheStackBudget) {
  RenderLimits roomy;
  roomy.max_stack_bytes = size_t{6} << 20;  // enough even under AddressSanitizer
  absl::StatusOr<std::string> out = Render(DeepestTemplate(31), roomy);
  ASSERT_TRUE(out.ok()) << out.status();
  std::string expected = "bottom";
  for (int i = 0; i < 31; ++i) expected += "120";
  EXPECT_EQ(*out, expected);
  EXPECT_EQ(Render(DeepestTemplate(32), roomy).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Rendering on a thread with a small stack, a small stack budget turns the overflow
  // into an error.
  absl::StatusOr<Template> parsed = Template::Parse(DeepestTemplate(31), "chat_template");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  RenderLimits tight;
  tight.max_stack_bytes = 256 << 10;
  absl::StatusOr<std::string> small_stack_result;
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 1 << 20), 0);
  struct Job {
    const Template* parsed;
    const RenderLimits* limits;
    absl::StatusOr<std::string>* result;
  } job{&*parsed, &tight, &small_stack_result};
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* arg) -> void* {
                  auto* j = static_cast<Job*>(arg);
                  *j->result = j->parsed->RenderJson(nlohmann::ordered_json::object(), *j->limits);
                  return nullptr;
                },
                &job),
            0);
  ASSERT_EQ(pthread_join(thread, nullptr), 0);
  pthread_attr_destroy(&attr);
  EXPECT_EQ(small_stack_result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(small_stack_result.status().message(), HasSubstr("bytes of stack"));
}

TEST(ErrorsTest, InvalidUtf8) {
  EXPECT_EQ(ParseError("{{ 'a\xFF' }}").code(), absl::StatusCode::kInvalidArgument);
  // Bytes that are not UTF-8 in values pass through untouched.
  nlohmann::ordered_json context = {{"s", std::string("a\xFF\xC3")}};
  absl::StatusOr<std::string> out = Render("{{ s }}|{{ s | upper | length }}", {}, context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->substr(0, 4), std::string("a\xFF\xC3|"));
}

// Random byte-level mutations of real chat templates: each parses and renders or fails
// with a Status, never crashes or hangs (run under ASan/UBSan too).
TEST(ErrorsTest, MutatedTemplatesNeverCrash) {
  std::vector<std::string> seeds;
  for (const char* name : {"llama3", "qwen3", "deepseek_v3"}) {
    const std::filesystem::path path =
        std::filesystem::path(LOOM_DEPS_DIR) / "tokenizers" / name / "tokenizer_config.json";
    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << path << " is missing: run scripts/setup.sh";
    std::stringstream text;
    text << in.rdbuf();
    const auto config = nlohmann::ordered_json::parse(text.str(), nullptr, false);
    ASSERT_TRUE(config.contains("chat_template"));
    seeds.push_back(config["chat_template"].get<std::string>());
  }
  const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                 {"role": "assistant", "content": "<think>r</think>a", "tool_calls": [
                   {"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                 {"role": "tool", "content": "t"}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  const std::string alphabet = "{}%#-+|~()[]'\"\\.:,=* \n\tabcdefgijlmnorstuxyz0123456789";
  std::mt19937 rng(20240611);
  RenderLimits limits;
  limits.max_steps = 100000;
  int rendered = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string source = seeds[static_cast<size_t>(i) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % (source.size() + 1);
      switch (rng() % 3) {
        case 0:
          source.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (at < source.size()) source.erase(at, 1 + rng() % 8);
          break;
        default:
          if (at < source.size()) source[at] = alphabet[rng() % alphabet.size()];
      }
    }
    absl::StatusOr<Template> parsed = Template::Parse(source, "chat_template");
    if (!parsed.ok()) {
      EXPECT_THAT(parsed.status().message(), HasSubstr("chat_template"));
      continue;
    }
    absl::StatusOr<std::string> out = parsed->RenderJson(context, limits);
    if (out.ok()) ++rendered;
  }
  EXPECT_GT(rendered, 100);  // the mutations do reach the interpreter
}

}  // namespace
}  // namespace loom::jinja
