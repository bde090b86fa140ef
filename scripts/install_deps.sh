#!/usr/bin/env bash
# Installs the Debian 12 packages slabtrace builds, tests and runs with.
# Idempotent: silent and quick when everything is present. Uses sudo when
# not root. Nothing else is downloaded: the Bazel workspace is offline.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap
  g++
  clang
  libjemalloc-dev
  libjemalloc2
  libabsl-dev
  libprotobuf-dev
  protobuf-compiler
  libzstd-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libhiredis-dev
  redis-server
  redis-tools
  python3
  # Headless browser for the HTML report's browser test (tools/report/).
  chromium
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install_deps: missing packages (${missing[*]}) and not root; run as root or install sudo" >&2
    exit 2
  fi
  SUDO="sudo"
fi
echo "install_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's redis-server package starts a system service on port 6379; the
# tests start their own servers on free loopback ports and do not need it.
