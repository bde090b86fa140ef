#!/usr/bin/env bash
# The checked-in Redis traces were written by the current writer (through
# rewrite_trace): writing each one again must give exactly its bytes. This
# pins the writer's chunking and coding (e.g. coding chunks as events arrive
# gives the bytes of coding them whole); a deliberate format change
# rewrites the traces (README.md) and this test with them.
#
# usage: rewrite_test.sh REWRITE_TRACE TRACE...
set -uo pipefail
rewrite="$1"
shift
out="${TEST_TMPDIR:-$(mktemp -d)}"
failed=0
for trace in "$@"; do
  copy="$out/$(basename "$trace")"
  if ! "$rewrite" "$trace" "$copy" >/dev/null; then
    echo "FAIL $trace: rewrite_trace failed" >&2
    failed=1
  elif ! cmp "$trace" "$copy"; then
    echo "FAIL $trace: written again, the bytes differ" >&2
    failed=1
  else
    echo "ok $trace"
  fi
done
exit "$failed"
