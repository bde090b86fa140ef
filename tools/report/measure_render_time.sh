#!/usr/bin/env bash
# How long headless Chromium takes to load, lay out and paint a report at
# the 100 M-event scale (a million sweeps, 500,000 slabs in each of two
# classes), against a near-empty page loaded the same way; prints the
# report's size and the medians of RUNS (default 5) runs of each, and their
# difference, which is the report's own render time. Target: < 2 s.
#
#   tools/report/measure_render_time.sh [RUNS]
#
# Run from the repository root; builds what it needs with Bazel.
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/../.."
[ -x /usr/bin/chromium ] || { echo "needs /usr/bin/chromium (scripts/install_deps.sh)" >&2; exit 2; }
bazel build //tools/report:render_synthetic_report >/dev/null 2>&1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bazel-bin/tools/report/render_synthetic_report "$work/big.html" 1000000 500000 500000
echo '<!DOCTYPE html><html><body><p>baseline</p></body></html>' >"$work/empty.html"

# Wall time in ms of one headless load + screenshot of $1.
load_ms() {
  local profile start end
  profile=$(mktemp -d "$work/profile.XXXXXX")
  start=$(date +%s%N)
  HOME="$work" timeout 120 /usr/bin/chromium --headless --no-sandbox \
    --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update \
    --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --window-size=1400,4000 --screenshot="$work/shot.png" "file://$1" \
    >/dev/null 2>&1
  end=$(date +%s%N)
  rm -rf "$profile"
  echo $(((end - start) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

big=$(for _ in $(seq "$runs"); do load_ms "$work/big.html"; done | median)
empty=$(for _ in $(seq "$runs"); do load_ms "$work/empty.html"; done | median)
size=$(stat -c %s "$work/big.html")
echo "report size: $size bytes ($(awk -v s="$size" 'BEGIN {printf "%.2f", s / 1048576}') MiB; budget 5 MiB)"
echo "median load+paint over $runs runs: report ${big} ms, empty page ${empty} ms"
echo "report render time (difference): $((big - empty)) ms (target < 2000 ms)"
