#!/usr/bin/env bash
# tests/cli/nonfinite.sh TRAINER TEST_PLUGIN_DIR - train.nonfinite (run from
# the repository root), with tests/plugins/inf_grad.c, whose loss and
# gradient are +Inf on chosen samples (their index in the dataset):
#   - stop (the default): one line naming the tensor, exit 1;
#   - skip: the steps holding such a sample are dropped (3 steps whose last
#     is dropped end bitwise where 2 clean steps end), counted in the
#     progress line and metrics.csv, and the result is bitwise the same for
#     1x1, 1x2 and 2x1; Inf in the loss alone, or the gradient alone,
#     are dropped too; the float reduction skips as well;
#   - max_skips: that many skips in a row stop the run with one line, exit 1;
#   - resume keeps the counts.
set -euo pipefail
export TRAINER="$1" TRAINER_PLUGIN_PATH="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -q "$@" <<<"$(cat)"; }
cat >"$tmp/run.yaml" <<YAML
model:
  plugin: inf_grad
data:
  pairs: data/time/time_dataset.json
  vocabs: data/time/time_vocabs.json
  train: 1000
  test: 0
  src_len: 41
  tgt_len: 5
train:
  epochs: 2
  batch: 100
  micro_batch: 25
  lr: 0.01
  shuffle: false
  log_every: 5
YAML
run() { # run NAME LAYOUT [overrides...]: the run's stdout+stderr in $tmp/NAME.log, status in rc
    local name="$1" l="$2"; shift 2
    rc=0
    launch/run.sh -n "${l%x*}" -t "${l#*x}" "$tmp/run.yaml" run.out="$tmp/$name" "$@" >"$tmp/$name.log" 2>&1 || rc=$?
}
w() { h5dump -d /params/w "$tmp/$1/checkpoint.h5" | sed -n 's/^ *(0): //p'; }

# ---- stop: the default
run stop 1x1 model.bad_from=250 model.bad_to=251
[ "$rc" -eq 1 ] || { cat "$tmp/stop.log"; fail "stop: exit $rc, wanted 1"; }
has "^trainer: plugin 'inf_grad' returned a non-finite loss (inf) at step 3 " <"$tmp/stop.log" || { cat "$tmp/stop.log"; fail "stop: the loss line"; }
run stopg 2x1 model.bad_from=250 model.bad_to=251 model.bad=grad
[ "$rc" -eq 1 ] || { cat "$tmp/stopg.log"; fail "stop, gradient: exit $rc, wanted 1"; }
has "^trainer: (rank 0: )?non-finite gradient for parameter 'w' at step 3 " -E <"$tmp/stopg.log" || { cat "$tmp/stopg.log"; fail "stop: the gradient line"; }
[ ! -e "$tmp/stop/checkpoint.h5" ] || fail "stop: a checkpoint of the failed run"
echo "ok: stop: one line naming the loss, or the tensor, exit 1"

# ---- skip: sample 250 is in step 3 of each epoch (no shuffle): 2 steps dropped
for l in 1x1 1x2 2x1; do
    run "skip$l" "$l" model.bad_from=250 model.bad_to=251 train.nonfinite=skip
    [ "$rc" -eq 0 ] || { cat "$tmp/skip$l.log"; fail "skip $l: exit $rc"; }
done
has "^step 5/20 .*  skipped 1 (non-finite; 1 in all)$" <"$tmp/skip1x1.log" || { cat "$tmp/skip1x1.log"; fail "skip: the progress line"; }
has "^step 15/20 .*  skipped 1 (non-finite; 2 in all)$" <"$tmp/skip1x1.log" || fail "skip: the second epoch's skip"
has "^step 10/20 " <"$tmp/skip1x1.log" && has -v "skipped" <<<"$(grep '^step 10/20 ' "$tmp/skip1x1.log")" || fail "skip: a window without skips says none"
[ "$(sed -n '$p' "$tmp/skip1x1/metrics.csv" | awk -F, '{ print $NF }')" = 2 ] || fail "skip: metrics.csv skipped_steps"
[ "$(awk -F, 'NR == 1 { print $11 }' "$tmp/skip1x1/metrics.csv")" = skipped_steps ] || fail "skip: metrics.csv header"
for l in 1x2 2x1; do
    h5diff -q "$tmp/skip1x1/checkpoint.h5" "$tmp/skip$l/checkpoint.h5" /params /params || fail "skip: $l differs from 1x1"
    h5diff -q "$tmp/skip1x1/checkpoint.h5" "$tmp/skip$l/checkpoint.h5" /optimizer /optimizer || fail "skip: $l optimizer differs"
done
h5dump -a /skipped_steps "$tmp/skip1x1/checkpoint.h5" | has '(0): 2$' || fail "skip: the checkpoint's skipped_steps"
echo "ok: skip: 2 steps dropped, logged and counted; 1x1 = 1x2 = 2x1 bitwise"

# a dropped step changes nothing: 3 steps whose last is dropped end bitwise
# where 2 clean steps do (parameters and Adam's state; constant lr)
run three 1x1 data.train=300 train.epochs=1 model.bad_from=250 model.bad_to=251 train.nonfinite=skip
run two 1x1 data.train=200 train.epochs=1
h5diff -q "$tmp/three/checkpoint.h5" "$tmp/two/checkpoint.h5" /params /params || fail "skip: the dropped step moved the parameters"
h5diff -q "$tmp/three/checkpoint.h5" "$tmp/two/checkpoint.h5" /optimizer /optimizer || fail "skip: the dropped step moved Adam's state"
run clean 1x1
[ "$rc" -eq 0 ] || fail "clean run"
[ "$(w clean)" != "$(w skip1x1)" ] || fail "skip: dropping 2 steps changed nothing"
for bad in loss grad; do
    run "only$bad" 1x1 model.bad_from=250 model.bad_to=251 model.bad=$bad train.nonfinite=skip
    [ "$rc" -eq 0 ] || { cat "$tmp/only$bad.log"; fail "Inf in the $bad alone: exit $rc"; }
    [ "$(w "only$bad")" = "$(w skip1x1)" ] || fail "Inf in the $bad alone: not the same drop"
done
run float 2x1 model.bad_from=250 model.bad_to=251 train.nonfinite=skip train.exact_reduce=false
[ "$rc" -eq 0 ] || { cat "$tmp/float.log"; fail "float reduction: exit $rc"; }
has "skipped 1 (non-finite; 2 in all)" <"$tmp/float.log" || fail "float reduction: not skipped"
echo "ok: skip: Inf in the loss alone and in the gradient alone drop the same steps; the float reduction skips too"

# ---- max_skips: samples 0..399 are bad: steps 1-4 in a row
run many 2x1 model.bad_from=0 model.bad_to=400 train.nonfinite=skip train.max_skips=3
[ "$rc" -eq 1 ] || { cat "$tmp/many.log"; fail "max_skips: exit $rc, wanted 1"; }
has -E "^trainer: (rank 0: )?stopped at step 3: 3 steps in a row had a non-finite gradient or loss \(train.max_skips: 3; " <"$tmp/many.log" \
    || { cat "$tmp/many.log"; fail "max_skips: the line"; }
run fewer 1x1 model.bad_from=0 model.bad_to=400 train.nonfinite=skip train.max_skips=5
[ "$rc" -eq 0 ] || { cat "$tmp/fewer.log"; fail "4 skips in a row under max_skips 5: exit $rc"; }
echo "ok: max_skips: 3 in a row stop the run with one line; 4 under 5 do not"

# ---- resume keeps the counts: 1 epoch, then the second, equals the 2-epoch run
run part 1x1 model.bad_from=250 model.bad_to=251 train.nonfinite=skip train.epochs=1
run part 1x1 model.bad_from=250 model.bad_to=251 train.nonfinite=skip
[ "$rc" -eq 0 ] || { cat "$tmp/part.log"; fail "resume: exit $rc"; }
has "^resumed from " <"$tmp/part.log" || fail "resume: did not resume"
h5diff -q "$tmp/skip1x1/checkpoint.h5" "$tmp/part/checkpoint.h5" /params /params || fail "resume: differs from the uninterrupted run"
h5diff -q "$tmp/skip1x1/checkpoint.h5" "$tmp/part/checkpoint.h5" /optimizer /optimizer || fail "resume: optimizer differs"
h5dump -a /skipped_steps "$tmp/part/checkpoint.h5" | has '(0): 2$' || fail "resume: skipped_steps"
echo "ok: resume after a skip: bitwise the uninterrupted run, counts kept"
