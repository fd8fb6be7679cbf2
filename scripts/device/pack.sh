#!/usr/bin/env bash
# Packs a built tree for the device machine (DESIGN.md, "The development loop for GPU
# code") into dist/device/, which `run` carries:
#
#   scripts/device/pack.sh [BUILD_DIR]        # default: build/default
#
#   dist/device/tree.tar.xz   the build tree as ctest sees it: loom and every test
#                             executable (debug info stripped) at their build paths, the
#                             CTest files, build/deps/tokenizers; tools/bin/ with protoc
#                             and grpc_python_plugin for the Python integration tests and
#                             promtool for the metrics tests;
#                             lib/ with every non-system shared library all of these need
#                             (gRPC, protobuf, abseil, yaml-cpp, prometheus-cpp, ICU, ...)
#
# scripts/device/run.sh unpacks it there and runs the suites and benchmarks.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build/default}" && pwd)
out=$root/dist/device
[ -x "$build/loom" ] || { echo "pack: $build/loom not found; build first" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The tree must sit where ctest's files say it is, under the same absolute path.
rel=${build#"$root"/}
mapfile -t executables < <(find "$build" -type f -executable \( -name '*_test' -o -name 'loom' -o -name 'cuda_decode_breakdown' \) \
                             -not -path '*/CMakeFiles/*')
for exe in "${executables[@]}"; do
  dst="$stage/$rel/${exe#"$build"/}"
  mkdir -p "$(dirname "$dst")"
  cp "$exe" "$dst"
  strip --strip-debug "$dst"
done
(cd "$build" && find . \( -name 'CTestTestfile.cmake' -o -name '*_include.cmake' -o -name '*_tests.cmake' \) \
   -not -path '*/CMakeFiles/*' -print0 | while IFS= read -r -d '' f; do
     mkdir -p "$stage/$rel/$(dirname "$f")"; cp "$f" "$stage/$rel/$f"; done)
mkdir -p "$stage/build/deps" "$stage/tools/bin"
cp -r "$root/build/deps/tokenizers" "$stage/build/deps/"
cp /usr/bin/protoc /usr/bin/grpc_python_plugin /usr/bin/promtool "$stage/tools/bin/"

# Libraries: the union of what ldd lists, less what every Linux has and the driver.
for exe in "${executables[@]}" /usr/bin/protoc /usr/bin/grpc_python_plugin; do
  ldd "$exe" | awk '/=> \// {print $3}'
done | sort -u |
  grep -vE '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|ld-linux[^/]*)\.so' |
  while read -r lib; do mkdir -p "$stage/lib"; cp -Ln "$lib" "$stage/lib/"; done

tar -C "$stage" -cf - . | xz -9 -T2 > "$out/tree.tar.xz"
echo "pack: $out/tree.tar.xz ($(du -h "$out/tree.tar.xz" | cut -f1))"
