#!/usr/bin/env bash
# tests/cli/accuracy.sh TRAINER CONFIG MIN_EXACT OUT [key=value ...] - train a
# shipped config as a user would and require its held-out exact-match
# accuracy (classifiers: their accuracy) of the final model >= MIN_EXACT. TRAINER may be a
# command line with arguments, e.g. "launch/run.sh -n 2".
set -euo pipefail
trainer="$1" config="$2" min="$3" out="$4"
shift 4
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
read -r -a cmd <<< "$trainer"
"${cmd[@]}" "$config" run.out="$out" --fresh "$@" | tee "$log"
acc=$(sed -n -e 's/^eval: exact-match \([0-9.]*\) .*/\1/p' -e 's/^eval: test accuracy \([0-9.]*\) .*/\1/p' \
      -e 's/^eval: accuracy \([0-9.]*\) .*/\1/p' "$log" | tail -n 1)
[ -n "$acc" ] || { echo "FAIL: no final eval line"; exit 1; }
[ -f "$out/checkpoint.h5" ] || { echo "FAIL: no $out/checkpoint.h5"; exit 1; }
if awk -v a="$acc" -v m="$min" 'BEGIN { exit !(a >= m) }'; then
    echo "ok: accuracy $acc >= $min"
else
    echo "FAIL: accuracy $acc < $min"
    exit 1
fi
