#!/usr/bin/env bash
# tests/cli/smoke.sh TRAINER - a tiny run driven only by command-line
# overrides (a last partial batch included), then `trainer plugins`.
set -euo pipefail
trainer="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$trainer" configs/time.yaml data.train=290 data.test=100 train.epochs=2 train.batch=60 \
    train.micro_batch=16 train.log_every=1 run.out="$tmp/run" >"$tmp/log"
cat "$tmp/log"
grep -q "batch 60 in micro-shards of 16; 5 steps/epoch x 2 epochs" "$tmp/log" || fail "overrides not applied"
[ "$(grep -c '^step ' "$tmp/log")" -eq 10 ] || fail "wanted one progress line per step (log_every=1)"
grep -Eq '^step 10/10  epoch 2/2  loss [0-9.]+  lr [0-9.]+  grad_norm [0-9.]+  [0-9]+ samples/s  ETA ' "$tmp/log" \
    || fail "progress line format"
grep -Eq '^eval: exact-match [0-9.]+  token-accuracy [0-9.]+  on 100 held-out' "$tmp/log" || fail "final eval line"
[ -s "$tmp/run/checkpoint.h5" ] || fail "no checkpoint"
[ ! -e "$tmp/run/checkpoint.h5.tmp" ] || fail "temp checkpoint left behind"
[ "$(head -n 1 "$tmp/run/metrics.csv")" = "step,epoch,loss,lr,grad_norm,samples_per_s,exact_match,token_accuracy,bleu" ] \
    || fail "metrics.csv header"
[ "$(grep -c '^[0-9]' "$tmp/run/metrics.csv")" -eq 11 ] || fail "metrics.csv: wanted 10 step rows and 1 eval row"
"$trainer" inspect "$tmp/run/checkpoint.h5" >"$tmp/inspect"
grep -q "^step 10, epoch 2" "$tmp/inspect" || fail "inspect: step"
grep -q "^plugin time_attn 1.0.0, plugin ABI 1" "$tmp/inspect" || fail "inspect: plugin"
grep -Eq "^  encoder.forward.kernel +\[41, 128\] +5248$" "$tmp/inspect" || fail "inspect: tensors"
grep -q "^  train:" "$tmp/inspect" || fail "inspect: config"
# Re-running the same command resumes: nothing left to train.
"$trainer" configs/time.yaml data.train=290 data.test=100 train.epochs=2 train.batch=60 \
    train.micro_batch=16 train.log_every=1 run.out="$tmp/run" >"$tmp/log2"
grep -q "resumed from $tmp/run/checkpoint.h5 at step 10 (epoch 2): training already complete" "$tmp/log2" \
    || fail "re-run did not resume"
[ "$(grep -c '^step ' "$tmp/log2")" -eq 0 ] || fail "a complete run trained again"
if command -v h5dump >/dev/null; then
    h5dump -H "$tmp/run/checkpoint.h5" >"$tmp/h5"   # (to a file: grep -q would SIGPIPE h5dump)
    grep -q 'DATASET "encoder.forward.kernel"' "$tmp/h5" || fail "checkpoint layout"
    grep -q 'GROUP "optimizer"' "$tmp/h5" || fail "checkpoint optimizer state"
    h5dump -a /plugin "$tmp/run/checkpoint.h5" >"$tmp/h5"
    grep -q '"time_attn"' "$tmp/h5" || fail "checkpoint plugin attribute"
fi

"$trainer" plugins >"$tmp/plugins"
cat "$tmp/plugins"
grep -Eq '^time_attn +1\.0\.0 +ABI 1 +/.*/time_attn\.so$' "$tmp/plugins" || fail "trainer plugins"
echo "ok: smoke"
