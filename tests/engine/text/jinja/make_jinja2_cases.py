#!/usr/bin/env python3
"""Renders Jinja test cases with jinja2 configured as transformers configures it.

    python3 tests/engine/text/jinja/make_jinja2_cases.py \
        tests/engine/text/jinja/testdata/jinja2_cases.json

transformers' apply_chat_template compiles chat templates in an
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
extension, its own tojson (json.dumps, no HTML escaping), raise_exception and
strftime_now. This script does the same and records, for every case, jinja2's output
or the fact that it raised. The cases are hand-written ones (one construct each) plus
seeded random templates that mix whitespace control and statements. jinja2_cases_test
renders each with loom's renderer and requires the same bytes (or an error).
"""
import copy
import datetime
import json
import random
import sys

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    """transformers' {% generation %} tag, reduced to rendering its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


ENV = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[AssistantTracker, jinja2.ext.loopcontrols])
ENV.filters["tojson"] = tojson
ENV.globals["raise_exception"] = raise_exception
ENV.globals["strftime_now"] = lambda format: datetime.datetime.now().strftime(format)

CONTEXT = {"xs": [1, 2, 3], "d": {"a": 1, "b": [1, 2]}, "s": "héllo wörld", "n": None, "t": True,
           "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
           "e": "", "f": 1.5}

# One construct (or a few) per case; all render against CONTEXT.
CURATED = r'''
{{ 1 + 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % -3 }}|{{ 2 ** 10 }}|{{ 2 ** 3 ** 2 }}|{{ 2 ** -1 }}|{{ 7 / 2 }}|{{ 1e16 }}|{{ 1.5e-5 }}|{{ 0.1 + 0.2 }}
====
{{ 'a' ~ 1 ~ none ~ true ~ u }}|{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ [1,2] + [3] }}|{{ -1 | abs }}|{{ - 2 ** 2 }}
====
{{ xs }}{{ d }}{{ (1,) }}{{ () }}{{ s }}{{ n }}{{ t }}{{ f }}{{ [s, "it's", 'a"b', "x'y\"z", "\n\t\x01"] }}
====
{{ 0.1 }} {{ 100.0 }} {{ 1e100 }} {{ -0.0 }} {{ 123456789012345678 }} {{ 1/3 }} {{ 2.0 ** 0.5 }} {{ 1e-5 }} {{ 0.0001 }} {{ 1e15 }} {{ 12345678901234567890.0 }}
====
{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.depth }}|{% endfor %}
====
{% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('odd', 'even') }},{% endfor %}
====
{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% else %}none{% endfor %}
====
{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for c in s %}[{{ c }}]{% endfor %}
====
{% for a in [[1, 2], [3, 4]] %}{% for b in a %}{{ loop.index }}:{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}
====
{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}
====
{% for x in xs %}{% break %}{% else %}else runs: no iteration reached the end{% endfor %}
====
{% if n is none %}A{% elif t %}B{% else %}C{% endif %}{% if not t %}D{% elif t %}E{% endif %}
====
{% set ns = namespace(x=1, y='a') %}{% for i in xs %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}{{ ns.y }}{{ ns }}
====
{% set ns = namespace(found=false) %}{% for m in msgs %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}
====
{% for m in msgs %}{% set content = m.content %}{% if loop.first %}{% set content = 'FIRST ' + content %}{% endif %}{{ content }};{% endfor %}[{{ content }}]
====
{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}{% for i in xs %}{% set x = i %}{% endfor %}{{ x }}
====
{% macro m(a, b=2) %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=5, a=0) }}{{ m() }}
====
{% macro m(a) %}<{{ caller(a) }}>{% endmacro %}{% call(x) m(7) %}inner {{ x }}{% endcall %}
====
{% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(5) }}
====
{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, a=3) }}
====
{% macro outer() %}{% set v = 'in' %}{{ v }}{{ z }}{% endmacro %}{% set v = 'out' %}{% set z = 'late' %}{{ outer() }}{{ v }}
====
{% set x %}captured {{ 1 + 1 }}{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }}
====
{% filter upper %}hello {{ s }}{% endfilter %}|{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}
====
{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set p = (3, 4) %}{% set c, e = p %}{{ c + e }}
====
{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'Hello' | upper }}|{{ 'Hello' | lower }}|{{ 'hello wORLD-x(y' | title }}|{{ 'hELLO wORLD' | capitalize }}
====
{{ xs | length }}{{ s | length }}{{ d | length }}{{ u | length }}{{ xs | count }}
====
{{ xs | join(', ') }}|{{ msgs | map(attribute='role') | join }}|{{ xs | first }}{{ xs | last }}|{{ s | first }}{{ [] | first }}
====
{{ u | default('dflt') }}|{{ '' | default('dflt') }}|{{ '' | default('dflt', true) }}|{{ n | default('x') }}|{{ u | d }}
====
{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ [1, "a\n\"", none, true, 1.0, {"k": []}] | tojson }}|{{ "<a href='x'>&" | tojson }}|{{ "héllo" | tojson }}|{{ "héllo 😀" | tojson(ensure_ascii=True) }}
====
{{ d | tojson(separators=(',', ':'), sort_keys=true) }}|{{ {'b': 1, 'a': {'d': [], 'c': {}}} | tojson(indent=4) }}|{{ d | tojson(indent='\t') }}|{{ [1, [2]] | tojson(indent=0) }}
====
{{ xs[1:] }}{{ xs[::-1] }}{{ xs[-1] }}{{ s[1:3] }}{{ s[::-1] }}{{ s[-2:] }}{{ xs[5:] }}{{ xs[-10:2] }}{{ xs[::2] }}{{ xs[2::-1] }}{{ xs[:-1] }}{{ (1, 2, 3)[1:] }}
====
{{ 'a</think>b'.split('</think>')[-1] }}|{{ '  x\n'.strip() }}|{{ 'x\n\n'.rstrip('\n') }}|{{ '\n\nx'.lstrip('\n') }}|{{ 'a b  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ ' a b '.split(None, 1) }}
====
{{ s.startswith('hé') }}{{ s.endswith('x') }}{{ s.startswith(('x', 'h')) }}{{ 'aaa'.replace('a', 'b', 2) }}{{ 'ab'.replace('', '-') }}{{ s.upper() }}{{ 'hello wORLD'.title() }}{{ s.find('l') }}{{ s.count('l') }}{{ '-'.join(['a', 'b']) }}{{ 'A\nB\r\nC'.splitlines() }}
====
{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 5) }}{{ d.keys() | list }}{{ d.values() | list }}{{ d['a'] }}{{ d.a }}{{ d.items() }}{{ d.keys() }}{{ xs.index(2) }}{{ xs.count(1) }}
====
{{ 1 in xs }}{{ 5 not in xs }}{{ 'a' in d }}{{ 'él' in s }}{{ 'x' in u }}{{ (1, 2) in [(1, 2)] }}
====
{{ xs is iterable }}{{ s is string }}{{ d is mapping }}{{ 1 is number }}{{ true is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is integer }}{{ xs is sequence }}{{ u is defined }}{{ n is defined }}{{ t is true }}{{ 1 is true }}{{ false is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ d is sequence }}{{ u is sequence }}{{ s is sequence }}{{ u is undefined }}{{ n is not none }}{{ t is boolean }}{{ 2 is in xs }}{{ 2 is gt 1 }}{{ 'ab' is lower }}{{ 'AB' is upper }}
====
{{ 'yes' if t else 'no' }}{{ 'yes' if n else 'no' }}{{ 'x' if n }}|{{ t and 'A' }}{{ n or 'B' }}{{ not t }}{{ 0 or '' or 'last' }}{{ 1 and 2 and 3 }}
====
{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 1 == 1.0 }}{{ none == none }}{{ u == u }}{{ 1 != 2 }}{{ 2 >= 2 }}{{ 'é' > 'z' }}
====
{{ -1.5 | abs }}{{ 2.5 | round }}{{ 3.5 | round }}{{ 2.675 | round(2) }}{{ 5 | round }}{{ 1.25 | round(1, 'floor') }}{{ 1.21 | round(1, 'ceil') }}{{ 15 | round(-1) }}
====
{{ '42' | int }}{{ '4.7' | int }}{{ 'x' | int }}{{ 'x' | int(7) }}{{ 3.9 | int }}{{ '0x1A' | int(0, 16) }}{{ '12' | float }}{{ 'x' | float }}{{ none | int }}{{ ' 1_000 ' | int }}{{ true | int }}
====
{{ ['b', 'A', 'c'] | sort }}{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}{{ [3, 1, 2] | sort(reverse=true) }}{{ msgs | sort(attribute='role', reverse=true) | map(attribute='content') | list }}
====
{{ [1, 2, 2, 'a', 'A'] | unique | list }}{{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}{{ ['a', 'B'] | max }}{{ xs | sum }}{{ xs | sum(start=10) }}{{ msgs | map(attribute='zz', default='-') | list }}
====
{{ msgs | selectattr('role', 'equalto', 'user') | list }}{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | list }}{{ xs | select('odd') | list }}{{ xs | reject('odd') | list }}{{ [0, 1, '', 'a'] | select | list }}
====
{{ d | items | list }}{{ d | dictsort }}{{ d | dictsort(reverse=true) }}{{ xs | reverse | list }}{{ s | reverse }}{{ 'abc' | list }}{{ xs | map('string') | join('-') }}{{ ['a', 'b'] | map('upper') | list }}
====
{{ "line1\nline2\n\nline3" | indent(2) }}|{{ "a\nb" | indent(2, true) }}|{{ "a\n\nb" | indent(2, blank=true) }}|{{ "a\nb" | indent('> ') }}
====
{{ 'hello'|replace('l', 'L') }}{{ 'hello'|replace('l', 'L', 1) }}{{ '<&>"\''|e }}{{ 1 | string }}{{ 'x' | safe }}
====
{{ "%s-%d" % (1, 2) }}|{{ "%5.2f|%-4d|%04d|%x|%r|%c" % (3.14159, 7, 7, 255, "q", 65) }}|{{ "%s %s" | format(1, 2) }}|{{ "%(a)s" | format(a=3) }}|{{ "%%" % () }}
====
{{ {'a': 1, 'b': 2}['b'] }}{{ {'a': 1}.a }}{{ [[1, 2], [3]][0][1] }}{{ xs.0 }}{{ 'abc'[1] }}{{ 'abc'[-1] }}{{ 'abc'[5] }}{{ n.x }}{{ xs.foo }}{{ d.zz }}|
====
{{ range(3) | list }}{{ range(1, 10, 3) | list }}{{ range(5, 0, -2) | list }}{{ range(0) | list }}
====
{{ "\u00e9\x41\n\t\\" }}|{{ 'a' 'b' }}|{{ "it\'s" }}|{{ '\101\d' }}
====
{{ true + true }}{{ true * 'ab' }}{{ 3 - true }}{{ xs | first | string + 'x' }}
====
{% if messages is defined %}defined{% else %}undef{% endif %}{{ messages }}{{ loop }}
====
{{ '{{ not a tag }}' }}{{ '%}' }}{% raw %}{{ raw }}{% endraw %}
====
{%- for x in xs -%}
  {{ x }}
{%- endfor %}
end
====
{% for x in xs %}
    {{ x }}
{% endfor %}
====
  {% if t %}
    yes
  {% endif %}
  {{ s }}
====
a  {%+ if t %}b{% endif %}  c
====
{# comment #}
x {#- c -#} y
  {# c2 #}
z
====
  {{- 'a' -}}  
  {{ 'b' }}
====
{% generation %}gen {{ 1 }}{% endgeneration %}
====
line one
{% if t %}
  indented
{% endif %}
last line

====
{{ raise_exception('boom') }}
====
{{ u.x }}
====
{{ xs.append(4) }}
====
{{ 1 + 'a' }}
====
{{ 'a' + 1 }}
====
{{ u + 1 }}
====
{{ 10 // 0 }}
====
{{ d | tojson(indent=2) | foo }}
====
{% for %}
====
{% if t %}unterminated
====
{{ msgs[0].content.strip().foo() }}
====
{{ n in xs }}{{ xs in n }}
====
{{ range(100001) | length }}
====
{% set x.y = 1 %}
====
{{ xs | select | length }}
'''


def curated_cases():
    cases = []
    for block in CURATED.split("\n====\n"):
        if block.strip():
            cases.append((block.strip("\n") if not block.startswith(" ") else block.rstrip("\n"),
                          CONTEXT))
    return cases


def whitespace_cases(seed, count):
    """Random text, tags and whitespace-control markers: the lexer's trim/lstrip rules."""
    rnd = random.Random(seed)
    pieces = [" ", "  ", "\n", "\t", "\n  ", " \n", "\r\n", "\u3000", "a", "b\n", "", "\n\n"]

    def sign():
        return rnd.choice(["", "", "-", "+"])

    def ws():
        return "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 3)))

    def block(depth):
        kind = rnd.randint(0, 6)
        if kind == 0 or depth > 2:
            return ws()
        if kind == 1:
            return "{{" + rnd.choice(["", "-"]) + " x " + rnd.choice(["", "-"]) + "}}"
        if kind == 2:
            return "{#" + sign() + " c " + sign() + "#}"
        if kind == 3:
            return ("{%" + sign() + " if t " + sign() + "%}" + body(depth + 1) + "{%" + sign() +
                    " else " + sign() + "%}" + body(depth + 1) + "{%" + sign() + " endif " +
                    sign() + "%}")
        if kind == 4:
            return ("{%" + sign() + " for i in xs " + sign() + "%}" + body(depth + 1) + "{%" +
                    sign() + " endfor " + sign() + "%}")
        if kind == 5:
            return ("{%" + sign() + " raw " + rnd.choice(["", "-"]) + "%}" + ws() + "{{ y }}" +
                    ws() + "{%" + sign() + " endraw " + sign() + "%}")
        return "{%" + sign() + " set z = 1 " + sign() + "%}"

    def body(depth):
        return "".join(block(depth) if rnd.random() < 0.6 else ws()
                       for _ in range(rnd.randint(1, 5)))

    return [(body(0) + rnd.choice(["", "\n", "\n\n", " "]),
             {"x": "X", "t": rnd.random() < 0.5, "xs": [1, 2]}) for _ in range(count)]


def statement_cases(seed, count):
    """Random nesting of loops, macros, call blocks, namespaces, set blocks and loop controls."""
    rnd = random.Random(seed)
    values = ["a", "b", "x", "ns.v", "xs", "varargs", "kwargs", "1", "'s'", "a ~ b",
              "ns.v + 1", "xs | length", "m(1)", "i is defined", "j is defined"]
    loop_values = ["loop.index", "loop.first", "loop.last", "loop.length", "loop.revindex0",
                   "loop.previtem", "loop.nextitem", "i", "i + 1", "m(i, b=2)",
                   "loop.cycle('o', 'e')", "xs[i] if i < 3 else 0"]

    def value(in_loop=False):
        return rnd.choice(values + loop_values if in_loop else values)

    def stmt(depth, in_loop):
        kind = rnd.randint(0, 12 if depth < 3 else 2)
        if kind == 0:
            return "{{ " + value(in_loop) + " }}"
        if kind == 1:
            return rnd.choice([".", " ", "\n"])
        if kind == 2:
            return "{% set " + rnd.choice(["a", "b", "x"]) + " = " + value(in_loop) + " %}"
        if kind == 3:
            return "{% set ns.v = " + value(in_loop) + " %}"
        if kind == 4:
            return ("{% for i in " + rnd.choice(["xs", "range(3)", "[]", "xs[1:]", "(xs if a else [])"]) +
                    rnd.choice(["", " if i != 2"]) + " %}" + body(depth + 1, True) +
                    rnd.choice(["", "{% else %}E"]) + "{% endfor %}")
        if kind == 5:
            return ("{% if " + value() + " %}" + body(depth + 1, in_loop) + "{% elif " + value() +
                    " %}" + body(depth + 1, in_loop) + "{% else %}" + body(depth + 1, in_loop) +
                    "{% endif %}")
        if kind == 6:
            return "{% macro m(p, b=3) %}" + body(depth + 1, False) + "{{ p }}{% endmacro %}"
        if kind == 7:
            return "{% call(j) m2(2) %}{{ j }}{{ caller is defined }}" + body(depth + 1, False) + "{% endcall %}"
        if kind == 8 and in_loop:
            return "{% if i is defined and i == 1 %}{% break %}{% endif %}"
        if kind == 9 and in_loop:
            return "{% if i is defined %}{% continue %}{% endif %}"
        if kind == 10:
            return "{% set blk %}" + body(depth + 1, in_loop) + "{% endset %}{{ blk | length }}"
        if kind == 11:
            return "{% with a = " + value() + " %}" + body(depth + 1, in_loop) + "{% endwith %}"
        return "{% filter upper %}" + body(depth + 1, in_loop) + "{% endfilter %}"

    def body(depth, in_loop):
        return "".join(stmt(depth, in_loop) for _ in range(rnd.randint(1, 4)))

    prelude = ("{% set ns = namespace(v=0) %}{% set a = 1 %}{% set b = 'B' %}"
               "{% macro m(p, b=3) %}[{{ p }}{{ b }}]{% endmacro %}"
               "{% macro m2(p) %}<{{ caller(p) }}>{% endmacro %}")
    return [(prelude + body(0, False) + "|{{ a }}{{ b }}{{ x }}{{ ns.v }}", {"xs": [1, 2, 3]})
            for _ in range(count)]


def render(template, context):
    try:
        return {"output": ENV.from_string(template).render(**copy.deepcopy(context))}
    except Exception as error:  # any jinja2 failure is an expected error
        return {"error": f"{type(error).__name__}: {error}"}


def main():
    cases = []
    all_cases = (curated_cases() + whitespace_cases(1, 200) + statement_cases(7, 150))
    for template, context in all_cases:
        case = {"template": template, "context": context}
        case.update(render(template, context))
        cases.append(case)
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump({"jinja2": jinja2.__version__, "cases": cases}, f, ensure_ascii=False,
                  indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
