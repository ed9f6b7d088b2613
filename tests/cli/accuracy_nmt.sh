#!/usr/bin/env bash
# tests/cli/accuracy_nmt.sh TRAINER OUT - configs/nmt.yaml for ONE epoch over
# the 100,000 training pairs, as the issue states it: held-out token accuracy
# (teacher forced, non-padding) >= 0.95 and greedy corpus BLEU-4 on 1,000
# held-out sentences >= 0.88 (run from the repository root).
set -euo pipefail
trainer="$1" out="$2"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$trainer" configs/nmt.yaml train.epochs=1 run.out="$out" --fresh | tee "$log"
line=$(grep '^eval: exact-match' "$log" | tail -n 1)
tok=$(sed -n 's/.*token-accuracy (teacher forced) \([0-9.]*\).*/\1/p' <<<"$line")
bleu=$(sed -n 's/.*bleu-4 \([0-9.]*\) (1000 sentences).*/\1/p' <<<"$line")
[ -n "$tok" ] && [ -n "$bleu" ] || { echo "FAIL: no final eval line"; exit 1; }
awk -v t="$tok" -v b="$bleu" 'BEGIN { exit !(t >= 0.95 && b >= 0.88) }' \
    || { echo "FAIL: token accuracy $tok (want >= 0.95), BLEU-4 $bleu (want >= 0.88)"; exit 1; }
echo "ok: after 1 epoch token accuracy $tok >= 0.95, BLEU-4 $bleu >= 0.88"
