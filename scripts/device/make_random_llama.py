"""Writes a Llama-3-8B-shaped checkpoint with random bf16 weights (BENCHMARK.md).

    python3 make_random_llama.py OUT_DIR TOKENIZER_DIR [--seed 0]

Every weight is drawn from a fixed seed on the GPU. The embedding and lm_head are drawn
with std 0.1 (the other matrices with transformers' default 0.02), so that the logits
are well separated and greedy ids do not hang on rounding noise. TOKENIZER_DIR gives
tokenizer.json and tokenizer_config.json (Llama 3's), copied beside the weights.
"""
import argparse
import shutil
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("tokenizer_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedding-std", type=float, default=0.1)
    args = parser.parse_args()
    start = time.time()
    config = LlamaConfig(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=False, bos_token_id=128000, eos_token_id=128001,
        torch_dtype="bfloat16")
    torch.manual_seed(args.seed)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0.0, args.embedding_std)
        model.lm_head.weight.normal_(0.0, args.embedding_std)
    out = Path(args.out)
    model.save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(args.tokenizer_dir) / name, out / name)
    print(f"make_random_llama: {out} in {time.time() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
