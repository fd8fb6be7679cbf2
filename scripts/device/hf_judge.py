"""Judges where loom's greedy ids leave transformers' (bf16), against an fp32 reference.

    python3 hf_judge.py MODEL_DIR HF_JSON LOOM_JSON

Per prompt: the steps on which loom and transformers (both bf16) agree; at the first
divergence, the fp32 logits (the same weights upcast, teacher-forced on the common
prefix) of the two candidate tokens, their gap, and bf16's resolution at that logit
(one step of its 8 significant bits). It also runs transformers' own greedy decoding
in fp32, to show where bf16 itself leaves the fp32 path. Prints a markdown table.
"""
import json
import math
import sys

import torch
from transformers import AutoModelForCausalLM


def main():
    model_dir, hf_path, loom_path = sys.argv[1:4]
    hf = json.load(open(hf_path))["cases"]
    loom = json.load(open(loom_path))
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).cuda().eval()
    print("| prompt | loom = HF bf16 steps | at divergence: fp32 logit of HF's / loom's token | fp32 gap | bf16 step there | HF bf16 = HF fp32 steps |")
    print("|---|---|---|---|---|---|")
    for h, l in zip(hf, loom):
        ids = h["prompt_ids"]
        a, b = h["output_ids"], l["output_ids"]
        n = len(a)
        same = next((i for i in range(n) if a[i] != b[i]), n)
        x = torch.tensor([ids], device="cuda")
        with torch.no_grad():
            fp32 = model.generate(x, max_new_tokens=n, do_sample=False, eos_token_id=None,
                                  pad_token_id=0)[0, len(ids):].tolist()
        bf16_vs_fp32 = next((i for i in range(n) if a[i] != fp32[i]), n)
        if same == n:
            print(f"| {h['prompt'][:28]!r} | {n}/{n} | identical | | | {bf16_vs_fp32}/{n} |")
            continue
        with torch.no_grad():
            prefix = torch.tensor([ids + a[:same]], device="cuda")
            logits = model(prefix).logits[0, -1].float()
        la, lb = logits[a[same]].item(), logits[b[same]].item()
        step = 2.0 ** (math.floor(math.log2(max(abs(la), 1e-30))) - 7)
        print(f"| {h['prompt'][:28]!r} | {same}/{n} | {la:.4f} / {lb:.4f} | {la - lb:+.4f} | "
              f"{step:.4g} | {bf16_vs_fp32}/{n} |")


if __name__ == "__main__":
    main()
