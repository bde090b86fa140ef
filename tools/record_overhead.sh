#!/usr/bin/env bash
# The recorder's overhead on Debian's redis-server: the same redis-benchmark
# runs against a plain server (A) and one started under `slabtrace record`
# (B), interleaved in one run so that machine drift hits both: each round
# starts both servers, then runs each benchmark on one right after the
# other (A then B, B then A in the next round, ...).
# Reports the median throughput ratio B/A for each test, and the trace's
# bytes/event. Targets (record/README.md): ratio >= 0.97 without
# pipelining, >= 0.90 with -P 16, <= 2.0 bytes/event.
#
# usage: tools/record_overhead.sh [ROUNDS] [REQUESTS]
#   ROUNDS   A/B pairs (default 3); REQUESTS per redis-benchmark (1000000).
#   SLABTRACE=path/to/slabtrace to use a given binary (else it is built).
#   SLABTRACE_B=path/to/another/slabtrace adds a server recorded by it to
#   every round (A/B of two recorder builds in the same run); the targets
#   are checked for SLABTRACE only.
# Only 127.0.0.1 is used. Exit 0 when every target is met, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
requests=${2:-1000000}
for tool in redis-server redis-cli redis-benchmark python3; do
  command -v "$tool" >/dev/null || { echo "record_overhead: $tool not found" >&2; exit 2; }
done

if [ -z "${SLABTRACE:-}" ]; then
  if bazel build -c opt //tools:slabtrace >/dev/null 2>&1; then
    SLABTRACE="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/slabtrace"
  else
    # The record subcommand alone, if another part of the tool is broken.
    bazel build -c opt //record/testing:record_driver >/dev/null
    SLABTRACE="$(bazel info -c opt bazel-bin 2>/dev/null)/record/testing/record_driver"
  fi
fi
work=$(mktemp -d /tmp/record_overhead.XXXXXX)
declare -A pid=() port=()
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server MODE: MODE is plain, recorded or recorded_b; sets pid[MODE]
# and port[MODE].
start_server() {
  local mode=$1
  port[$mode]=$(free_port)
  local args=(redis-server --port "${port[$mode]}" --bind 127.0.0.1 --save ''
              --appendonly no --dir "$work" --daemonize no
              --logfile "$work/$mode.log")
  if [ "$mode" != plain ]; then
    local tool=$SLABTRACE
    [ "$mode" = recorded_b ] && tool=$SLABTRACE_B
    "$tool" record -o "$work/$mode.slabtrace" -- "${args[@]}" \
      2>"$work/$mode.summary" &
  else
    "${args[@]}" &
  fi
  pid[$mode]=$!
  for _ in $(seq 200); do
    redis-cli -h 127.0.0.1 -p "${port[$mode]}" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "record_overhead: redis-server ($mode) did not start" >&2
  exit 1
}

stop_server() {
  redis-cli -h 127.0.0.1 -p "${port[$1]}" shutdown nosave >/dev/null 2>&1 || true
  wait "${pid[$1]}" || true
  unset "pid[$1]"
}

# server_ticks MODE: CPU clock ticks used so far by that server, "SERVER
# WRITER", where WRITER is the recorder's writer thread ("slabtrace-write",
# 0 in a plain server) and SERVER every other thread. CPU per request is
# steadier than throughput on a shared machine: it does not count time
# spent waiting for a core.
server_ticks() {
  local p server=0 writer=0 ticks
  p=$(pgrep -P "${pid[$1]}" redis-server 2>/dev/null | head -1)
  [ -n "$p" ] || p=${pid[$1]}
  for task in /proc/"$p"/task/*; do
    ticks=$(awk '{print $14 + $15}' "$task/stat" 2>/dev/null) || continue
    if [ "$(cat "$task/comm" 2>/dev/null)" = slabtrace-write ]; then
      writer=$((writer + ticks))
    else
      server=$((server + ticks))
    fi
  done
  echo "$server $writer"
}

# per_request T0 T1: microseconds of CPU per request between two
# server_ticks readings, "SERVER WRITER".
per_request() {
  python3 -c "
import sys
a = [int(x) for x in '$1'.split()]; b = [int(x) for x in '$2'.split()]
scale = 1e6 / $(getconf CLK_TCK) / (2 * $requests)
print(f'{(b[0] - a[0]) * scale:.3f} {(b[1] - a[1]) * scale:.3f}')"
}

# bench MODE PIPELINE -> "set_rps get_rps cpu_server cpu_writer"
bench() {
  local t0 t1 rps
  t0=$(server_ticks "$1")
  rps=$(redis-benchmark -h 127.0.0.1 -p "${port[$1]}" -t set,get \
    -n "$requests" -c 50 -d 1024 -P "$2" -q --csv | python3 -c '
import csv, sys
rps = {row[0]: row[1] for row in csv.reader(sys.stdin) if len(row) > 1}
print(rps["SET"], rps["GET"])')
  t1=$(server_ticks "$1")
  echo "$rps $(per_request "$t0" "$t1")"
}

# Every server of a round runs at once, idle but for its own benchmark, and
# each benchmark runs on one server after the other: the runs that are
# compared are seconds apart, not a whole server's session (the load of
# this shared machine drifts within a minute).
results="$work/results.txt"
: >"$results"
modes=(plain recorded)
[ -n "${SLABTRACE_B:-}" ] && modes+=(recorded_b)
for round in $(seq "$rounds"); do
  # Each mode takes each place in the round in turn.
  order=()
  for i in "${!modes[@]}"; do
    order+=("${modes[$(((i + round - 1) % ${#modes[@]}))]}")
  done
  [ $((round % 2)) -eq 0 ] && order=($(printf '%s\n' "${order[@]}" | tac))
  declare -A run1=() run16=()
  for mode in "${order[@]}"; do start_server "$mode"; done
  for mode in "${order[@]}"; do run1[$mode]=$(bench "$mode" 1); done
  for mode in "${order[@]}"; do run16[$mode]=$(bench "$mode" 16); done
  for mode in "${order[@]}"; do
    writer_ticks=$(server_ticks "$mode" | cut -d' ' -f2)
    stop_server "$mode"
    read -r set1 get1 cpu1 writer1 <<<"${run1[$mode]}"
    read -r set16 get16 cpu16 writer16 <<<"${run16[$mode]}"
    bpe=0
    if [ "$mode" != plain ]; then
      summary="$work/$mode.summary"
      bpe=$(sed -n 's/.*(\([0-9.]*\) bytes\/event).*/\1/p' "$summary" | head -1)
      events=$(sed -n 's/^ *events *\([0-9]*\).*/\1/p' "$summary" | head -1)
      waits=$(sed -n 's/^ *waits *//p' "$summary" | head -1)
      echo "round $round $mode: $events events, $bpe bytes/event," \
        "writer thread $(python3 -c "print(f'{$writer_ticks * 1e9 / $(getconf CLK_TCK) / max($events, 1):.1f}')") ns/event;" \
        "waits: $waits" >&2
      rm -f "$work/$mode.slabtrace"
    fi
    echo "$round $mode $set1 $get1 $set16 $get16 $bpe $cpu1 $writer1 $cpu16 $writer16" >>"$results"
    echo "round $round $mode: SET $set1 GET $get1 | -P 16: SET $set16 GET $get16" \
      "| CPU us/request: server $cpu1, writer $writer1 | -P 16: server $cpu16, writer $writer16" >&2
  done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r[1], []).append(r)
def ratios(mode, col):
    plain = {int(r[0]): float(r[col]) for r in by["plain"]}
    rec = {int(r[0]): float(r[col]) for r in by[mode]}
    return [rec[k] / plain[k] for k in sorted(plain)]
names = ["SET", "GET", "SET -P 16", "GET -P 16"]
ok = True
for mode, label in (("recorded", "A = SLABTRACE"), ("recorded_b", "B = SLABTRACE_B")):
    if mode not in by:
        continue
    print(f"{label}: test  median ratio recorded/plain (per round)")
    for i, name in enumerate(names):
        rs = ratios(mode, 2 + i)
        target = 0.97 if "-P" not in name else 0.90
        med = statistics.median(rs)
        if mode == "recorded":
            ok &= med >= target
        print(f"{name:<11} {med:.3f} (target >= {target})  " + " ".join(f"{x:.3f}" for x in rs))
    print("CPU per request (us, medians; SET and GET together), plain -> recorded:")
    for label, col in (("no pipeline", 7), ("-P 16", 9)):
        plain = statistics.median(float(r[col]) for r in by["plain"])
        rec = statistics.median(float(r[col]) for r in by[mode])
        writer = statistics.median(float(r[col + 1]) for r in by[mode])
        print(f"{label:<11} server threads {plain:.3f} -> {rec:.3f} ({rec / plain:.3f}x),"
              f" plus the writer thread {writer:.3f}")
bpe = [float(r[6]) for r in by["recorded"]]
if bpe:
    med = statistics.median(bpe)
    ok &= med <= 2.0
    print(f"bytes/event {med:.2f} (target <= 2.0)")
print("all targets met" if ok else "TARGETS MISSED")
sys.exit(0 if ok else 1)
PY
