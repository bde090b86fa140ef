#!/usr/bin/env bash
# Browser test of `slabtrace report`: renders the report of the real Redis
# scatter-delete recording in testdata/ with the real command (all eight
# policies), loads the page in headless Chromium and asserts that
#  - no console errors (the page records window errors and console.error in
#    an attribute that --dump-dom shows; Chromium's log has no console line),
#  - every chart is present and non-empty (each expected <svg> has children),
#  - a screenshot is not blank (decoded and counted by a stdlib script).
# The screenshot is kept in $TEST_UNDECLARED_OUTPUTS_DIR. A negative control
# (a page with a script error) checks that the checker can fail.
# Skipped, with a message, only when /usr/bin/chromium is absent;
# scripts/install_deps.sh installs Debian's chromium.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIPPED: $CHROMIUM is absent; scripts/install_deps.sh installs" \
       "Debian's chromium package"
  exit 0
fi

runfile() {
  local path="${TEST_SRCDIR:?}/${TEST_WORKSPACE:?}/$1"
  [ -e "$path" ] || { echo "missing runfile $1" >&2; exit 1; }
  echo "$path"
}
SLABTRACE=$(runfile tools/slabtrace)
TRACE=$(runfile testdata/redis/scatter-delete.slabtrace)
CHECK=$(runfile tools/report/testing/check_browser_output.py)

work="${TEST_TMPDIR:-$(mktemp -d)}/browser"
outputs="${TEST_UNDECLARED_OUTPUTS_DIR:-$work}"
mkdir -p "$work" "$outputs"
export HOME="$work/home"
mkdir -p "$HOME"

# Loads $1 in headless Chromium with extra arguments; stdout to $2, stderr
# (with --enable-logging) to $3. Never hangs: a 120 s ceiling.
chromium() {
  local page=$1 out=$2 log=$3
  shift 3
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-extensions \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 \
    "$@" "file://$page" >"$out" 2>"$log"
  rm -rf "$profile"
}

# The charts every report has: memory, DSR and per-policy timelines, the
# histogram, and the slab maps of the 1280-byte class (class 21) at both
# markers.
IDS=(chart-memory chart-dsr chart-policy-footprint chart-histogram
     slabmap-0-21 slabmap-1-21)

echo "== negative control: a page with a script error must fail the check"
cat >"$work/broken.html" <<'HTML'
<!DOCTYPE html><html><body><svg id="chart-memory"></svg>
<script>null.x;</script></body></html>
HTML
chromium "$work/broken.html" "$work/broken.dom" "$work/broken.log" --dump-dom
if python3 "$CHECK" dom "$work/broken.dom" "$work/broken.log" "${IDS[@]}" \
    >"$work/broken.check"; then
  echo "FAIL: the checker accepted a broken page"; cat "$work/broken.check"
  exit 1
fi

echo "== report of testdata/redis/scatter-delete.slabtrace"
"$SLABTRACE" report "$TRACE" -o "$work/report.html"
cp "$work/report.html" "$outputs/report.html"

chromium "$work/report.html" "$work/report.dom" "$work/dom.log" --dump-dom
python3 "$CHECK" dom "$work/report.dom" "$work/dom.log" "${IDS[@]}"
grep -q 'id="headline">At marker' "$work/report.dom" ||
  { echo "FAIL: no headline"; exit 1; }

chromium "$work/report.html" /dev/null "$work/shot.log" --hide-scrollbars \
  --window-size=1400,4000 --screenshot="$outputs/report.png"
[ -s "$outputs/report.png" ] || { echo "FAIL: no screenshot"; exit 1; }
python3 "$CHECK" png "$outputs/report.png"
echo "PASS: screenshot kept as $outputs/report.png"
