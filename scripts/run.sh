#!/usr/bin/env bash
# The main job: installs what is missing, builds the `slabtrace` command
# line and the recorder, and runs it. With no arguments it inspects the
# checked-in sample trace; any arguments are passed to slabtrace as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
if ! out=$(bazel build //tools:slabtrace 2>&1); then
  echo "$out" >&2
  exit 1
fi
if [ $# -eq 0 ]; then
  set -- inspect testdata/sample.slabtrace
fi
exec bazel-bin/tools/slabtrace "$@"
