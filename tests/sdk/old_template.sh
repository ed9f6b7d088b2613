#!/usr/bin/env bash
# tests/sdk/old_template.sh TRAINER PLUGIN - a plugin written for an older
# ABI (the template as ABI 1.5 shipped it, tests/plugins/template_abi15.c)
# against today's core: it loads, its gradients check, and it trains.
set -euo pipefail
trainer="$1" plugin="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cfg=examples/plugin_template/luong_attn.yaml
"$trainer" gradcheck "$cfg" model.plugin="$plugin" model.hidden_units=8 model.attentional_units=16 \
    data.src_len=12 --samples 4 >"$tmp/gc" 2>&1 || { cat "$tmp/gc"; fail "gradcheck of the ABI 1.5 template"; }
grep -q "^gradcheck: all .* ok" "$tmp/gc" || { cat "$tmp/gc"; fail "no summary"; }
OMP_NUM_THREADS=1 "$trainer" "$cfg" model.plugin="$plugin" train.epochs=1 data.train=400 data.test=100 \
    train.log_every=2 run.out="$tmp/run" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "training the ABI 1.5 template"; }
grep -q "exact-match" "$tmp/log" || { cat "$tmp/log"; fail "no evaluation"; }
echo "ok: the ABI 1.5 template builds, loads, checks and trains: $(grep -m1 exact-match "$tmp/log")"
