#!/usr/bin/env bash
# How long headless Chromium takes to render a report at the 100 M-event
# scale (a million sweeps, 500,000 slabs in each of two classes). Prints the
# report's size and medians over RUNS (default 5) runs of
#  - the page's own clock from navigation to a laid-out page (the number
#    that the < 2 s target is about), and
#  - the wall time of a whole headless load + screenshot, beside the same
#    for a near-empty page (browser start-up dominates that one).
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

chrome() {
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  HOME="$work" timeout 120 /usr/bin/chromium --headless --no-sandbox \
    --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update \
    --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --window-size=1400,4000 "$@" 2>/dev/null
  rm -rf "$profile"
}

# Wall time in ms of one headless load + screenshot of $1.
load_ms() {
  local start end
  start=$(date +%s%N)
  chrome --screenshot="$work/shot.png" "file://$1" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

# The page's own clock: navigation start to a laid-out page at the load
# event (the report's script records it in data-layout-ms).
layout_ms() {
  chrome --dump-dom "file://$1" | grep -o 'data-layout-ms="[0-9]*"' |
    grep -o '[0-9]*'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

big=$(for _ in $(seq "$runs"); do load_ms "$work/big.html"; done | median)
empty=$(for _ in $(seq "$runs"); do load_ms "$work/empty.html"; done | median)
layout=$(for _ in $(seq "$runs"); do layout_ms "$work/big.html"; done | median)
size=$(stat -c %s "$work/big.html")
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "report size: $size bytes ($(awk -v s="$size" 'BEGIN {printf "%.2f", s / 1048576}') MiB; budget 5 MiB)"
echo "in-page, navigation to laid-out page (median of $runs): ${layout} ms (target < 2000 ms)"
echo "wall, headless load+paint+screenshot (median of $runs): report ${big} ms, empty page ${empty} ms, difference $((big - empty)) ms"
