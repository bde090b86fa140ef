#!/usr/bin/env bash
# The recorder's CPU cost per call, measured on record/testing:malloc_free_loop
# (one thread: free a random block, malloc a new one, some work) run plain
# and under `slabtrace record`, interleaved, ROUNDS times. Reports medians per
# malloc/free pair (two recorded calls): the application thread's CPU time
# plain and recorded (the difference is the recorder's cost on the calling
# thread) and the writer thread's CPU time. CPU time, not wall time: this
# machine is shared.
#
# usage: tools/recorder_cpu.sh [ROUNDS] [PAIRS] [WORK] [USABLE]
#   ROUNDS (default 5), PAIRS per run (4000000), WORK rounds of arithmetic
#   between calls (400: about 450 ns here), USABLE 1 to ask
#   malloc_usable_size after each malloc and before each free as Redis does
#   (default 0).
#   SLABTRACE=path/to/slabtrace to use a given build (else built -c opt);
#   SLABTRACE_B=path/to/another/slabtrace to compare two builds (A/B).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-5}
pairs=${2:-4000000}
work=${3:-400}
usable=${4:-0}
bazel build -c opt //record/testing:malloc_free_loop \
  $([ -z "${SLABTRACE:-}" ] && echo //tools:slabtrace) >/dev/null 2>&1 ||
  { echo "recorder_cpu: build failed" >&2; exit 2; }
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
dir=$(mktemp -d "${TMPDIR:-/tmp}/recorder_cpu.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# Private copies: a concurrent build may replace the outputs.
cp "$bin/record/testing/malloc_free_loop" "$dir/loop"
a=${SLABTRACE:-$bin/tools/slabtrace}
b=${SLABTRACE_B:-}

run() {  # run NAME [SLABTRACE] -> appends "NAME wall thread other"
  local name=$1 tool=${2:-}
  local out
  if [ -z "$tool" ]; then
    out=$("$dir/loop" "$pairs" "$work" "$usable")
  else
    out=$("$tool" record -o "$dir/t.slabtrace" -- "$dir/loop" "$pairs" "$work" "$usable" 2>/dev/null)
  fi
  echo "$name $(echo "$out" | awk '{print $1, $4, $9}')" >>"$dir/results"
  echo "$name: $out" >&2
}

: >"$dir/results"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    run plain; run A "$a"; [ -z "$b" ] || run B "$b"
  else
    [ -z "$b" ] || run B "$b"; run A "$a"; run plain
  fi
done

python3 - "$dir/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, thread, other = line.split()
    rows.setdefault(name, []).append((float(wall), float(thread), float(other)))
med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in rows.items()}
plain = med["plain"][1]
print("medians per malloc/free pair (2 recorded calls), ns:")
print(f"  plain       app thread {plain:.1f}")
for k in ("A", "B"):
    if k in med:
        wall, thread, other = med[k]
        print(f"  recorded {k}  app thread {thread:.1f} (+{(thread - plain) / 2:.1f} per call),"
              f" writer thread {other:.1f} ({other / 2:.1f} per call), wall {wall:.1f}")
PY
