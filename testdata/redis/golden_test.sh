#!/usr/bin/env bash
# Golden test of the Redis traces: `slabtrace replay --by-class` and
# `slabtrace compare` (table, and csv by class) of each checked-in trace must
# give exactly the bytes in testdata/redis/golden/.
#
# usage: golden_test.sh SLABTRACE [--golden DIR] TRACE...
# The goldens of a trace are in golden/ beside it, or in DIR when given
# (the classic-coding copy in redis/classic/ shares redis/golden/).
# With SLABTRACE_UPDATE_GOLDEN=1 under `bazel run` it writes the outputs into
# the workspace instead (testdata/rerecord.sh --goldens-only does that), the
# same switch tools/replay_command_test.cc uses for testdata/golden/.
set -uo pipefail

slabtrace="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
golden_dir=""
if [[ "${1:-}" == "--golden" ]]; then
  golden_dir="$2"
  shift 2
fi

update_dir=""
if [[ -n "${SLABTRACE_UPDATE_GOLDEN:-}" ]]; then
  if [[ -z "${BUILD_WORKSPACE_DIRECTORY:-}" ]]; then
    echo "golden_test.sh: SLABTRACE_UPDATE_GOLDEN needs bazel run" >&2
    exit 2
  fi
  update_dir="$BUILD_WORKSPACE_DIRECTORY/testdata/redis/golden"
  mkdir -p "$update_dir"
fi
out_dir="${TEST_TMPDIR:-$(mktemp -d)}/golden_out"
mkdir -p "$out_dir"

# golden file suffix -> slabtrace arguments after the trace's name.
outputs=(
  "replay.txt:replay --by-class"
  "compare.txt:compare"
  "compare.csv:compare --format=csv --by-class"
)

failures=0
for trace in "$@"; do
  # Run beside the trace with its base name, so no path reaches the output.
  dir="$(dirname "$trace")"
  name="$(basename "$trace" .slabtrace)"
  for output in "${outputs[@]}"; do
    suffix="${output%%:*}"
    read -r -a args <<<"${output#*:}"
    file="$name.$suffix"
    if ! (cd "$dir" && "$slabtrace" "${args[0]}" "$name.slabtrace" \
            "${args[@]:1}" -o "$out_dir/$file"); then
      echo "FAIL slabtrace ${output#*:} $name.slabtrace exited non-zero"
      failures=$((failures + 1))
      continue
    fi
    if [[ -n "$update_dir" ]]; then
      cp "$out_dir/$file" "$update_dir/$file"
      echo "wrote testdata/redis/golden/$file"
    elif ! diff -u "${golden_dir:-$dir/golden}/$file" "$out_dir/$file" \
        >"$out_dir/$file.diff"; then
      echo "FAIL $file differs from testdata/redis/golden/$file" \
        "(regenerate: testdata/rerecord.sh --goldens-only):"
      head -n 20 "$out_dir/$file.diff"
      failures=$((failures + 1))
    else
      echo "ok   $file"
    fi
  done
done
[[ $failures -eq 0 ]]
