"""Greedy ids of transformers in bf16 on the GPU, with each step's top-2 logit margin.

    python3 hf_reference.py MODEL_DIR PROMPTS_JSON OUT_JSON [--max-tokens 32]

PROMPTS_JSON is a JSON array of strings; each is encoded with the model's tokenizer
(BOS added, as loom does). OUT_JSON gets, per prompt, prompt_ids, output_ids,
margins[i] = top1 - top2 of the logits that chose output_ids[i], top1[i], and top5[i]:
the five likeliest [id, logit] pairs there.
"""
import argparse
import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("prompts")
    parser.add_argument("out")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16).cuda().eval()
    results = []
    for prompt in json.load(open(args.prompts)):
        ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        x = torch.tensor([ids], device="cuda")
        with torch.no_grad():
            out = model.generate(x, max_new_tokens=args.max_tokens, do_sample=False,
                                 output_logits=True, return_dict_in_generate=True,
                                 eos_token_id=None, pad_token_id=0)
        output_ids = out.sequences[0, len(ids):].tolist()
        margins = []
        top1 = []
        top5 = []
        for logits in out.logits:
            top = torch.topk(logits[0].float(), 5)
            values, indices = top.values.tolist(), top.indices.tolist()
            margins.append(values[0] - values[1])
            top1.append(values[0])
            top5.append([[i, v] for i, v in zip(indices, values)])
        results.append({"prompt": prompt, "prompt_ids": ids, "output_ids": output_ids,
                        "margins": margins, "top1": top1, "top5": top5})
    json.dump({"transformers": __import__("transformers").__version__, "cases": results},
              open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
