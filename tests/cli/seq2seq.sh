#!/usr/bin/env bash
# tests/cli/seq2seq.sh TRAINER TEST_PLUGIN_DIR - the seed's plain seq2seq
# (examples/plain_seq2seq; run from the repository root): at most 200 lines
# of C; its gradients pass `trainer gradcheck`; the shipped config trains
# (5000 steps of the six pairs) and the seed's checks hold with either
# decoder feed (highh -> low, kingh -> queen, and the seed's own man, mans,
# black, upp); 1x1, 1x2 and 2x1 give the same parameters, bit for bit.
set -euo pipefail
trainer="$1" plugins="$2"
export TRAINER="$trainer"   # launch/run.sh runs this binary (the sanitizer build's, under it)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cfg=(examples/plain_seq2seq/seq2seq.yaml model.plugin="$plugins/seq2seq.so")

lines=$(wc -l <examples/plain_seq2seq/seq2seq.c)
[ "$lines" -le 200 ] || fail "seq2seq.c has $lines lines (at most 200)"
echo "ok: seq2seq.c is $lines lines (wc -l)"

"$trainer" gradcheck "${cfg[@]}" --samples 6 >"$tmp/gc" || { cat "$tmp/gc"; fail "gradcheck"; }
echo "ok: $(tail -n 1 "$tmp/gc")"

"$trainer" "${cfg[@]}" run.out="$tmp/run" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "training"; }
grep '^step 5000/5000' "$tmp/log"
for feed in own padding; do
    for pair in highh:low kingh:queen man:women mans:women black:white upp:down; do
        got="$("$trainer" predict "${cfg[@]}" run.out="$tmp/run" model.feed=$feed "${pair%%:*}")"
        [ "$got" = "${pair#*:}" ] || fail "feed $feed: ${pair%%:*} -> '$got', wanted ${pair#*:}"
    done
    echo "ok: feed $feed: highh -> low, kingh -> queen, man -> women, mans -> women, black -> white, upp -> down"
done

# layouts: 3 micro-shards of 2 over 1 or 2 ranks and threads
for layout in 1x1 1x2 2x1; do
    launch/run.sh -n "${layout%x*}" -t "${layout#*x}" "${cfg[@]}" train.epochs=300 train.micro_batch=2 \
        train.checkpoint_every=0 run.out="$tmp/l$layout" >"$tmp/l$layout.log" 2>&1 || { cat "$tmp/l$layout.log"; fail "layout $layout"; }
done
for layout in 1x2 2x1; do
    h5diff -q "$tmp/l1x1/checkpoint.h5" "$tmp/l$layout/checkpoint.h5" /params /params || fail "layout $layout differs from 1x1"
done
echo "ok: 1x2 and 2x1 bitwise identical to 1x1"
