// The lexer's tokens: kinds, values, line numbers and errors.
#include "engine/text/jinja/lexer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace loom::jinja {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Describe(const std::vector<Token>& tokens) {
  std::vector<std::string> out;
  for (const Token& t : tokens) {
    switch (t.kind) {
      case TokenKind::kText:
        out.push_back("text:" + t.text);
        break;
      case TokenKind::kVariableBegin:
        out.push_back("{{");
        break;
      case TokenKind::kVariableEnd:
        out.push_back("}}");
        break;
      case TokenKind::kBlockBegin:
        out.push_back("{%");
        break;
      case TokenKind::kBlockEnd:
        out.push_back("%}");
        break;
      case TokenKind::kName:
        out.push_back("name:" + t.text);
        break;
      case TokenKind::kString:
        out.push_back("str:" + t.text);
        break;
      case TokenKind::kInteger:
        out.push_back("int:" + std::to_string(t.int_value));
        break;
      case TokenKind::kFloat:
        out.push_back("float:" + t.text);
        break;
      case TokenKind::kOperator:
        out.push_back("op:" + t.text);
        break;
      case TokenKind::kEnd:
        out.push_back("end");
        break;
    }
  }
  return out;
}

TEST(LexerTest, TokenizesTagsAndExpressions) {
  absl::StatusOr<std::vector<Token>> tokens =
      Lex("a{{ x.y[0] | f('s\\n', 1.5e3) }}{% if n >= 0x1F %}b{% endif %}", "t");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(Describe(*tokens),
            (std::vector<std::string>{
                "text:a", "{{",     "name:x", "op:.",       "name:y",  "op:[",  "int:0",
                "op:]",   "op:|",   "name:f", "op:(",       "str:s\n", "op:,",  "float:1.5e3",
                "op:)",   "}}",     "{%",     "name:if",    "name:n",  "op:>=", "int:31",
                "%}",     "text:b", "{%",     "name:endif", "%}",      "end"}));
}

TEST(LexerTest, BracesInsideATagDoNotCloseIt) {
  absl::StatusOr<std::vector<Token>> tokens = Lex("{{ {'a': {'b': 1}} }}", "t");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(Describe(*tokens).size(), 12u);
}

TEST(LexerTest, RecordsLines) {
  absl::StatusOr<std::vector<Token>> tokens = Lex("a\nb\n{{ x\n + y }}", "t");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 7u);
  EXPECT_EQ((*tokens)[0].line, 1);  // text
  EXPECT_EQ((*tokens)[1].line, 3);  // {{
  EXPECT_EQ((*tokens)[4].line, 4);  // y
}

TEST(LexerTest, ReportsErrorsWithLines) {
  EXPECT_THAT(Lex("ok\n{{ 'abc }}", "t").status().message(),
              HasSubstr("t:2: unterminated string literal"));
  EXPECT_THAT(Lex("{% if x\n", "t").status().message(), HasSubstr("t:1: unterminated '{%' tag"));
  EXPECT_THAT(Lex("{# note", "t").status().message(), HasSubstr("unterminated comment"));
  EXPECT_THAT(Lex("{% raw %}x", "t").status().message(), HasSubstr("unterminated '{% raw %}'"));
  EXPECT_THAT(Lex("{{ a ) }}", "t").status().message(), HasSubstr("unexpected ')'"));
  EXPECT_THAT(Lex("{{ a $ }}", "t").status().message(), HasSubstr("unexpected character '$'"));
  EXPECT_THAT(Lex("{{ '\\x4' }}", "t").status().message(), HasSubstr("truncated"));
  EXPECT_THAT(Lex("a\xFF", "t").status().message(), HasSubstr("not valid UTF-8"));
}

}  // namespace
}  // namespace loom::jinja
