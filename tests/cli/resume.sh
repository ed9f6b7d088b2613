#!/usr/bin/env bash
# tests/cli/resume.sh TRAINER CKPT_DIFF - interrupted runs resume exactly
# (run from the repository root): SIGTERM mid-run, SIGKILL after a
# checkpoint, and 2 ranks stopped then resumed on 1 rank with 2 threads all
# end with parameters bitwise identical to an uninterrupted run; a complete
# run re-run writes nothing, and more epochs go on from its checkpoint.
set -euo pipefail
export TRAINER="$1"
ckpt_diff="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# `cmd | has PATTERN`: grep -q stops reading at the first match and a writer
# still writing (ldd writes line by line) dies of SIGPIPE, which pipefail
# turns into a spurious failure; read everything first
has() { grep -q "$@" <<<"$(cat)"; }
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

# Re-running the complete run, on 1 rank and on 2: one line, exit 0, and
# nothing written: the files keep their bytes and their times.
files=(checkpoint.h5 metrics.csv attention.h5)
state() { (cd "$tmp/full" && sha256sum "${files[@]}" && stat -c '%n %y' "${files[@]}"); }
before=$(state)
for n in 1 2; do
    rc=0
    launch/run.sh -n $n -t 1 "${args[@]}" run.out="$tmp/full" >"$tmp/again.log" 2>"$tmp/again.err" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$tmp/again.err"; fail "complete run again on $n rank(s): exit $rc"; }
    [ "$(cat "$tmp/again.log")" = "trainer: $tmp/full is complete (2 of 2 epochs, step 22): nothing to do; --fresh starts over, or train.epochs=N (N > 2) goes on" ] \
        || { cat "$tmp/again.log"; fail "complete run again on $n rank(s): wanted the one line"; }
    [ ! -s "$tmp/again.err" ] || { cat "$tmp/again.err"; fail "complete run again on $n rank(s): stderr"; }
    [ "$(state)" = "$before" ] || { echo "$before"; state; fail "complete run again on $n rank(s): files changed"; }
done
echo "ok: a complete run re-run on 1 and 2 ranks: $(cat "$tmp/again.log")"
# More epochs go on from the checkpoint, to the bits of a run that had them from the start.
cp -a "$tmp/full" "$tmp/more"
launch/run.sh -n 1 -t 1 "${args[@]}" train.epochs=3 run.out="$tmp/more" >"$tmp/more.log"
grep -qx "resumed from $tmp/more/checkpoint.h5 at step 22 (epoch 2)" "$tmp/more.log" || fail "more epochs: no resume"
grep -q "^step 33/33 " "$tmp/more.log" || fail "more epochs: did not train to step 33"
launch/run.sh -n 1 -t 1 "${args[@]}" train.epochs=3 run.out="$tmp/three" >"$tmp/three.log"
h5diff -q "$tmp/three/checkpoint.h5" "$tmp/more/checkpoint.h5" /params /params || fail "more epochs: parameters differ"
h5diff -q "$tmp/three/checkpoint.h5" "$tmp/more/checkpoint.h5" /optimizer /optimizer || fail "more epochs: optimizer state differs"
echo "ok: train.epochs=3 after 2 goes on to the same bits as 3 from the start"
# A complete checkpoint whose final evaluation is not in metrics.csv (killed
# during it) is evaluated, and the checkpoint is not written again.
cp -a "$tmp/full" "$tmp/noeval"
tail -n 1 "$tmp/noeval/metrics.csv" | has '^22,2,,' || fail "the last row of metrics.csv is not the final eval"
sed -i '$d' "$tmp/noeval/metrics.csv"
sum=$(sha256sum <"$tmp/noeval/checkpoint.h5")
launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/noeval" >"$tmp/noeval.log"
grep -qx "resumed from $tmp/noeval/checkpoint.h5 at step 22 (epoch 2): training complete, its final evaluation missing: evaluating" \
    "$tmp/noeval.log" || { cat "$tmp/noeval.log"; fail "missing final eval: no notice"; }
[ "$(sha256sum <"$tmp/noeval/checkpoint.h5")" = "$sum" ] || fail "missing final eval: the checkpoint was written"
cmp -s "$tmp/full/metrics.csv" "$tmp/noeval/metrics.csv" || fail "missing final eval: metrics.csv is not the complete run's"
echo "ok: a missing final evaluation is run, the checkpoint left alone"

# SIGTERM during step 7: the step finishes, a checkpoint is written, exit 143.
rc=0
TR_TEST_FAIL=0:7:sigterm launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/term" >"$tmp/term.log" 2>"$tmp/term.err" || rc=$?
[ "$rc" -eq 143 ] || { cat "$tmp/term.err"; fail "SIGTERM: exit $rc, wanted 143"; }
grep -q "stopped by signal 15 at step 7; checkpoint saved" "$tmp/term.err" || fail "SIGTERM: message"
"$TRAINER" inspect "$tmp/term/checkpoint.h5" | has "^step 7," || fail "SIGTERM: checkpoint not at step 7"
launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/term" >"$tmp/term2.log"
grep -q "resumed from .* at step 7" "$tmp/term2.log" || fail "SIGTERM: no resume"
same term

# SIGKILL right after step 9: the last checkpoint is step 8's.
rc=0
TR_TEST_FAIL=0:9:sigkill launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/kill" >"$tmp/kill.log" 2>&1 || rc=$?
[ "$rc" -eq 137 ] || fail "SIGKILL: exit $rc, wanted 137"
"$TRAINER" inspect "$tmp/kill/checkpoint.h5" | has "^step 8," || fail "SIGKILL: last checkpoint not at step 8"
[ ! -e "$tmp/kill/checkpoint.h5.tmp" ] || fail "SIGKILL: temp file left"
launch/run.sh -n 1 -t 2 "${args[@]}" run.out="$tmp/kill" >"$tmp/kill2.log"
grep -q "resumed from .* at step 8" "$tmp/kill2.log" || fail "SIGKILL: no resume"
same kill

# 2 ranks, rank 1 gets SIGTERM at step 5: both stop after step 5; resume on 1 rank x 2 threads.
rc=0
TR_TEST_FAIL=1:5:sigterm launch/run.sh -n 2 -t 1 "${args[@]}" run.out="$tmp/ranks" >"$tmp/ranks.log" 2>"$tmp/ranks.err" || rc=$?
[ "$rc" -eq 143 ] || { cat "$tmp/ranks.err"; fail "2 ranks SIGTERM: exit $rc"; }
[ "$(wc -l <"$tmp/ranks.err")" -eq 1 ] || { cat "$tmp/ranks.err"; fail "2 ranks SIGTERM: wanted one line"; }
"$TRAINER" inspect "$tmp/ranks/checkpoint.h5" | has "^step 5," || fail "2 ranks: checkpoint not at step 5"
launch/run.sh -n 1 -t 2 "${args[@]}" run.out="$tmp/ranks" >"$tmp/ranks2.log"
same ranks

# --fresh starts over even though a complete checkpoint exists.
launch/run.sh -n 1 -t 1 "${args[@]}" run.out="$tmp/term" --fresh >"$tmp/fresh.log"
grep -q "resumed" "$tmp/fresh.log" && fail "--fresh resumed"
grep -q "step 22/22" "$tmp/fresh.log" || fail "--fresh did not train"
same term
