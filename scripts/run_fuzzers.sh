#!/usr/bin/env bash
# Runs every libFuzzer target of the `fuzz` preset for SECONDS each (default 60), on a
# scratch copy of its committed seed corpus (tests/fuzz/corpus/<name>). A crash, a
# sanitizer report or a violated property stops the run with the input saved under
# build/fuzz/artifacts/.
#
#   cmake --preset fuzz && cmake --build --preset fuzz && scripts/run_fuzzers.sh 600
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
bin="$root/build/fuzz/tests/fuzz"
artifacts="$root/build/fuzz/artifacts"
mkdir -p "$artifacts"
for seeds in "$root"/tests/fuzz/corpus/*/; do
  name=$(basename "$seeds")
  [ -x "$bin/$name" ] || { echo "fuzz: $bin/$name is not built" >&2; exit 1; }
  scratch=$(mktemp -d)
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin/$name" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$scratch" "$seeds" \
    >"$artifacts/$name.log" 2>&1; then
    tail -n 40 "$artifacts/$name.log"
    echo "fuzz: $name failed; the input is under $artifacts" >&2
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$artifacts/$name.log" || true
  rm -rf "$scratch"
done
echo "fuzz: all targets ran clean"
