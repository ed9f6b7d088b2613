#!/usr/bin/env bash
# tests/cli/gradcheck.sh TRAINER TEST_PLUGIN_DIR PLANTED_DIR [full|quick] - `trainer gradcheck` (run
# from the repository root): every shipped config passes, with each of its
# attention variants and scorers; the template passes, and its copies with
# one planted error each (tests/CMakeLists.txt: planted_plugin) fail with
# exit 1, naming the broken tensors; bad arguments are one line, exit 2.
# quick (the sanitizer build, 10-20x slower): time, sentiment and one small
# nmt config, the template and its planted copies, the errors.
set -euo pipefail
trainer="$1" plugins="$2" planted="$3" mode="${4:-full}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

pass() { # config [overrides...]: exit 0 and "all N tensors ok"
    local rc=0
    "$trainer" gradcheck "$@" >"$tmp/out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && grep -Eq '^gradcheck: all [0-9]+ tensors ok' "$tmp/out" \
        || { cat "$tmp/out"; fail "gradcheck $* (exit $rc)"; }
    echo "ok: $* -> $(tail -n 1 "$tmp/out")"
}

if [ "$mode" = quick ]; then
    pass configs/time.yaml
    pass configs/sentiment.yaml model.attention=local
    pass configs/nmt.yaml model.hidden_units=16 data.src_len=12 data.tgt_len=14 --samples 2
    pass configs/sentiment_transformer.yaml model.d_model=16 model.ff=32 --samples 2 --step 0.001
    pass configs/nmt_transformer.yaml model.d_model=16 model.ff=24 data.src_len=8 data.tgt_len=8 --samples 2 --step 0.001
else
    for c in time date nmt sentiment cnn_plain cnn_se cnn_cbam cnn_cbam_bn; do
        pass "configs/$c.yaml"
    done
    pass configs/sentiment.yaml model.attention=local
    pass configs/sentiment.yaml model.pool=last model.bidirectional=false
    pass configs/sentiment.yaml --samples 1 --entries 40
    # the Transformer: post-norm's curvature needs a finer step than 0.01
    # (errors of 1-2% there, 0 at 0.001 and 0.0003)
    tf=(configs/sentiment_transformer.yaml --samples 2 --step 0.001)
    pass "${tf[@]}"
    pass "${tf[@]}" model.norm=pre model.activation=gelu model.positions=learned model.pool=first
    pass "${tf[@]}" model.dropout=0 model.heads=1 model.layers=3
    nt=(configs/nmt_transformer.yaml model.d_model=16 model.ff=24 data.src_len=8 data.tgt_len=8 --samples 2 --step 0.001)
    pass "${nt[@]}"
    pass "${nt[@]}" model.norm=pre model.activation=gelu model.positions=learned
    pass "${nt[@]}" model.dropout=0 model.heads=1 model.layers=3 model.decoder_layers=1
    for sc in additive dot general scaled_dot; do
        pass configs/nmt.yaml model.attention=$sc model.hidden_units=16 data.src_len=12 data.tgt_len=14
    done
    pass configs/nmt.yaml model.scorer_plugins="$plugins/luong_attn.so" model.attention=cosine model.hidden_units=16
fi

# the template, then its planted copies, at a square combine.kernel ([2H, A], A = 2H)
small=(model.hidden_units=8 model.attentional_units=16 data.src_len=12 --samples 4)
pass examples/plugin_template/luong_attn.yaml model.plugin="$plugins/luong_attn.so" "${small[@]}"
[ "$mode" = quick ] || for sc in general additive; do
    pass examples/plugin_template/luong_attn.yaml model.plugin="$plugins/luong_attn.so" model.attention=$sc "${small[@]}"
done
planted() { # name must-fail-tensor... -- may-fail-regex: exit 1, each named tensor FAIL (row and summary),
            # no FAIL row outside the may-fail tensors (the error's own and those its gradient flows into)
    local name="$1" rc=0
    shift
    "$trainer" gradcheck examples/plugin_template/luong_attn.yaml model.plugin="$planted/planted_$name.so" \
        "${small[@]}" >"$tmp/out" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || { cat "$tmp/out"; fail "planted $name: exit $rc, wanted 1"; }
    while [ "$1" != -- ]; do
        grep -Eq "^$1 +\[[0-9, ]+\] +[0-9]+ +[0-9.e+-]+ +FAIL" "$tmp/out" && grep -q "^gradcheck: .*FAIL: .*$1" "$tmp/out" \
            || { cat "$tmp/out"; fail "planted $name: $1 not named"; }
        shift
    done
    if grep -E ' FAIL ' "$tmp/out" | grep -Ev "^($2) "; then
        cat "$tmp/out"; fail "planted $name: tensors outside $2 fail"
    fi
    echo "ok: planted $name: $(tail -n 1 "$tmp/out")"
}
planted bias combine.bias -- 'combine\.bias'
planted time_step encoder.bias -- 'encoder\..*'
planted transposed combine.kernel -- 'combine\.kernel'
# a gradient outside the rows tr_param_add_lookup promises: that row named
rc=0
"$trainer" gradcheck configs/sentiment.yaml model.plugin="$planted/planted_stray.so" model.units=8 model.embedding=8 \
    --samples 2 >"$tmp/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -Eq '^embedding .* FAIL  \(row [0-9]+ has a gradient but is no source token of the batch: tr_param_add_lookup\)$' "$tmp/out" \
    && [ "$(grep -cE ' FAIL( |$)' "$tmp/out")" -eq 1 ] || { cat "$tmp/out"; fail "planted stray: exit $rc, wanted 1 and the embedding's stray row named"; }
echo "ok: planted stray: $(grep '^embedding ' "$tmp/out" | sed 's/  */ /g')"

# --checkpoint: at trained parameters (nothing left all-zero to move)
"$trainer" configs/time.yaml train.epochs=1 data.train=200 data.test=0 run.out="$tmp/run" >"$tmp/train.log" 2>&1 \
    || { cat "$tmp/train.log"; fail "training for --checkpoint"; }
pass configs/time.yaml data.train=200 data.test=0 --checkpoint "$tmp/run/checkpoint.h5"
grep -q "; 0 all-zero tensors set to" "$tmp/out" || fail "--checkpoint: the trained biases were moved"

# --tensors: only those rows; a wrong name, bad values: one line, exit 2
"$trainer" gradcheck configs/time.yaml --tensors output.bias,decoder.bias >"$tmp/out"
[ "$(grep -Ec '^(output|decoder)\.bias ' "$tmp/out")" -eq 2 ] && [ "$(grep -c ' ok$' "$tmp/out")" -eq 2 ] \
    || { cat "$tmp/out"; fail "--tensors"; }
bad() { # expected-message args...
    local want="$1" rc=0
    shift
    "$trainer" gradcheck "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF -- "$want" "$tmp/err" \
        || { cat "$tmp/err"; fail "gradcheck $*: wanted exit 2 and '$want' (exit $rc)"; }
    echo "ok: $(cat "$tmp/err")"
}
bad "the model has no tensor 'output.bais'" configs/time.yaml --tensors output.bais
bad "--samples needs a value" configs/time.yaml --samples 0
bad "--samples 100, but data.train has 50 samples" configs/time.yaml data.train=50 --samples 100
bad "unexpected argument '--sample'" configs/time.yaml --sample 3
bad "configs/none.yaml: cannot open" configs/none.yaml
echo "ok: gradcheck"
