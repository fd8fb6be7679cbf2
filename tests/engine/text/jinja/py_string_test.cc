// Python str semantics on UTF-8: the values are what CPython 3.11 prints.
#include "engine/text/jinja/py_string.h"

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace loom::jinja {
namespace {

TEST(PyStringTest, FloatReprIsPythons) {
  EXPECT_EQ(FormatPyFloat(1.0), "1.0");
  EXPECT_EQ(FormatPyFloat(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatPyFloat(1e16), "1e+16");
  EXPECT_EQ(FormatPyFloat(1e15), "1000000000000000.0");
  EXPECT_EQ(FormatPyFloat(1e-5), "1e-05");
  EXPECT_EQ(FormatPyFloat(1.5e-5), "1.5e-05");
  EXPECT_EQ(FormatPyFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatPyFloat(-0.0), "-0.0");
  EXPECT_EQ(FormatPyFloat(123.456), "123.456");
  EXPECT_EQ(FormatPyFloat(1e100), "1e+100");
  EXPECT_EQ(FormatPyFloat(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FormatPyFloat(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(FormatPyFloat(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(FormatPyFloat(5e-324), "5e-324");
}

TEST(PyStringTest, StringReprIsPythons) {
  EXPECT_EQ(ReprPyString("abc"), "'abc'");
  EXPECT_EQ(ReprPyString("it's"), "\"it's\"");
  EXPECT_EQ(ReprPyString("a'b\"c"), "'a\\'b\"c'");
  EXPECT_EQ(ReprPyString("a\nb\t\\\x01\x7f"), "'a\\nb\\t\\\\\\x01\\x7f'");
  EXPECT_EQ(ReprPyString("héllo 你好"), "'héllo 你好'");
  EXPECT_EQ(ReprPyString("\xC2\xA0\xE2\x80\xA8"), "'\\xa0\\u2028'");  // not printable
}

TEST(PyStringTest, StripAndSplitUseUnicodeWhitespace) {
  EXPECT_EQ(PyStrip("\u3000 x\x1f\n", std::nullopt, StripSide::kBoth), "x");
  EXPECT_EQ(PyStrip("xxaxx", std::string("x"), StripSide::kLeft), "axx");
  EXPECT_EQ(PyStrip("éaé", std::string("é"), StripSide::kRight), "éa");
  EXPECT_EQ(PySplit(" a  b\u3000c ", std::nullopt, -1, false),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(PySplit(" a b ", std::nullopt, 1, false), (std::vector<std::string>{"a", "b "}));
  EXPECT_EQ(PySplit(" a b ", std::nullopt, 1, true), (std::vector<std::string>{" a", "b"}));
  EXPECT_EQ(PySplit("a,b,,c", std::string(","), -1, false),
            (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(PySplit("a,b,c", std::string(","), 1, true), (std::vector<std::string>{"a,b", "c"}));
  EXPECT_EQ(PySplitLines("a\nb\r\nc\rd\n"), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(PyStringTest, ReplaceFindCount) {
  EXPECT_EQ(PyReplace("aaa", "a", "b", 2), "bba");
  EXPECT_EQ(PyReplace("ab", "", "-", -1), "-a-b-");
  EXPECT_EQ(PyReplace("éé", "", "-", 2), "-é-é");
  EXPECT_EQ(PyFind("héllo", "l"), 2);
  EXPECT_EQ(PyFind("héllo", "z"), -1);
  EXPECT_EQ(PyCount("aaaa", "aa"), 2);
  EXPECT_EQ(PyCount("héllo", ""), 6);
}

TEST(PyStringTest, CaseMappingIsFullUnicode) {
  EXPECT_EQ(PyUpper("straße"), "STRASSE");
  EXPECT_EQ(PyLower("ΟΔΟΣ"), "οδος");  // final sigma
  EXPECT_EQ(PyCapitalize("hELLO wORLD"), "Hello world");
  EXPECT_EQ(PyTitleMethod("hello wORLD o'neil"), "Hello World O'Neil");
  EXPECT_EQ(JinjaTitleFilter("hello wORLD o'neil-x(y"), "Hello World O'neil-X(Y");
}

TEST(PyStringTest, IntAndFloatParsing) {
  EXPECT_EQ(ParsePyInt(" 42 ", 10), 42);
  EXPECT_EQ(ParsePyInt("-1_000", 10), -1000);
  EXPECT_EQ(ParsePyInt("0x1A", 16), 26);
  EXPECT_EQ(ParsePyInt("0x1A", 0), 26);
  EXPECT_EQ(ParsePyInt("ff", 16), 255);
  EXPECT_EQ(ParsePyInt("9223372036854775807", 10), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ParsePyInt("9223372036854775808", 10), std::nullopt);
  EXPECT_EQ(ParsePyInt("4.7", 10), std::nullopt);
  EXPECT_EQ(ParsePyInt("1__0", 10), std::nullopt);
  EXPECT_EQ(ParsePyInt("007", 0), std::nullopt);
  EXPECT_EQ(ParsePyFloat(" 1.5 "), 1.5);
  EXPECT_EQ(ParsePyFloat("1e3"), 1000.0);
  EXPECT_EQ(ParsePyFloat("-Infinity"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(ParsePyFloat("1_000.5"), 1000.5);
  EXPECT_EQ(ParsePyFloat("abc"), std::nullopt);
}

TEST(PyStringTest, InvalidUtf8RoundTripsThroughCodePoints) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(static_cast<size_t>(rng() % 12), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    EXPECT_EQ(FromCodePoints(ToCodePoints(bytes)), bytes);
    // The helpers accept any bytes without failing.
    PyStrip(bytes, std::nullopt, StripSide::kBoth);
    PySplit(bytes, std::nullopt, -1, false);
    PyUpper(bytes);
    ReprPyString(bytes);
  }
}

}  // namespace
}  // namespace loom::jinja
