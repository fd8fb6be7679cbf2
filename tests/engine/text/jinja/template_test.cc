// Each Jinja construct on its own, with outputs as jinja2 (configured as transformers
// configures it) produces them. verify_against_jinja2.py re-checks every
// expectation of the form EXPECT_EQ(Render(<template>), <expected>) here against jinja2.
#include "engine/text/jinja/template.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::jinja {
namespace {

// The variables every template here sees.
const nlohmann::ordered_json& Context() {
  static const auto* const context = new nlohmann::ordered_json(nlohmann::ordered_json::parse(R"({
    "xs": [1, 2, 3],
    "d": {"a": 1, "b": [1, 2]},
    "s": "héllo wörld",
    "n": null,
    "t": true,
    "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    "e": "",
    "f": 1.5
  })"));
  return *context;
}

// The rendered text, or "ERROR: message".
std::string Render(const std::string& source) {
  absl::StatusOr<Template> parsed = Template::Parse(source, "t");
  if (!parsed.ok()) return "ERROR: " + std::string(parsed.status().message());
  absl::StatusOr<std::string> out = parsed->RenderJson(Context());
  if (!out.ok()) return "ERROR: " + std::string(out.status().message());
  return *out;
}

TEST(TemplateTest, PlainTextAndOutput) {
  EXPECT_EQ(Render(R"J(hello)J"), R"J(hello)J");
  EXPECT_EQ(Render(R"J({{ s }}|{{ n }}|{{ t }}|{{ f }}|{{ u }}|{{ xs }})J"),
            R"J(héllo wörld|None|True|1.5||[1, 2, 3])J");
  EXPECT_EQ(
      Render(R"J({{ d }}{{ msgs[0] }}{{ (1,) }}{{ () }}{{ ["it's", 'a"b', "x'y\"z"] }})J"),
      R"J({'a': 1, 'b': [1, 2]}{'role': 'user', 'content': 'hi'}(1,)()["it's", 'a"b', 'x\'y"z'])J");
  // A trailing newline of the source is dropped (keep_trailing_newline=False).
  EXPECT_EQ(Render("a\n"), "a");
  EXPECT_EQ(Render("a\n\n"), "a\n");
  EXPECT_EQ(Render("a\r\nb"), "a\nb");
}

TEST(TemplateTest, NumbersPrintLikePython) {
  EXPECT_EQ(
      Render(
          R"J({{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }} {{ 100.0 }} {{ 1/3 }})J"),
      R"J(0.30000000000000004 1e+16 1000000000000000.0 1e-05 0.0001 -0.0 100.0 0.3333333333333333)J");
  EXPECT_EQ(
      Render(
          R"J({{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 2 ** -1 }} {{ 7 / 2 }} {{ 6 / 2 }})J"),
      R"J(3 -4 -2 2 1024 64 0.5 3.5 3.0)J");
  EXPECT_EQ(
      Render(R"J({{ true + true }} {{ 3 - true }} {{ 1_000 + 0x10 + 0o7 + 0b1 }} {{ 1.5e3 }})J"),
      R"J(2 2 1024 1500.0)J");
}

TEST(TemplateTest, StringsConcatenateAndRepeat) {
  EXPECT_EQ(
      Render(
          R"J({{ 'a' ~ 1 ~ none ~ true ~ u }}|{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ [1, 2] + [3] }}|{{ 'a' + 'b' }})J"),
      R"J(a1NoneTrue|ababab|[1, 1]|[1, 2, 3]|ab)J");
  EXPECT_EQ(Render(R"J({{ "\u00e9\x41\n\t\\" }}|{{ 'a' 'b' }}|{{ "it\'s" }}|{{ '\101\d' }})J"),
            "éA\n\t\\|ab|it's|A\\d");
}

TEST(TemplateTest, ForLoopVariables) {
  EXPECT_EQ(
      Render(
          R"J({% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %})J"),
      R"J(10TrueFalse332|21FalseFalse321|32FalseTrue310|)J");
  EXPECT_EQ(
      Render(
          R"J({% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('odd', 'even') }},{% endfor %})J"),
      R"J(-2-odd,1-3-even,2--odd,)J");
  EXPECT_EQ(
      Render(
          R"J({% for a in [[1, 2], [3, 4]] %}{% for b in a %}{{ loop.index }}:{{ b }} {% endfor %}{{ loop.index }}|{% endfor %})J"),
      R"J(1:1 2:2 1|1:3 2:4 2|)J");
}

TEST(TemplateTest, ForLoopFormsAndElse) {
  EXPECT_EQ(Render(R"J({% for x in [] %}a{% else %}empty{% endfor %})J"), R"J(empty)J");
  EXPECT_EQ(
      Render(R"J({% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% else %}none{% endfor %})J"),
      R"J(2232)J");
  EXPECT_EQ(Render(R"J({% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %})J"),
            R"J(a=1;b=[1, 2];)J");
  EXPECT_EQ(
      Render(
          R"J({% for k in d %}{{ k }}{% endfor %}{% for c in 'hé' %}[{{ c }}]{% endfor %}{% for x in u %}x{% endfor %})J"),
      R"J(ab[h][é])J");
  EXPECT_EQ(
      Render(
          R"J({% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %})J"),
      R"J(1)J");
  // jinja2 runs `else` unless some iteration reached the end of the loop body.
  EXPECT_EQ(Render(R"J({% for x in xs %}{% break %}{% else %}else{% endfor %})J"), R"J(else)J");
  EXPECT_EQ(Render(R"J({% for x in xs %}{% set b %}{% continue %}{% endset %}{% endfor %}done)J"),
            R"J(done)J");
}

TEST(TemplateTest, IfElifElse) {
  EXPECT_EQ(
      Render(
          R"J({% if n is none %}A{% elif t %}B{% else %}C{% endif %}{% if not t %}D{% elif t %}E{% endif %}{% if e %}F{% else %}G{% endif %})J"),
      R"J(AEG)J");
  EXPECT_EQ(
      Render(
          R"J({{ 'yes' if t else 'no' }}{{ 'yes' if n else 'no' }}{{ 'x' if n }}|{{ t and 'A' }}{{ n or 'B' }}{{ not t }}{{ 0 or '' or 'last' }})J"),
      R"J(yesno|ABFalselast)J");
}

TEST(TemplateTest, SetScoping) {
  // `set` inside a loop body is local to that iteration; `if` opens no scope.
  EXPECT_EQ(
      Render(
          R"J({% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}{% for i in xs %}{% set x = i %}{% endfor %}{{ x }})J"),
      R"J(22)J");
  EXPECT_EQ(
      Render(
          R"J({% for m in msgs %}{% set c = m.content %}{% if loop.first %}{% set c = 'FIRST ' + c %}{% endif %}{{ c }};{% endfor %}[{{ c }}])J"),
      R"J(FIRST hi;yo;[])J");
  EXPECT_EQ(
      Render(
          R"J({% set a, b = [1, 2] %}{{ a }}{{ b }}{% set x %}captured {{ 1 + 1 }}{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }})J"),
      R"J(12[captured 2]UP)J");
  EXPECT_EQ(Render(R"J({% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}])J"), R"J(3[])J");
}

TEST(TemplateTest, Namespace) {
  EXPECT_EQ(
      Render(
          R"J({% set ns = namespace(x=1, y='a') %}{% for i in xs %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}{{ ns.y }}{{ ns }})J"),
      R"J(7a<Namespace {'x': 7, 'y': 'a'}>)J");
  EXPECT_EQ(
      Render(
          R"J({% set ns = namespace(found=false) %}{% for m in msgs %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }})J"),
      R"J(True)J");
}

TEST(TemplateTest, MacrosAndCall) {
  EXPECT_EQ(
      Render(
          R"J({% macro m(a, b=2) %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=5, a=0) }}{{ m() }})J"),
      R"J([1|2][1|3][0|5][|2])J");
  EXPECT_EQ(
      Render(
          R"J({% macro m(a) %}<{{ caller(a) }}>{% endmacro %}{% call(x) m(7) %}inner {{ x }}{% endcall %})J"),
      R"J(<inner 7>)J");
  EXPECT_EQ(
      Render(
          R"J({% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(5) }})J"),
      R"J(54321)J");
  EXPECT_EQ(Render(R"J({% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, a=3) }})J"),
            R"J((1, 2){'a': 3})J");
  // A macro sees the template's variables at call time, its own `set`s stay inside.
  EXPECT_EQ(
      Render(
          R"J({% macro outer() %}{% set v = 'in' %}{{ v }}{{ z }}{% endmacro %}{% set v = 'out' %}{% set z = 'late' %}{{ outer() }}{{ v }})J"),
      R"J(inlateout)J");
}

TEST(TemplateTest, WhitespaceControl) {
  EXPECT_EQ(Render("{%- for x in xs -%}\n  {{ x }}\n{%- endfor %}\nend"), "123end");
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indent before it.
  EXPECT_EQ(Render("{% for x in xs %}\n    {{ x }}\n{% endfor %}"), "    1\n    2\n    3\n");
  EXPECT_EQ(Render("  {% if t %}\n    yes\n  {% endif %}\n  {{ s }}"), "    yes\n  héllo wörld");
  EXPECT_EQ(Render("a  {%+ if t %}b{% endif %}  c"), "a  b  c");
  EXPECT_EQ(Render("{# comment #}\nx {#- c -#} y\n  {# c2 #}\nz"), "xy\nz");
  EXPECT_EQ(Render("  {{- 'a' -}}  \n  {{ 'b' }}"), "ab");
  EXPECT_EQ(Render("{% if t +%}\nx{% endif %}"), "\nx");
  EXPECT_EQ(Render("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
}

TEST(TemplateTest, Slicing) {
  EXPECT_EQ(
      Render(
          R"J({{ xs[1:] }}{{ xs[::-1] }}{{ xs[-1] }}{{ xs[5:] }}{{ xs[-10:2] }}{{ xs[::2] }}{{ xs[2::-1] }}{{ xs[:-1] }}{{ (1, 2, 3)[1:] }})J"),
      R"J([2, 3][3, 2, 1]3[][1, 2][1, 3][3, 2, 1][1, 2](2, 3))J");
  EXPECT_EQ(
      Render(
          R"J({{ s[1:3] }}|{{ s[::-1] }}|{{ s[-2:] }}|{{ 'abc'[1] }}{{ 'abc'[-1] }}{{ 'abc'[5] }}|{{ 'a</think>b'.split('</think>')[-1] }})J"),
      R"J(él|dlröw olléh|ld|bc|b)J");
}

TEST(TemplateTest, AttributeAndItemAccess) {
  EXPECT_EQ(
      Render(
          R"J({{ {'a': 1, 'b': 2}['b'] }}{{ {'a': 1}.a }}{{ [[1, 2], [3]][0][1] }}{{ xs.0 }}{{ msgs[1].role }}{{ n.x }}{{ xs.foo }}{{ d.zz }}|)J"),
      R"J(2121assistant|)J");
  EXPECT_EQ(
      Render(
          R"J({{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 5) }}{{ d.keys() | list }}{{ d.values() | list }}{{ d.items() }})J"),
      R"J(1None5['a', 'b'][1, [1, 2]]dict_items([('a', 1), ('b', [1, 2])]))J");
}

TEST(TemplateTest, StringMethods) {
  EXPECT_EQ(
      Render(
          R"J({{ '  x\n'.strip() }}|{{ 'x\n\n'.rstrip('\n') }}|{{ '\n\nx'.lstrip('\n') }}|{{ 'a b  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ ' a b '.split(None, 1) }})J"),
      R"J(x|x|x|['a', 'b', 'c']|['a', 'b', '', 'c']|['a,b', 'c']|['a', 'b '])J");
  EXPECT_EQ(
      Render(
          R"J({{ s.startswith('hé') }}{{ s.endswith('x') }}{{ s.startswith(('x', 'h')) }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'ab'.replace('', '-') }}|{{ s.upper() }}|{{ 'hello wORLD'.title() }}|{{ s.find('l') }}{{ s.count('l') }}|{{ '-'.join(['a', 'b']) }})J"),
      R"J(TrueFalseTrue|bba|-a-b-|HÉLLO WÖRLD|Hello World|23|a-b)J");
}

TEST(TemplateTest, Tests) {
  EXPECT_EQ(
      Render(
          R"J({{ xs is iterable }}{{ s is string }}{{ d is mapping }}{{ 1 is number }}{{ true is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is integer }}{{ xs is sequence }})J"),
      R"J(TrueTrueTrueTrueTrueTrueTrueFalseTrue)J");
  EXPECT_EQ(
      Render(
          R"J({{ u is defined }}{{ n is defined }}{{ n is none }}{{ n is not none }}{{ t is true }}{{ 1 is true }}{{ false is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 2 is in xs }}{{ 'ab' is lower }})J"),
      R"J(FalseTrueTrueFalseTrueFalseTrueTrueTrueTrueTrueTrue)J");
  EXPECT_EQ(
      Render(
          R"J({{ 1 in xs }}{{ 5 not in xs }}{{ 'a' in d }}{{ 'él' in s }}{{ 'x' in u }}{{ not u is defined }})J"),
      R"J(TrueTrueTrueTrueFalseTrue)J");
  EXPECT_EQ(
      Render(
          R"J({{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 1 == 1.0 }}{{ none == none }}{{ u == u }})J"),
      R"J(TrueFalseTrueTrueTrueTrueTrue)J");
}

TEST(TemplateTest, StringFilters) {
  EXPECT_EQ(
      Render(
          R"J({{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'Hello' | upper }}|{{ 'Hello' | lower }}|{{ 'hello wORLD-x(y' | title }}|{{ 'hELLO wORLD' | capitalize }})J"),
      R"J(a b|a|HELLO|hello|Hello World-X(Y|Hello world)J");
  EXPECT_EQ(
      Render(
          R"J({{ 'hello'|replace('l', 'L') }}{{ 'hello'|replace('l', 'L', 1) }}{{ '<&>"\''|e }}{{ 1 | string }}{{ n | string }}{{ n | trim }})J"),
      R"J(heLLoheLlo&lt;&amp;&gt;&#34;&#39;1NoneNone)J");
  EXPECT_EQ(
      Render("{{ \"line1\\nline2\\n\\nline3\" | indent(2) }}|{{ \"a\\nb\" | indent(2, true) }}"),
      "line1\n  line2\n\n  line3|  a\n  b");
  EXPECT_EQ(
      Render(
          R"J({{ "%s-%d" % (1, 2) }}|{{ "%5.2f|%-4d|%04d|%x|%r" % (3.14159, 7, 7, 255, "q") }}|{{ "%s %s" | format(1, 2) }})J"),
      R"J(1-2| 3.14|7   |0007|ff|'q'|1 2)J");
}

TEST(TemplateTest, ToJson) {
  EXPECT_EQ(Render(R"J({{ d | tojson }}|{{ [1, "a\n\"", none, true, 1.0, {"k": []}] | tojson }})J"),
            R"J({"a": 1, "b": [1, 2]}|[1, "a\n\"", null, true, 1.0, {"k": []}])J");
  // transformers' tojson does not HTML-escape and keeps non-ASCII (ensure_ascii=False).
  EXPECT_EQ(
      Render(
          R"J({{ "<a href='x'>&" | tojson }}|{{ "héllo" | tojson }}|{{ "é😀" | tojson(ensure_ascii=True) }})J"),
      R"J("<a href='x'>&"|"héllo"|"\u00e9\ud83d\ude00")J");
  EXPECT_EQ(Render(R"J({{ d | tojson(indent=2) }})J"),
            "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}");
  EXPECT_EQ(Render(R"J({{ {'b': 1, 'a': {}} | tojson(separators=(',', ':'), sort_keys=true) }})J"),
            R"J({"a":{},"b":1})J");
}

TEST(TemplateTest, SequenceFilters) {
  EXPECT_EQ(
      Render(
          R"J({{ xs | length }}{{ s | length }}{{ d | length }}{{ u | length }}|{{ xs | join(', ') }}|{{ msgs | map(attribute='role') | join }}|{{ xs | first }}{{ xs | last }}{{ s | first }})J"),
      R"J(31120|1, 2, 3|userassistant|13h)J");
  EXPECT_EQ(
      Render(
          R"J({{ u | default('dflt') }}|{{ '' | default('dflt') }}|{{ '' | default('dflt', true) }}|{{ n | default('x') }})J"),
      R"J(dflt||dflt|None)J");
  EXPECT_EQ(
      Render(
          R"J({{ ['b', 'A', 'c'] | sort }}{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}{{ [3, 1, 2] | sort(reverse=true) }}{{ [1, 2, 2, 'a', 'A'] | unique | list }}{{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}{{ xs | sum }})J"),
      R"J(['A', 'b', 'c']['A', 'b', 'c'][3, 2, 1][1, 2, 'a']136)J");
  EXPECT_EQ(
      Render(
          R"J({{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | list }}{{ xs | select('odd') | list }}{{ xs | reject('odd') | list }}{{ [0, 1, '', 'a'] | select | list }})J"),
      R"J(['hi']['yo'][1, 3][2][1, 'a'])J");
  EXPECT_EQ(
      Render(
          R"J({{ d | items | list }}{{ d | dictsort }}{{ xs | reverse | list }}{{ s | reverse }}{{ 'abc' | list }}{{ xs | map('string') | join('-') }})J"),
      R"J([('a', 1), ('b', [1, 2])][('a', 1), ('b', [1, 2])][3, 2, 1]dlröw olléh['a', 'b', 'c']1-2-3)J");
  // jinja2's sequence filters return generators: always true, even when empty.
  EXPECT_EQ(
      Render(R"J({% if [] | select %}generator{% endif %}{{ [] | select | list | length }})J"),
      R"J(generator0)J");
}

TEST(TemplateTest, NumberFilters) {
  EXPECT_EQ(
      Render(
          R"J({{ -1 | abs }}{{ -1.5 | abs }}|{{ 2.5 | round }}{{ 3.5 | round }}{{ 2.675 | round(2) }}{{ 5 | round }}{{ 1.25 | round(1, 'floor') }}{{ 1.21 | round(1, 'ceil') }})J"),
      R"J(11.5|2.04.02.6751.21.3)J");
  EXPECT_EQ(
      Render(
          R"J({{ '42' | int }}{{ '4.7' | int }}{{ 'x' | int }}{{ 'x' | int(7) }}{{ 3.9 | int }}{{ '0x1A' | int(0, 16) }}{{ '12' | float }}{{ 'x' | float }}{{ none | int }})J"),
      R"J(4240732612.00.00)J");
}

TEST(TemplateTest, BuiltinsAndExtensions) {
  EXPECT_EQ(
      Render(
          R"J({{ range(3) | list }}{{ range(1, 10, 3) | list }}{{ range(5, 0, -2) | list }}{{ dict(a=1) }})J"),
      R"J([0, 1, 2][1, 4, 7][5, 3, 1]{'a': 1})J");
  EXPECT_EQ(
      Render(
          R"J({% generation %}gen {{ 1 }}{% endgeneration %}{% filter upper %}up {{ s }}{% endfilter %})J"),
      R"J(gen 1UP HÉLLO WÖRLD)J");
  EXPECT_EQ(Render(R"J({{ strftime_now('%Y') | length }})J"), R"J(4)J");
}

}  // namespace
}  // namespace loom::jinja
