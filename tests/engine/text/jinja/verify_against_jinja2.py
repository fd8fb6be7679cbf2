#!/usr/bin/env python3
"""Checks the expected outputs written in template_test.cc against jinja2 itself.

    python3 tests/engine/text/jinja/verify_against_jinja2.py

Every `EXPECT_EQ(Render(TEMPLATE), EXPECTED)` in template_test.cc is rendered with jinja2
configured as transformers configures it (see make_jinja2_cases.py) and the same context
as the test; any difference is printed and makes the exit status 1.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_jinja2_cases import CONTEXT, render  # noqa: E402

LITERAL = r'(R"J\((?:.|\n)*?\)J"|"(?:[^"\\]|\\.)*")'
PAIR = re.compile(r"EXPECT_EQ\(\s*Render\(\s*" + LITERAL + r"\s*\),\s*" + LITERAL + r"\s*\)")


def cpp_string(literal):
    if literal.startswith('R"J('):
        return literal[4:-3]
    body = literal[1:-1]
    escapes = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], body)


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "template_test.cc")
    source = open(path, encoding="utf-8").read()
    failures = 0
    pairs = PAIR.findall(source)
    for template_literal, expected_literal in pairs:
        template, expected = cpp_string(template_literal), cpp_string(expected_literal)
        result = render(template, CONTEXT)
        if result.get("output") != expected:
            failures += 1
            print(f"MISMATCH {template!r}\n  jinja2: {result!r}\n  test:   {expected!r}")
    print(f"{len(pairs)} expectations, {failures} differ from jinja2")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
