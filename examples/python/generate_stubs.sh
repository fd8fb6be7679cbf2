#!/bin/sh
# Generates the Python stubs of proto/loom/v1/generation.proto into OUT_DIR (default: gen/
# next to this script), where loom_client.py looks for them.
#
#   generate_stubs.sh [OUT_DIR]
#
# Needs protoc >= 3.15 (proto3 `optional`) and grpc's Python plugin: on Debian,
# `apt-get install protobuf-compiler protobuf-compiler-grpc`. Set PROTOC or
# GRPC_PYTHON_PLUGIN to use others.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
proto_dir="$here/../../proto"
out_dir=${1:-"$here/gen"}
protoc=${PROTOC:-protoc}
plugin=${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}

if [ -z "$plugin" ]; then
  echo "generate_stubs.sh: grpc_python_plugin not found; install protobuf-compiler-grpc" \
    "or set GRPC_PYTHON_PLUGIN" >&2
  exit 1
fi

mkdir -p "$out_dir"
"$protoc" -I"$proto_dir" --python_out="$out_dir" --grpc_python_out="$out_dir" \
  --plugin=protoc-gen-grpc_python="$plugin" "$proto_dir/loom/v1/generation.proto"
# Regular packages, so that no other `loom` on sys.path can merge into them.
touch "$out_dir/loom/__init__.py" "$out_dir/loom/v1/__init__.py"
echo "generate_stubs.sh: wrote the stubs into $out_dir" >&2
