#!/usr/bin/env bash
# tests/cli/attention.sh TRAINER - a run's attention.h5 and metrics.csv are
# readable without this project's code: h5py reads the maps back (rows sum
# to 1), h5dump -H shows the documented layout, and the tools plot them
# (run from the repository root).
set -euo pipefail
trainer="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$trainer" configs/time.yaml data.train=500 data.test=40 train.batch=50 train.epochs=3 train.eval_every=1 \
    train.attention_samples=4 run.out="$tmp/run" >"$tmp/log"
a="$tmp/run/attention.h5"
/usr/bin/python3 tests/tools/check_attention.py "$a" --min-groups 3 || fail "check_attention"
h5dump -H "$a" >"$tmp/h5"
for want in 'GROUP "step_00000030"' 'DATASET "weights"' 'DATASET "source_tokens"' 'DATASET "target_tokens"' \
            'DATASET "predicted_tokens"' 'DATASET "sample_index"' 'ATTRIBUTE "latest"' 'ATTRIBUTE "axes"' \
            'DATASPACE  SIMPLE { ( 4, 5, 41 ) / ( 4, 5, 41 ) }'; do
    grep -qF "$want" "$tmp/h5" || fail "h5dump -H: no $want"
done
echo "ok: h5dump -H shows the documented layout"
/usr/bin/python3 tools/plot_attention.py "$a" --out "$tmp/png" >"$tmp/plot.log" || fail "plot_attention"
[ "$(ls "$tmp/png"/attention_*.png | wc -l)" -eq 4 ] || fail "plot_attention: wanted 4 PNGs"
/usr/bin/python3 tools/plot_metrics.py "$tmp/run/metrics.csv" --out "$tmp/metrics.png" >/dev/null || fail "plot_metrics"
[ -s "$tmp/metrics.png" ] || fail "plot_metrics: no PNG"
echo "ok: the tools plot the maps and the metrics"
