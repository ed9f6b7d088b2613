#!/usr/bin/env bash
# tests/cli/nmt.sh TRAINER - a small NMT run end to end (run from the
# repository root): training with each built-in scorer, evaluation with
# BLEU, predict with --attention, attention.h5 readable, and a clear error
# for an unknown scorer.
set -euo pipefail
trainer="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
args=(configs/nmt.yaml data.train=1500 data.test=100 train.epochs=1 model.hidden_units=24
      model.attention_units=16 train.bleu_samples=50 train.log_every=1000 train.attention_samples=3)
for scorer in additive dot general scaled_dot; do
    "$trainer" "${args[@]}" model.attention=$scorer run.out="$tmp/$scorer" >"$tmp/$scorer.log" \
        || { cat "$tmp/$scorer.log"; fail "$scorer: training failed"; }
    grep -Eq "^eval: exact-match [0-9.]+  token-accuracy [0-9.]+  token-accuracy \(teacher forced\) [0-9.]+  bleu-4 [0-9.]+ \(50 sentences\)  on 100 held-out" \
        "$tmp/$scorer.log" || { tail -3 "$tmp/$scorer.log"; fail "$scorer: eval line"; }
    echo "ok: $scorer: $(grep '^eval' "$tmp/$scorer.log")"
done
# (a model this small may well say nothing yet: only the mechanics are tested)
out=$("$trainer" predict "${args[@]}" run.out="$tmp/additive" "new jersey is sometimes quiet during autumn .")
table=$("$trainer" predict "${args[@]}" run.out="$tmp/additive" --attention "new jersey is sometimes quiet during autumn .")
[ "$(echo "$table" | head -n 1)" = "$out" ] || fail "--attention changed the prediction"
[ "$(echo "$table" | sed -n 2p)" = "attention weights in % (each row sums to 100; pad: the weight on padding)" ] \
    || { echo "$table"; fail "--attention: the unit line"; }
echo "$table" | sed -n 3p | grep -Eq "^ +new +jersey +is +sometimes +quiet +during +autumn +\. +pad$" \
    || { echo "$table"; fail "--attention: the columns are the source words"; }
echo "ok: predict -> '$out'"
/usr/bin/python3 tests/tools/check_attention.py "$tmp/additive/attention.h5" || fail "attention.h5"
rc=0
"$trainer" "${args[@]}" model.attention=bahdanau run.out="$tmp/bad" >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "^trainer: configs/nmt.yaml:[0-9]*:[0-9]*: plugin 'nmt_gru': model.attention: no scorer 'bahdanau' (registered: additive, dot, general, scaled_dot)" "$tmp/err" \
    || { cat "$tmp/err"; fail "unknown scorer: exit $rc"; }
echo "ok: $(cat "$tmp/err")"
