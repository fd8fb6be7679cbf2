#!/usr/bin/env bash
# Runs on the device machine, from the repository root, after scripts/device/pack.sh
# here (carry dist/device). Each step writes its log and results into a results folder;
# at the end (and after each step) the markdown and JSON results are copied to $OUT
# (default ./device-out) and everything is packed into $OUT/results.tar.gz, ready to
# paste into docs/BENCHMARKS.md.
#
#   scripts/device/run.sh STEP...
#
# Steps:
#   unpack    the packed build tree at the absolute path its CTest files name
#   gpu-tests the CUDA tests alone (consistency of every op, the tiny model's goldens)
#   tests     the whole suite, as CI runs it, plus the GPU tests
#   model     the Llama-3-8B-shaped random checkpoint (BENCHMARK.md) in $MODEL
#   parity    loom's greedy ids against transformers' on it, in bf16
#   serve     `loom serve --backend cuda` on the tiny model, streamed to from the
#             Python client of examples/python; its GPU memory series from /metrics
#   latency   `loom bench --workload latency` on $MODEL
#   latency-sync  the same with --async-scheduling false: each step read back before
#             the next is queued
#   latency-unfused  the same with LOOM_CUDA_FUSE=0: every fused op as separate passes
#   sharegpt  `loom bench --workload sharegpt-synth` (2000 requests, concurrency 256)
#   kernels   the per-kernel time breakdown of one decode step (cuda_decode_breakdown)
#   ncu       Nsight Compute's isolated time of each small kernel of a batch-1 decode
#             step (the breakdown's first calls of each), to split the attention's two
#             passes and find latency-bound kernels
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
final=${OUT:-$root/device-out}
out=/tmp/device-results
mkdir -p "$out" "$final"
MODEL=${MODEL:-/tmp/llama3-8b-random}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1
build_rel=build/default
# The build tree's absolute path on the machine that packed it (its CTest files name it).
packed_root=/work/main

log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/steps.log"; }

step_unpack() {
  if [ "$root" != "$packed_root" ]; then
    mkdir -p "$(dirname "$packed_root")"
    [ -e "$packed_root" ] || ln -s "$root" "$packed_root"
  fi
  python3 -c "import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
    "$root/dist/device/tree.tar.xz" "$packed_root"
  install -m 755 "$packed_root"/tools/bin/* /usr/bin/
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
}

# Every binary finds the packed libraries; cuBLAS comes from the CUDA toolkit.
export LD_LIBRARY_PATH=$packed_root/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
loom=$packed_root/$build_rel/loom

step_gpu_tests() {
  (cd "$packed_root/$build_rel" && ctest -R 'Cuda' --output-on-failure) > "$out/gpu-tests.log" 2>&1
  tail -3 "$out/gpu-tests.log"
}

step_tests() {
  # The Python integration tests name /usr/bin/python3, which here lacks grpcio: they
  # run through the python3 that has it, with the same arguments.
  (cd "$packed_root/$build_rel" && ctest -j 16 -E '^integration\.' --output-on-failure) \
    > "$out/tests.log" 2>&1
  grep -E "tests passed|tests failed" "$out/tests.log"
  for t in python_client_test drain_test; do
    python3 "$packed_root/tests/integration/$t.py" --loom "$loom" --source-dir "$packed_root" \
      > "$out/integration-$t.log" 2>&1 && echo "integration.$t: passed" ||
      echo "integration.$t: FAILED"
  done | tee -a "$out/tests.log"
}

step_model() {
  [ -f "$MODEL/config.json" ] && return
  python3 "$root/scripts/device/make_random_llama.py" "$MODEL" "$root/build/deps/tokenizers/llama3" \
    2>&1 | tail -2
}

step_parity() {
  cat > "$out/prompts.json" <<'JSON'
["The capital of France is", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"", "Once upon a time, in a land far away, there lived", "1, 1, 2, 3, 5, 8, 13,"]
JSON
  python3 "$root/scripts/device/hf_reference.py" "$MODEL" "$out/prompts.json" "$out/hf_greedy.json" \
    > "$out/hf_reference.log" 2>&1 || { tail "$out/hf_reference.log"; return; }
  # One prompt at a time, as transformers runs them: a batch runs other GEMM shapes,
  # whose other rounding can break other near-ties.
  "$loom" generate "$MODEL" --backend cuda --prompts-file "$out/prompts.json" --max-tokens 32 \
    --max-batch-size 1 --temperature 0 --ignore-eos --json > "$out/loom_greedy.json" \
    2> "$out/loom_generate.log" || { tail "$out/loom_generate.log"; return; }
  python3 "$root/scripts/device/compare_greedy.py" "$out/hf_greedy.json" "$out/loom_greedy.json" |
    tee "$out/parity.md"
  # The same run with each step's top-2 logprobs (loom's own gap at a divergence), and
  # with LOOM_CUDA_FUSE=0 (every fused op as its separate passes), whose ids should be
  # the fused run's: the fused kernels round where the passes round.
  "$loom" generate "$MODEL" --backend cuda --prompts-file "$out/prompts.json" --max-tokens 32 \
    --max-batch-size 1 --temperature 0 --ignore-eos --json --logprobs 2 \
    > "$out/loom_logprobs.json" 2>> "$out/loom_generate.log"
  LOOM_CUDA_FUSE=0 "$loom" generate "$MODEL" --backend cuda --prompts-file "$out/prompts.json" \
    --max-tokens 32 --max-batch-size 1 --temperature 0 --ignore-eos --json \
    > "$out/loom_unfused.json" 2>> "$out/loom_generate.log"
  python3 - "$out"/loom_greedy.json "$out"/loom_logprobs.json "$out"/loom_unfused.json <<'PY' |
import json, sys
base = json.load(open(sys.argv[1]))
for name, path in (("with --logprobs 2", sys.argv[2]), ("with LOOM_CUDA_FUSE=0", sys.argv[3])):
    other = json.load(open(path))
    parts = [next((i for i, (x, y) in enumerate(zip(a["output_ids"], b["output_ids"])) if x != y),
                  None) for a, b in zip(base, other)]
    same = all(p is None for p in parts)
    print(f"\nloom {name}: " + ("the same ids on every prompt" if same else
          "parts from the default run at steps " + ", ".join(str(p) for p in parts)))
PY
    tee -a "$out/parity.md"
  echo | tee -a "$out/parity.md"
  python3 "$root/scripts/device/hf_judge.py" "$MODEL" "$out/hf_greedy.json" "$out/loom_greedy.json" \
    "$out/loom_logprobs.json" 2> "$out/hf_judge.log" | tee -a "$out/parity.md"
}

step_serve() {
  local port_file=$out/serve.log
  local metrics_port=9461
  "$loom" serve --backend cuda --port 0 --metrics-port $metrics_port > /dev/null 2> "$port_file" &
  local pid=$!
  local port=""
  for _ in $(seq 120); do
    port=$(sed -n 's/^loom: serving .* on [^ ]*:\([0-9]*\).*/\1/p' "$port_file" | head -1)
    [ -n "$port" ] && break
    sleep 0.5
  done
  (cd "$root/examples/python" && bash generate_stubs.sh > /dev/null &&
   python3 loom_client.py --target "127.0.0.1:$port" --prompt "ROMEO:" --max-tokens 48) \
    > "$out/python-client.log" 2>&1 && echo "python client: streamed" || echo "python client: FAILED"
  python3 -c 'import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
print("\n".join(l for l in text.splitlines() if "loom_gpu_memory_used_bytes" in l))' \
    $metrics_port | tee "$out/serve-metrics.txt"
  kill -TERM $pid; wait $pid
  cat "$port_file" | head -5
  tail -5 "$out/python-client.log"
}

step_latency() {
  "$loom" bench "$MODEL" --backend cuda --workload latency --max-batch-size 1 \
    --json "$out/latency.json" > "$out/latency.log" 2>&1
  tail -25 "$out/latency.log"
}

step_latency_sync() {
  "$loom" bench "$MODEL" --backend cuda --workload latency --max-batch-size 1 \
    --async-scheduling false --json "$out/latency-sync.json" > "$out/latency-sync.log" 2>&1
  tail -25 "$out/latency-sync.log"
}

step_latency_unfused() {
  LOOM_CUDA_FUSE=0 "$loom" bench "$MODEL" --backend cuda --workload latency --max-batch-size 1 \
    --json "$out/latency-unfused.json" > "$out/latency-unfused.log" 2>&1
  tail -25 "$out/latency-unfused.log"
}

step_sharegpt() {
  "$loom" bench "$MODEL" --backend cuda --workload sharegpt-synth --num-prompts 2000 \
    --concurrency 256 --max-batch-size 256 --json "$out/sharegpt.json" > "$out/sharegpt.log" 2>&1
  tail -25 "$out/sharegpt.log"
}

step_kernels() {
  "$packed_root/$build_rel/tests/bench/cuda_decode_breakdown" > "$out/kernels.md" 2> "$out/kernels.log"
  cat "$out/kernels.md"
}

step_ncu() {
  local ncu
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null |
    head -1)
  [ -n "$ncu" ] || { echo "ncu: not found"; return; }
  # --clock-control none: the device's clocks stay as they are, as for every other step.
  for kernel in PagedAttentionMma CombineSplits AddRmsNorm RopeWriteKv SiluAndMul Gemv SampleRows; do
    timeout 120 "$ncu" --clock-control none -k "regex:$kernel" --launch-count 2 \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum,launch__grid_size,launch__block_size \
      "$packed_root/$build_rel/tests/bench/cuda_decode_breakdown" 2>&1 |
      grep -E '^  [A-Za-z_]|gpu__time|dram__bytes|grid_size|block_size'
  done > "$out/ncu.txt"
  cat "$out/ncu.txt"
}

publish() {
  cp "$out"/*.md "$out"/latency*.json "$out"/sharegpt.json "$out"/ncu.txt "$final/" 2>/dev/null
  tar -czf "$final/results.tar.gz" -C "$out" .
}

for s in "$@"; do
  log "$s"
  "step_${s//-/_}"
  publish
done
log done
