#!/usr/bin/env bash
# tests/cli/resume.sh TRAINER CKPT_DIFF - interrupted runs resume exactly
# (run from the repository root): SIGTERM mid-run, SIGKILL after a
# checkpoint, and 2 ranks stopped then resumed on 1 rank with 2 threads all
# end with parameters bitwise identical to an uninterrupted run.
set -euo pipefail
export TRAINER="$1"
ckpt_diff="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
args=(configs/time.yaml data.train=970 data.test=50 train.batch=90 train.micro_batch=25 train.epochs=2
      train.checkpoint_every=4 train.log_every=1)
same() { # same NAME: final parameters of run NAME equal the uninterrupted ones
    h5diff -q "$tmp/full/checkpoint.h5" "$tmp/$1/checkpoint.h5" /params /params || fail "$1: parameters differ"
    h5diff -q "$tmp/full/checkpoint.h5" "$tmp/$1/checkpoint.h5" /optimizer /optimizer || fail "$1: optimizer state differs"
    # the metrics of the resumed run read like the uninterrupted ones (but for speed)
    diff <(cut -d, -f1-5,7- "$tmp/full/metrics.csv") <(cut -d, -f1-5,7- "$tmp/$1/metrics.csv") >/dev/null \
        || fail "$1: metrics.csv differs"
    echo "ok: $1 resumed to the same bits"
}

launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/full" >"$tmp/full.log"
grep -q "step 22/22" "$tmp/full.log" || fail "the uninterrupted run did not reach step 22"

# SIGTERM during step 7: the step finishes, a checkpoint is written, exit 143.
rc=0
TR_TEST_FAIL=0:7:sigterm launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/term" >"$tmp/term.log" 2>"$tmp/term.err" || rc=$?
[ "$rc" -eq 143 ] || { cat "$tmp/term.err"; fail "SIGTERM: exit $rc, wanted 143"; }
grep -q "stopped by signal 15 at step 7; checkpoint saved" "$tmp/term.err" || fail "SIGTERM: message"
"$TRAINER" inspect "$tmp/term/checkpoint.h5" | grep -q "^step 7," || fail "SIGTERM: checkpoint not at step 7"
launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/term" >"$tmp/term2.log"
grep -q "resumed from .* at step 7" "$tmp/term2.log" || fail "SIGTERM: no resume"
same term

# SIGKILL right after step 9: the last checkpoint is step 8's.
rc=0
TR_TEST_FAIL=0:9:sigkill launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/kill" >"$tmp/kill.log" 2>&1 || rc=$?
[ "$rc" -eq 137 ] || fail "SIGKILL: exit $rc, wanted 137"
"$TRAINER" inspect "$tmp/kill/checkpoint.h5" | grep -q "^step 8," || fail "SIGKILL: last checkpoint not at step 8"
[ ! -e "$tmp/kill/checkpoint.h5.tmp" ] || fail "SIGKILL: temp file left"
launch/run.sh -n 1 -t 2 "${args[@]}" run.out="$tmp/kill" >"$tmp/kill2.log"
grep -q "resumed from .* at step 8" "$tmp/kill2.log" || fail "SIGKILL: no resume"
same kill

# 2 ranks, rank 1 gets SIGTERM at step 5: both stop after step 5; resume on 1 rank x 2 threads.
rc=0
TR_TEST_FAIL=1:5:sigterm launch/run.sh -n 2 -t 1 "${args[@]}" run.out="$tmp/ranks" >"$tmp/ranks.log" 2>"$tmp/ranks.err" || rc=$?
[ "$rc" -eq 143 ] || { cat "$tmp/ranks.err"; fail "2 ranks SIGTERM: exit $rc"; }
[ "$(wc -l <"$tmp/ranks.err")" -eq 1 ] || { cat "$tmp/ranks.err"; fail "2 ranks SIGTERM: wanted one line"; }
"$TRAINER" inspect "$tmp/ranks/checkpoint.h5" | grep -q "^step 5," || fail "2 ranks: checkpoint not at step 5"
launch/run.sh -n 1 -t 2 "${args[@]}" run.out="$tmp/ranks" >"$tmp/ranks2.log"
same ranks

# --fresh starts over even though a complete checkpoint exists.
launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/term" --fresh >"$tmp/fresh.log"
grep -q "resumed" "$tmp/fresh.log" && fail "--fresh resumed"
grep -q "step 22/22" "$tmp/fresh.log" || fail "--fresh did not train"
same term
