"""Judges where loom's greedy ids leave transformers' (bf16), against an fp32 reference.

    python3 hf_judge.py MODEL_DIR HF_JSON LOOM_JSON [LOOM_LOGPROBS_JSON]

Per prompt: the steps on which loom and transformers (both bf16) agree; at the first
divergence, with a = transformers' token and b = loom's:
  - the fp32 logits of a and b (the same weights upcast, teacher-forced on the common
    prefix) and their gap, fp32(a) - fp32(b);
  - the same gap in transformers' bf16 logits (HF_JSON's top5, when b is among them)
    and in loom's (LOOM_LOGPROBS_JSON: `loom generate --logprobs 2`, when a is among
    them): how far each bf16 path moved the fp32 gap;
  - bf16's resolution at that logit (one step of its 8 significant bits).
It also runs transformers' own greedy decoding in fp32, to show where bf16 itself
leaves the fp32 path. Prints a markdown table.
"""
import json
import math
import sys

import torch
from transformers import AutoModelForCausalLM


def hf_gap(case, step, a, b):
    """transformers' bf16 logit of a less that of b at `step`, or None."""
    logits = dict(map(tuple, case["top5"][step])) if "top5" in case else {}
    return logits[a] - logits[b] if a in logits and b in logits else None


def loom_gap(case, step, a, b):
    """loom's bf16 logit of a less that of b at `step` (from its logprobs), or None."""
    if case is None or step >= len(case.get("logprobs", [])):
        return None
    top = {t["token_id"]: t["logprob"] for t in case["logprobs"][step]["top_logprobs"]}
    return top[a] - top[b] if a in top and b in top else None


def fmt(x):
    return "n/a" if x is None else f"{x:+.4f}"


def main():
    model_dir, hf_path, loom_path = sys.argv[1:4]
    hf = json.load(open(hf_path))["cases"]
    loom = json.load(open(loom_path))
    with_logprobs = json.load(open(sys.argv[4])) if len(sys.argv) > 4 else [None] * len(loom)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).cuda().eval()
    print("| prompt | loom = HF bf16 steps | at divergence: fp32 logit of HF's (a) / loom's (b) "
          "token | fp32 gap a-b | HF bf16 gap | loom bf16 gap | bf16 step there | "
          "HF bf16 = HF fp32 steps |")
    print("|---|---|---|---|---|---|---|---|")
    for h, l, lp in zip(hf, loom, with_logprobs):
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
            print(f"| {h['prompt'][:28]!r} | {n}/{n} | identical | | | | | {bf16_vs_fp32}/{n} |")
            continue
        with torch.no_grad():
            prefix = torch.tensor([ids + a[:same]], device="cuda")
            logits = model(prefix).logits[0, -1].float()
        ta, tb = a[same], b[same]
        la, lb = logits[ta].item(), logits[tb].item()
        if lp is not None and lp["output_ids"][: same + 1] != b[: same + 1]:
            lp = None  # the logprobs run took another path: its gaps would not apply
        step = 2.0 ** (math.floor(math.log2(max(abs(la), 1e-30))) - 7)
        print(f"| {h['prompt'][:28]!r} | {same}/{n} | {la:.4f} / {lb:.4f} | {la - lb:+.4f} | "
              f"{fmt(hf_gap(h, same, ta, tb))} | {fmt(loom_gap(lp, same, ta, tb))} | "
              f"{step:.4g} | {bf16_vs_fp32}/{n} |")


if __name__ == "__main__":
    main()
