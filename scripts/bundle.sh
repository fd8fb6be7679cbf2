#!/usr/bin/env bash
# Packs a built loom into a folder that runs on another Linux x86-64 machine with only a
# C++ runtime and (for CUDA) the NVIDIA driver: the device machine of DESIGN.md, or a
# container image.
#
#   scripts/bundle.sh [BUILD_DIR] [OUT_DIR]     # defaults: build/default dist/loom
#
# Layout:
#   OUT_DIR/bin/loom                the binary (its RUNPATH is $ORIGIN/lib)
#   OUT_DIR/bin/lib/*.so*           every shared library ldd lists except the C/C++
#                                   runtime and the driver (gRPC, protobuf, abseil, ...)
#   OUT_DIR/share/loom/models/      the bundled model, found there by `loom generate`
# Extra executables (test binaries, say) can follow the binary: BUNDLE_EXTRA="a b".
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/default}
out=${2:-$root/dist/loom}
[ -x "$build/loom" ] || { echo "bundle: $build/loom not found; build first" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin/lib" "$out/share/loom"
executables=("$build/loom")
for extra in ${BUNDLE_EXTRA:-}; do executables+=("$extra"); done
for exe in "${executables[@]}"; do
  cp "$exe" "$out/bin/"
  strip --strip-debug "$out/bin/$(basename "$exe")"
  # Libraries every Linux has, in a version at least as new as ours, stay behind.
  ldd "$exe" | awk '/=> \// {print $3}' |
    grep -vE '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -Ln "$lib" "$out/bin/lib/" 2>/dev/null || true; done
done
cp -r "$root/models" "$out/share/loom/"
echo "bundle: $out ($(du -sh "$out" | cut -f1))"
