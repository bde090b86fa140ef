#!/usr/bin/env bash
# `slabtrace inspect` on testdata/sample.slabtrace, a truncated copy and a
# corrupted copy: the report shows the header and counts; the truncated copy
# gives its warning and exit code 2; the corrupted one a one-line error
# naming the offset and exit code 2.
set -uo pipefail

slabtrace="$1"
sample="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

expect_in() {  # expect_in FILE PATTERN
  grep -qE -- "$2" "$1" || fail "$(basename "$1") lacks /$2/"
}

# A whole trace.
"$slabtrace" inspect "$sample" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "whole trace: exit $rc, want 0: $(cat "$tmp/err")"
expect_in "$tmp/out" '^format: +slabtrace v1'
expect_in "$tmp/out" '^pid: +4242$'
expect_in "$tmp/out" '^allocator: +jemalloc 5\.3\.0-test'
expect_in "$tmp/out" '^page size: +4096$'
expect_in "$tmp/out" '^ +21 +1280 +20480 +16 +32$'
expect_in "$tmp/out" '^markers: 3$'
expect_in "$tmp/out" ' 20000 .* yes +loaded$'
expect_in "$tmp/out" '^  total +60000 +60000  agree$'
expect_in "$tmp/out" '^  malloc +[0-9]+ +[0-9]+/0/0 +[0-9]+/0/0  agree$'
expect_in "$tmp/out" '^  realloc +[0-9]+ +[0-9]+/[0-9]+/[0-9]+ +[0-9]+/[0-9]+/[0-9]+  agree$'
expect_in "$tmp/out" '^symmetric accounting: exact'
expect_in "$tmp/out" '^chunks: +9 \(trailer: 9\)$'
# The peak of live objects read, beside the trailer's max_live_objects.
expect_in "$tmp/out" '^peak live: +([0-9]+) objects \(trailer: \1\)$'
expect_in "$tmp/out" '^bytes/event: +[0-9.]+$'
expect_in "$tmp/out" '^integrity: +complete$'
if grep -q DISAGREE "$tmp/out"; then fail "whole trace: counts disagree"; fi
[ -s "$tmp/err" ] && fail "whole trace: stderr not empty: $(cat "$tmp/err")"

# Deterministic output.
"$slabtrace" inspect "$sample" >"$tmp/out2" 2>/dev/null
cmp -s "$tmp/out" "$tmp/out2" || fail "two runs differ"

# Truncated: cut in the middle of the file.
size=$(wc -c <"$sample")
head -c $((size / 2)) "$sample" >"$tmp/cut.slabtrace"
"$slabtrace" inspect "$tmp/cut.slabtrace" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "truncated: exit $rc, want 2"
expect_in "$tmp/err" "^slabtrace inspect: .*cut\.slabtrace: offset [0-9]+: trace ends without a trailer \(recorder killed\?\)"
expect_in "$tmp/out" '^integrity: +truncated'
expect_in "$tmp/out" '^format: +slabtrace v1'
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "truncated: stderr is not one line"

# Corrupted: one byte flipped inside the first chunk.
cp "$sample" "$tmp/bad.slabtrace"
chmod u+w "$tmp/bad.slabtrace"
printf '\xff' | dd of="$tmp/bad.slabtrace" bs=1 seek=2000 conv=notrunc 2>/dev/null
"$slabtrace" inspect "$tmp/bad.slabtrace" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "corrupt: exit $rc, want 2"
expect_in "$tmp/err" "^slabtrace inspect: .*bad\.slabtrace: offset [0-9]+: .*checksum mismatch$"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "corrupt: stderr is not one line"

# Not a trace at all, and a missing file.
echo "hello" >"$tmp/text.slabtrace"
"$slabtrace" inspect "$tmp/text.slabtrace" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "text: exit $rc, want 2"
expect_in "$tmp/err" "offset 0: not a slabtrace file"
"$slabtrace" inspect "$tmp/missing.slabtrace" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "missing: exit $rc, want 2"

# Usage errors.
"$slabtrace" inspect >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "no file: exit $rc, want 2"
"$slabtrace" inspect --help >"$tmp/out" 2>&1 || fail "--help failed"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "PASS"
