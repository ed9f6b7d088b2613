#!/usr/bin/env bash
# tests/cli/full_disk.sh TRAINER - run.out on a small tmpfs that fills up
# (run from the repository root; needs root to mount it). For each file the
# run writes, a disk too small for it: the checkpoint, attention.h5, best.h5
# and metrics.csv. Each time the run ends with one line naming the file and
# the cause, exit 1, and what was saved before is intact; a run whose
# checkpoint did not fit resumes, once there is room, to the same bits as a
# run that never met a full disk. The tmpfs is unmounted however it ends.
set -euo pipefail
trainer="$1"
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -q "$@" <<<"$(cat)"; }
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root"; exit 77; fi
tmp="$(mktemp -d)"
disk="$tmp/disk"
mkdir "$disk"
trap 'umount "$disk" 2>/dev/null || umount -l "$disk" 2>/dev/null; rm -rf "$tmp"' EXIT
P=$(getconf PAGESIZE)
pages() { echo $(( ($(stat -c %s "$1") + P - 1) / P )); }
mount_pages() { # mount_pages N: a fresh tmpfs of N pages on $disk
    umount "$disk" 2>/dev/null || true
    mount -t tmpfs -o size=$(( $1 * P )) tmpfs "$disk" || { echo "skipped: cannot mount a tmpfs here"; exit 77; }
}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
base=(configs/time.yaml data.train=200 data.test=100 train.log_every=1)
log="$tmp/log"  # the logs stay off the small disk
run() { # run DIR [overrides...]: stdout+stderr in $log, status in rc
    local d="$1"; shift
    rc=0
    "$trainer" "${base[@]}" run.out="$d" "$@" >"$log" 2>&1 || rc=$?
}
one_line() { # one_line WHAT PATTERN: exit 1 and exactly one trainer line in $log, matching
    [ "$rc" -eq 1 ] || { cat "$log"; fail "$1: exit $rc, wanted 1"; }
    [ "$(grep -c '^trainer:' "$log")" -eq 1 ] || { cat "$log"; fail "$1: wanted one trainer: line"; }
    grep '^trainer:' "$log" | has -E "$2" || { cat "$log"; fail "$1: the line must match $2"; }
}

# the files' sizes, from runs on the ordinary disk
run "$tmp/ref1" train.epochs=1 train.keep_best=accuracy
[ "$rc" -eq 0 ] || { cat "$log"; fail "reference run"; }
C=$(pages "$tmp/ref1/checkpoint.h5") A=$(pages "$tmp/ref1/attention.h5") M=$(pages "$tmp/ref1/metrics.csv")

# ---- the checkpoint: room for one, not for the next one beside it
run "$tmp/ref2" train.epochs=2 data.test=0
mount_pages $(( 2 * C - 1 + M ))
run "$disk/run" train.epochs=2 data.test=0
one_line checkpoint "^trainer: $disk/run/checkpoint.h5: writing the checkpoint failed: No space left on device; the previous one is untouched$"
"$trainer" inspect "$disk/run/checkpoint.h5" | has "^step 2, " || fail "checkpoint: the last good one (step 2) does not open"
[ ! -e "$disk/run/checkpoint.h5.tmp" ] || fail "checkpoint: the temporary file was left behind"
mount -o remount,size=$(( (4 * C + 4 * M) * P )) "$disk"
run "$disk/run" train.epochs=2 data.test=0
[ "$rc" -eq 0 ] || { cat "$log"; fail "checkpoint: no resume once there is room"; }
has "^resumed from $disk/run/checkpoint.h5 at step 2 " <"$log" || fail "checkpoint: did not resume from step 2"
h5diff -q "$tmp/ref2/checkpoint.h5" "$disk/run/checkpoint.h5" /params /params || fail "checkpoint: resumed run differs"
h5diff -q "$tmp/ref2/checkpoint.h5" "$disk/run/checkpoint.h5" /optimizer /optimizer || fail "checkpoint: optimizer differs"
echo "ok: checkpoint: one line, exit 1, the last one intact; resumed to the same bits once there was room"

# ---- attention.h5: the checkpoint and metrics.csv fit, the maps do not
mount_pages $(( C + M + A - 1 ))
run "$disk/att" train.epochs=1
one_line attention "^trainer: $disk/att/attention.h5: writing the attention maps failed: No space left on device; the file is untouched$"
"$trainer" inspect "$disk/att/checkpoint.h5" | has "^step 2, " || fail "attention: the checkpoint does not open"
[ ! -e "$disk/att/attention.h5" ] && [ ! -e "$disk/att/attention.h5.tmp" ] || fail "attention: a partial file was left"
echo "ok: attention.h5: one line, exit 1, the checkpoint intact"

# ---- best.h5: everything but it fits
mount_pages $(( 2 * C + M + A - 1 ))
run "$disk/best" train.epochs=1 train.keep_best=accuracy
one_line best "^trainer: $disk/best/best.h5: writing the checkpoint failed: No space left on device; the previous one is untouched$"
"$trainer" inspect "$disk/best/checkpoint.h5" | has "^step 2, " || fail "best: the checkpoint does not open"
[ ! -e "$disk/best/best.h5" ] || fail "best: a partial best.h5"
echo "ok: best.h5: one line, exit 1, the checkpoint intact"

# ---- metrics.csv: one page, which the rows outgrow before the first
# checkpoint (an epoch of 200 steps, a row each)
mount_pages 1
rc=0
"$trainer" configs/time.yaml data.train=2000 data.test=0 train.batch=10 train.micro_batch=10 train.log_every=1 \
    run.out="$disk/m" >"$log" 2>&1 || rc=$?
one_line metrics "^trainer: $disk/m/metrics.csv: writing failed: No space left on device; the rows before are kept$"
head -n 1 "$disk/m/metrics.csv" | has "^step,epoch,loss," || fail "metrics: the header is gone"
[ "$(grep -c '^[0-9]*,1,[0-9.]*,' "$disk/m/metrics.csv")" -ge 50 ] || fail "metrics: the rows written before are gone"
echo "ok: metrics.csv: one line, exit 1, the rows before kept"
