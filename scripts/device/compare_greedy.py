"""Compares loom's greedy ids (loom generate --json) with transformers' (hf_reference.py).

    python3 compare_greedy.py HF_JSON LOOM_JSON

Prints one markdown row per prompt: identical ids, or the first divergence with the
reference's top-2 margin there against bf16's resolution at that logit (2^-8 of it:
bf16 keeps 8 significant bits), which says whether a tie below bf16 resolution
explains it. Exits 1 when prompt ids differ or a divergence is not such a tie.
"""
import json
import math
import sys


def main():
    hf = json.load(open(sys.argv[1]))["cases"]
    loom = json.load(open(sys.argv[2]))
    ok = True
    print("| prompt | prompt tokens | identical steps | first divergence | HF top-2 margin there | bf16 step at that logit |")
    print("|---|---|---|---|---|---|")
    for h, l in zip(hf, loom):
        if h["prompt_ids"] != l["prompt_ids"]:
            print(f"| {h['prompt'][:30]!r} | prompt ids differ | | | | |")
            ok = False
            continue
        a, b = h["output_ids"], l["output_ids"]
        same = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
        if same == len(a) == len(b):
            print(f"| {h['prompt'][:30]!r} | {len(h['prompt_ids'])} | {same}/{len(a)} | none | | |")
            continue
        margin = h["margins"][same]
        step = 2.0 ** (math.floor(math.log2(abs(h["top1"][same]) or 1.0)) - 7)
        tie = margin <= 2 * step
        ok = ok and tie
        print(f"| {h['prompt'][:30]!r} | {len(h['prompt_ids'])} | {same}/{len(a)} | step {same} | "
              f"{margin:.4g} | {step:.4g}{' (tie)' if tie else ' (NOT a tie)'} |")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
