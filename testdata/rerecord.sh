#!/usr/bin/env bash
# Re-records the Redis traces of testdata/redis/ from Debian's redis-server
# and regenerates their golden outputs; with --goldens-only, regenerates the
# goldens from the checked-in traces and records nothing.
#
#   testdata/rerecord.sh                 # record all six, then goldens
#   testdata/rerecord.sh --goldens-only  # goldens only
#   testdata/rerecord.sh churn hashes    # record these two, then goldens
#
# A new recording differs from the old one (addresses, thread-cache timing),
# so after re-recording review `git diff --stat testdata/redis` and the
# thresholds in testdata/BUILD (`bazel test //testdata:all`). The commands
# below are the ones testdata/redis/README.md lists; keep both in sync.
set -euo pipefail
cd "$(dirname "$0")/.."

# scenario -> options of `slabtrace redis SCENARIO` (small scale: each trace
# stays well under 2 MiB).
declare -A OPTIONS=(
  [scatter-delete]="--keys=5000 --value-size=1024"
  [flushall]="--keys=5000 --value-size=1024"
  [expire]="--keys=4000 --value-size=512 --waves=4 --wave-ms=20"
  [mixed-sizes]="--keys=4000 --sizes=16,100,300,700,1500,5000,20000 --delete-fraction=0.5"
  [churn]="--keys=2000 --value-size=256 --ops=8000 --phases=4"
  [hashes]="--keys=8000 --value-size=64 --hashes=4"
)
ORDER=(scatter-delete flushall expire mixed-sizes churn hashes)

goldens_only=0
scenarios=()
for arg in "$@"; do
  case "$arg" in
    --goldens-only) goldens_only=1 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)
      if [[ -z "${OPTIONS[$arg]+x}" ]]; then
        echo "rerecord.sh: unknown scenario '$arg' (${ORDER[*]})" >&2
        exit 2
      fi
      scenarios+=("$arg") ;;
  esac
done
[[ ${#scenarios[@]} -eq 0 ]] && scenarios=("${ORDER[@]}")

if [[ $goldens_only -eq 0 ]]; then
  bazel build //tools:slabtrace
  slabtrace="$(bazel info bazel-bin)/tools/slabtrace"
  for scenario in "${scenarios[@]}"; do
    out="testdata/redis/${scenario}.slabtrace"
    # shellcheck disable=SC2086  # the options are words on purpose
    "$slabtrace" redis "$scenario" ${OPTIONS[$scenario]} --seed=1 \
      -o "$out" >/dev/null
    size=$(stat -c %s "$out")
    if [[ $size -gt $((2 * 1024 * 1024)) ]]; then
      echo "rerecord.sh: $out is $size bytes, over the 2 MiB budget" >&2
      exit 1
    fi
    echo "recorded $out ($size bytes)"
  done
fi

# The golden test writes its outputs into the workspace instead of
# comparing them when asked to (the same switch as tools/replay_command_test).
SLABTRACE_UPDATE_GOLDEN=1 bazel run //testdata:redis_golden_test
echo "regenerated testdata/redis/golden/; review with git diff testdata/redis"
