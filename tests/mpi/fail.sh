#!/usr/bin/env bash
# tests/mpi/fail.sh TRAINER - rank 1 fails at step 3 (test hook TR_TEST_FAIL):
# the whole job ends non-zero within 10 s, with one line naming the rank and
# the error, and writes no checkpoint (run from the repository root).
set -euo pipefail
export TRAINER="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
start=$(date +%s.%N)
rc=0
TR_TEST_FAIL=1:3 timeout 30 launch/run.sh -n 2 -t 1 configs/time.yaml run.out="$tmp/run" >"$tmp/out" 2>"$tmp/err" || rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
cat "$tmp/err"
[ "$rc" -ne 0 ] || fail "exit status 0"
[ "$rc" -ne 124 ] || fail "the job hung"
awk -v t="$took" 'BEGIN { exit !(t < 10) }' || fail "took $took s"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "wanted exactly one line on stderr"
grep -q '^trainer: rank 1: injected failure at step 3' "$tmp/err" || fail "the line must name rank 1 and the error"
[ ! -e "$tmp/run/checkpoint.h5" ] || fail "a failed run wrote a checkpoint"
echo "ok: rank 1 failure ended the job in $took s with exit $rc"
