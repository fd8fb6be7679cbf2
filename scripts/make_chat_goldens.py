#!/usr/bin/env python3
"""Renders chat templates with transformers' apply_chat_template, for loom's goldens.

Runs where transformers is installed (the GPU machine has it):

    python3 scripts/make_chat_goldens.py OUT.json NAME=TOKENIZER_DIR [NAME=TOKENIZER_DIR ...]

Each TOKENIZER_DIR holds tokenizer.json and tokenizer_config.json. For every tokenizer,
every message set below is rendered with and without add_generation_prompt; the golden
records the text and the ids of that text encoded without adding special tokens again.
"""
import json
import sys

import transformers
from transformers import AutoTokenizer

MESSAGE_SETS = [
    [{"role": "user", "content": "Hello!"}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "你是谁"},
        {"role": "assistant", "content": "我是书生·浦语，你的AI助手。"},
        {"role": "user", "content": "生成 300 字的小故事"},
    ],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "  What is 2+2?  "},
        {"role": "assistant", "content": "Quatre."},
        {"role": "user", "content": "Merci 👍"},
    ],
    [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}},
            ],
        },
        {"role": "tool", "content": "22C, sunny"},
        {"role": "tool", "content": "25C, cloudy"},
        {"role": "assistant", "content": "Paris: 22C and sunny. Rome: 25C and cloudy."},
    ],
]


def main():
    out_path = sys.argv[1]
    goldens = {"transformers": transformers.__version__}
    for spec in sys.argv[2:]:
        name, directory = spec.split("=", 1)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        cases = []
        for messages in MESSAGE_SETS:
            for add_generation_prompt in (True, False):
                try:
                    text = tokenizer.apply_chat_template(
                        messages, tokenize=False, add_generation_prompt=add_generation_prompt)
                except Exception as error:  # a template may reject a message set
                    cases.append({"messages": messages,
                                  "add_generation_prompt": add_generation_prompt,
                                  "error": str(error)})
                    continue
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                cases.append({"messages": messages, "add_generation_prompt": add_generation_prompt,
                              "text": text, "ids": ids})
        goldens[name] = cases
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(goldens, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
