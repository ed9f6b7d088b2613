#!/usr/bin/env bash
# tests/cli/ckpt_errors.sh TRAINER CKPT_EDIT - a truncated checkpoint, one
# from another plugin and one with a parameter of another shape are refused
# with one line naming the file and the mismatch, exit 2, and the file is
# left untouched (run from the repository root).
set -euo pipefail
trainer="$1" edit="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# `cmd | has PATTERN`: grep -q stops reading at the first match and a writer
# still writing (ldd writes line by line) dies of SIGPIPE, which pipefail
# turns into a spurious failure; read everything first
has() { grep -q "$@" <<<"$(cat)"; }
args=(configs/time.yaml data.train=180 data.test=20 train.batch=90 train.epochs=1)
"$trainer" "${args[@]}" run.out="$tmp/good" >/dev/null

# refused CASE REGEX [extra overrides]: the run in $tmp/CASE must fail as described
refused() {
    local name="$1" regex="$2"
    shift 2
    local sum rc=0
    sum=$(sha256sum <"$tmp/$name/checkpoint.h5")
    "$trainer" "${args[@]}" train.epochs=2 run.out="$tmp/$name" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] || { cat "$tmp/err"; fail "$name: exit $rc, wanted 2"; }
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "$name: wanted one line"; }
    grep -Eq -- "$regex" "$tmp/err" || { cat "$tmp/err"; fail "$name: message"; }
    [ "$(sha256sum <"$tmp/$name/checkpoint.h5")" = "$sum" ] || fail "$name: the checkpoint was modified"
    [ ! -e "$tmp/$name/checkpoint.h5.tmp" ] || fail "$name: a temp file was left"
    echo "ok: $name: $(cat "$tmp/err")"
}

mkdir -p "$tmp/truncated" "$tmp/plugin" "$tmp/shape"
head -c 20000 "$tmp/good/checkpoint.h5" >"$tmp/truncated/checkpoint.h5"
refused truncated "^trainer: $tmp/truncated/checkpoint.h5: (not an HDF5 file|cannot open|cannot read).*(corrupt|truncated)"

cp "$tmp/good/checkpoint.h5" "$tmp/plugin/checkpoint.h5"
"$edit" "$tmp/plugin/checkpoint.h5" nmt_gru
refused plugin "^trainer: $tmp/plugin/checkpoint.h5: checkpoint is for plugin 'nmt_gru', the config uses 'time_attn'"

cp "$tmp/good/checkpoint.h5" "$tmp/shape/checkpoint.h5"
refused shape "^trainer: $tmp/shape/checkpoint.h5: parameter 'encoder.forward.kernel' has shape \[41, 128\] in the checkpoint, the model wants \[41, 64\]" \
    model.encoder_units=16

# and predict refuses them the same way
rc=0
"$trainer" predict configs/time.yaml run.out="$tmp/plugin" "ten past six" 2>"$tmp/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "checkpoint is for plugin 'nmt_gru'" "$tmp/err" || fail "predict: $(cat "$tmp/err")"
echo "ok: predict refuses too"

# A checkpoint write that fails (here the temp name is taken by a folder, as
# a full disk would fail it) ends the run with one line and leaves the last
# good checkpoint as it was.
mkdir -p "$tmp/full"
cp "$tmp/good/checkpoint.h5" "$tmp/full/checkpoint.h5"
mkdir "$tmp/full/checkpoint.h5.tmp"
sum=$(sha256sum <"$tmp/full/checkpoint.h5")
rc=0
"$trainer" "${args[@]}" train.epochs=2 run.out="$tmp/full" >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -ne 0 ] || fail "failed write: exit 0"
grep -q "full/checkpoint.h5: writing the checkpoint failed: Is a directory; the previous one is untouched$" "$tmp/err" || { cat "$tmp/err"; fail "failed write: message"; }
[ "$(sha256sum <"$tmp/full/checkpoint.h5")" = "$sum" ] || fail "failed write: the last good checkpoint changed"
"$trainer" inspect "$tmp/full/checkpoint.h5" | has "^step 2," || fail "failed write: last checkpoint unreadable"
echo "ok: a failed write leaves the last good checkpoint: $(cat "$tmp/err")"
