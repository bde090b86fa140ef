#!/usr/bin/env bash
# The main job: installs what is missing, builds the `slabtrace` command
# line and the recorder, and runs the Redis demo (the published experiment:
# 100,000 keys with 1 KiB values, odd keys deleted; about ten seconds).
# Any arguments are passed to slabtrace instead, e.g.
#   scripts/run.sh inspect testdata/redis/scatter-delete.slabtrace
set -euo pipefail
caller_dir=$PWD  # the demo's trace and any -o path land where it was called
cd "$(dirname "$0")/.."
scripts/install_deps.sh
if ! out=$(bazel build //tools:slabtrace 2>&1); then
  echo "$out" >&2
  exit 1
fi
bin="$(bazel info bazel-bin 2>/dev/null)/tools/slabtrace"
cd "$caller_dir"
if [ $# -eq 0 ]; then
  set -- demo
fi
exec "$bin" "$@"
