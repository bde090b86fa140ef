#!/usr/bin/env bash
# The recorder's overhead on Debian's redis-server: the same redis-benchmark
# runs against a plain server (A) and one started under `slabtrace record`
# (B), interleaved A/B, B/A, ... in one run so that machine drift hits both.
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
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -9 "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server MODE PORT: MODE is plain, recorded or recorded_b.
start_server() {
  local mode=$1 port=$2
  local args=(redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no
              --dir "$work" --daemonize no --logfile "$work/redis.log")
  if [ "$mode" != plain ]; then
    local tool=$SLABTRACE
    [ "$mode" = recorded_b ] && tool=$SLABTRACE_B
    "$tool" record -o "$work/r.slabtrace" -- "${args[@]}" 2>"$work/summary.txt" &
  else
    "${args[@]}" &
  fi
  server_pid=$!
  for _ in $(seq 200); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "record_overhead: redis-server ($mode) did not start" >&2
  exit 1
}

stop_server() {
  redis-cli -h 127.0.0.1 -p "$1" shutdown nosave >/dev/null 2>&1 || true
  wait "$server_pid" || true
  server_pid=""
}

# CPU clock ticks used so far by the server: "SERVER WRITER", where WRITER
# is the recorder's writer thread ("slabtrace-write", 0 in a plain server)
# and SERVER every other thread. CPU per request is steadier than
# throughput on a shared machine: it does not count time spent waiting for
# a core.
server_ticks() {
  local pid server=0 writer=0 ticks
  pid=$(pgrep -P "$server_pid" redis-server 2>/dev/null | head -1)
  [ -n "$pid" ] || pid=$server_pid
  for task in /proc/"$pid"/task/*; do
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

# bench PORT PIPELINE -> "set_rps get_rps"
bench() {
  redis-benchmark -h 127.0.0.1 -p "$1" -t set,get -n "$requests" -c 50 -d 1024 \
    -P "$2" -q --csv | python3 -c '
import csv, sys
rps = {row[0]: row[1] for row in csv.reader(sys.stdin) if len(row) > 1}
print(rps["SET"], rps["GET"])'
}

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
  for mode in "${order[@]}"; do
    port=$(free_port)
    start_server "$mode" "$port"
    t0=$(server_ticks)
    read -r set1 get1 < <(bench "$port" 1)
    t1=$(server_ticks)
    read -r set16 get16 < <(bench "$port" 16)
    t2=$(server_ticks)
    read -r cpu1 writer1 < <(per_request "$t0" "$t1")
    read -r cpu16 writer16 < <(per_request "$t1" "$t2")
    stop_server "$port"
    bpe=0
    if [ "$mode" != plain ]; then
      bpe=$(sed -n 's/.*(\([0-9.]*\) bytes\/event).*/\1/p' "$work/summary.txt" | head -1)
      events=$(sed -n 's/^ *events *\([0-9]*\).*/\1/p' "$work/summary.txt" | head -1)
      writer_ticks=$(( $(echo "$t2" | cut -d' ' -f2) ))
      echo "round $round $mode: $events events, $bpe bytes/event," \
        "writer thread $(python3 -c "print(f'{$writer_ticks * 1e9 / $(getconf CLK_TCK) / max($events, 1):.1f}')") ns/event" >&2
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
