// Renders every case of testdata/jinja2_cases.json (made by make_jinja2_cases.py with
// jinja2 configured as transformers configures it) and requires jinja2's exact output,
// or an error where jinja2 raised. The cases are hand-written constructs plus seeded
// random templates mixing whitespace control, loops, macros, call blocks and namespaces.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/text/jinja/template.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::jinja {
namespace {

nlohmann::ordered_json ReadCases() {
  const std::filesystem::path path =
      std::filesystem::path(LOOM_SOURCE_DIR) / "tests/engine/text/jinja/testdata/jinja2_cases.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream contents;
  contents << in.rdbuf();
  return nlohmann::ordered_json::parse(contents.str(), nullptr, /*allow_exceptions=*/false);
}

TEST(Jinja2CasesTest, MatchesJinja2) {
  const nlohmann::ordered_json data = ReadCases();
  ASSERT_TRUE(data.is_object() && data.contains("cases"));
  const nlohmann::ordered_json& cases = data["cases"];
  ASSERT_GT(cases.size(), 400u);
  int outputs = 0, errors = 0;
  for (const auto& c : cases) {
    const std::string source = c["template"].get<std::string>();
    SCOPED_TRACE(::testing::Message() << "template: " << source);
    absl::StatusOr<Template> parsed = Template::Parse(source, "t");
    absl::StatusOr<std::string> rendered = parsed.ok()
                                               ? parsed->RenderJson(c["context"])
                                               : absl::StatusOr<std::string>(parsed.status());
    if (c.contains("output")) {
      ++outputs;
      ASSERT_TRUE(rendered.ok()) << rendered.status();
      EXPECT_EQ(*rendered, c["output"].get<std::string>());
    } else {
      ++errors;
      EXPECT_FALSE(rendered.ok()) << "jinja2 raised " << c["error"].get<std::string>()
                                  << " but loom rendered: " << *rendered;
    }
  }
  EXPECT_GT(outputs, 350);
  EXPECT_GT(errors, 10);
}

}  // namespace
}  // namespace loom::jinja
