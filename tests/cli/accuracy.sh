#!/usr/bin/env bash
# tests/cli/accuracy.sh TRAINER CONFIG MIN_EXACT OUT - train a shipped config
# as a user would and require its held-out exact-match accuracy >= MIN_EXACT.
set -euo pipefail
trainer="$1" config="$2" min="$3" out="$4"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$trainer" "$config" run.out="$out" --fresh | tee "$log"
acc=$(sed -n 's/^eval: exact-match \([0-9.]*\) .*/\1/p' "$log" | tail -n 1)
[ -n "$acc" ] || { echo "FAIL: no final eval line"; exit 1; }
[ -f "$out/checkpoint.h5" ] || { echo "FAIL: no $out/checkpoint.h5"; exit 1; }
if awk -v a="$acc" -v m="$min" 'BEGIN { exit !(a >= m) }'; then
    echo "ok: exact-match $acc >= $min"
else
    echo "FAIL: exact-match $acc < $min"
    exit 1
fi
