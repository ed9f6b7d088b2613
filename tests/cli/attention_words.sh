#!/usr/bin/env bash
# tests/cli/attention_words.sh TRAINER RUN_OUT MIN_MASS - the shipped
# sentiment run (accuracy_sentiment, 600 saved held-out sentences) puts at
# least MIN_MASS of its attention on the training split's polar words
# (tools/attention_words.py), far above their share of the tokens.
set -euo pipefail
trainer="$1" out="$2" min="$3"
tsv="$(mktemp)"
trap 'rm -f "$tsv"' EXIT
"$trainer" eval configs/sentiment.yaml run.out="$out" --split train --out "$tsv"
/usr/bin/python3 tools/attention_words.py "$out/attention.h5" --lexicon "$tsv" --min-mass "$min"
