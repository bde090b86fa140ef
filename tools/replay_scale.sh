#!/usr/bin/env bash
# Whole-trace replay benchmark (issue 4): generates a Redis-like synthetic
# trace of EVENTS events (default 1,000,000,000) and one of its first
# PREFIX events (default 100,000,000), replays both with `slabtrace replay`
# under /usr/bin/time -v, and prints events/s and peak RSS for each. Replay
# memory is flat when the RSS ratio (whole / prefix) is close to 1.
#
#   tools/replay_scale.sh [EVENTS] [PREFIX] [WORK_DIR]
#   SLABTRACE=/path/to/slabtrace tools/replay_scale.sh ...
#
# Needs about 3 bytes of disk per event in WORK_DIR (default a fresh
# directory under ${TMPDIR:-/tmp}); the traces are deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

events=${1:-1000000000}
prefix=${2:-100000000}
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/replay_scale.XXXXXX")}
mkdir -p "$work"
trap 'rm -f "$work"/*.slabtrace' EXIT

need_kb=$(( (events + prefix) * 3 / 1024 ))
free_kb=$(df -Pk "$work" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt "$need_kb" ]; then
  echo "replay_scale: need ${need_kb} KiB free in $work, have ${free_kb}" >&2
  exit 2
fi

# SLABTRACE=path uses an already built `slabtrace` instead of building one.
targets=//replay:write_synthetic_trace
[ -n "${SLABTRACE:-}" ] || targets="$targets //tools:slabtrace"
bazel build -c opt $targets >&2
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
# Private copies: a concurrent build may replace the outputs.
cp "$bin/replay/write_synthetic_trace" "$work/"
cp "${SLABTRACE:-$bin/tools/slabtrace}" "$work/slabtrace"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

replay() {  # name events
  local trace="$work/$1.slabtrace"
  local t0 t1
  t0=$(date +%s)
  "$work/write_synthetic_trace" "$trace" "$2" >/dev/null
  t1=$(date +%s)
  local bytes
  bytes=$(stat -c %s "$trace")
  /usr/bin/time -v "$work/slabtrace" replay "$trace" -o "$work/$1.txt" \
    2>"$work/$1.time"
  local user wall rss
  user=$(awk -F': ' '/User time/ {print $2}' "$work/$1.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/$1.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$1.time")
  awk -v name="$1" -v n="$2" -v b="$bytes" -v u="$user" -v w="$wall" \
      -v r="$rss" -v g="$((t1 - t0))" 'BEGIN {
    printf "%-7s %14d events  %6.2f GB (%4.2f B/event, written in %d s)  replay: user %7.1f s, wall %s, %5.1f M events/s (user), peak RSS %7.1f MiB\n",
      name, n, b / 1e9, b / n, g, u, w, n / u / 1e6, r / 1024 }'
  echo "$rss" >"$work/$1.rss"
  rm -f "$trace"
}

replay prefix "$prefix"
replay whole "$events"
awk -v p="$(cat "$work/prefix.rss")" -v w="$(cat "$work/whole.rss")" \
  'BEGIN { printf "peak RSS whole / prefix = %.3f\n", w / p }'
echo "reports: $work/prefix.txt $work/whole.txt"
