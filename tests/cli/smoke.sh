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
[ "$(head -n 1 "$tmp/run/metrics.csv")" = "step,epoch,loss,lr,grad_norm,samples_per_s,exact_match,token_accuracy,bleu,macro_f1,skipped_steps" ] \
    || fail "metrics.csv header"
[ "$(grep -c '^[0-9]' "$tmp/run/metrics.csv")" -eq 11 ] || fail "metrics.csv: wanted 10 step rows and 1 eval row"
"$trainer" inspect "$tmp/run/checkpoint.h5" >"$tmp/inspect"
grep -q "^step 10, epoch 2" "$tmp/inspect" || fail "inspect: step"
grep -q "^plugin time_attn 1.0.0, plugin ABI 1" "$tmp/inspect" || fail "inspect: plugin"
grep -Eq "^  encoder.forward.kernel +\[41, 128\] +5248$" "$tmp/inspect" || fail "inspect: tensors"
grep -q "^  train:" "$tmp/inspect" || fail "inspect: config"
grep -q "were cut" "$tmp/log" && fail "a data: line about cut inputs, but none is longer than src_len"
# Re-running the same command: the run is complete, one line, nothing to do
# (tests/cli/resume.sh checks that nothing is written).
"$trainer" configs/time.yaml data.train=290 data.test=100 train.epochs=2 train.batch=60 \
    train.micro_batch=16 train.log_every=1 run.out="$tmp/run" >"$tmp/log2"
[ "$(cat "$tmp/log2")" = "trainer: $tmp/run is complete (2 of 2 epochs, step 10): nothing to do; --fresh starts over, or train.epochs=N (N > 2) goes on" ] \
    || { cat "$tmp/log2"; fail "re-running a complete run"; }
if command -v h5dump >/dev/null; then
    h5dump -H "$tmp/run/checkpoint.h5" >"$tmp/h5"   # (to a file: grep -q would SIGPIPE h5dump)
    grep -q 'DATASET "encoder.forward.kernel"' "$tmp/h5" || fail "checkpoint layout"
    grep -q 'GROUP "optimizer"' "$tmp/h5" || fail "checkpoint optimizer state"
    h5dump -a /plugin "$tmp/run/checkpoint.h5" >"$tmp/h5"
    grep -q '"time_attn"' "$tmp/h5" || fail "checkpoint plugin attribute"
fi

# Sources (targets, with </s>) longer than src_len (tgt_len) are cut, and the
# load says how many, once; counted over the training and held-out pairs.
# word_pairs, src_len 4, tgt_len 3: sources of 5 and 6 words are cut, not
# one of 4; targets of 3 and 4 words are cut (no room for </s>), not one of 2.
mkdir "$tmp/cut"
printf '%s\n' "a b" "a b c d" "a b c d e" "a b" "a b c d e f" "a" "b" "a b" >"$tmp/cut/src.txt"
printf '%s\n' "x y z" "x" "x y" "x y z w" "x" "y" "x" "y" >"$tmp/cut/tgt.txt"
"$trainer" configs/nmt.yaml data.source="$tmp/cut/src.txt" data.target="$tmp/cut/tgt.txt" data.train=6 data.test=2 \
    data.src_len=4 data.tgt_len=3 model.hidden_units=4 model.attention_units=4 train.epochs=0 train.batch=4 \
    train.attention_samples=0 run.out="$tmp/cut/words" >"$tmp/cut/words.log"
[ "$(grep -c 'were cut' "$tmp/cut/words.log")" -eq 2 ] || { cat "$tmp/cut/words.log"; fail "word_pairs: wanted 2 lines on cuts"; }
grep -qx "data: 2 of 8 sources (train + held-out) longer than src_len = 4 were cut" "$tmp/cut/words.log" \
    || { cat "$tmp/cut/words.log"; fail "word_pairs: sources cut"; }
grep -qx "data: 2 of 8 targets (train + held-out) longer than tgt_len = 3 with </s> were cut" "$tmp/cut/words.log" \
    || { cat "$tmp/cut/words.log"; fail "word_pairs: targets cut"; }
# char_pairs, src_len 10: the first 3 pairs train, the last 2 are held out;
# 11 and 12 characters are cut (one in each split), 10 is not, and the
# unused pair in the middle is not counted.
cat >"$tmp/cut/pairs.json" <<'EOF'
[["ten past 6", "06:10"], ["ten past six", "06:10"], ["six", "06:00"],
 ["half past eleven pm", "23:30"],
 ["ten to five", "04:50"], ["noon", "12:00"]]
EOF
"$trainer" configs/time.yaml data.pairs="$tmp/cut/pairs.json" data.train=3 data.test=2 data.src_len=10 \
    train.epochs=0 train.attention_samples=0 run.out="$tmp/cut/chars" >"$tmp/cut/chars.log"
[ "$(grep -c 'were cut' "$tmp/cut/chars.log")" -eq 1 ] || { cat "$tmp/cut/chars.log"; fail "char_pairs: wanted 1 line on cuts"; }
grep -qx "data: 2 of 5 sources (train + held-out) longer than src_len = 10 were cut" "$tmp/cut/chars.log" \
    || { cat "$tmp/cut/chars.log"; fail "char_pairs: sources cut"; }
grep -h 'were cut' "$tmp/cut/words.log" "$tmp/cut/chars.log" | sed 's/^/ok: /'

"$trainer" plugins >"$tmp/plugins"
cat "$tmp/plugins"
grep -Eq '^time_attn +1\.0\.0 +ABI 1 +/.*/time_attn\.so$' "$tmp/plugins" || fail "trainer plugins"
echo "ok: smoke"
