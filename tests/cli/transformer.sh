#!/usr/bin/env bash
# tests/cli/transformer.sh TRAINER - the transformer plugin (run from the
# repository root). Task classify and task seq2seq (on the time data): 1x1,
# 1x2, 2x1 and 4x1 train to the same parameters, bit for bit (dropout on the
# embeddings, the attention weights and the sub-layers included);
# attention.h5 holds each layer's heads (seq2seq: the encoder's, the
# decoder's causal self-attention and its cross-attention) and
# plot_attention.py --layer draws them; predict gives a class or a
# translation and the attention table; greedy decoding with the cached keys
# and values gives the predictions of re-running the prefix; bad options
# and data are one line, exit 2, nothing written.
set -euo pipefail
export TRAINER="$1"   # launch/run.sh runs this binary (the sanitizer build's, under it)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# `cmd | has PATTERN`: grep -q stops reading at the first match and a writer
# still writing (ldd writes line by line) dies of SIGPIPE, which pipefail
# turns into a spurious failure; read everything first
has() { grep -q "$@" <<<"$(cat)"; }
cfg=(configs/sentiment_transformer.yaml data.train=320 data.test=64 data.src_len=24 model.d_model=32 model.ff=64
     train.epochs=1 train.keep_best=none)

layouts() { # name prefix config...: 1x1, 1x2, 2x1, 4x1 into $tmp/<prefix><layout>, the same bits
    local name="$1" p="$2" layout
    shift 2
    for layout in 1x1 1x2 2x1 4x1; do
        launch/run.sh -n "${layout%x*}" -t "${layout#*x}" "$@" run.out="$tmp/$p$layout" >"$tmp/$p$layout.log" 2>&1 \
            || { cat "$tmp/$p$layout.log"; fail "$name layout $layout"; }
    done
    for layout in 1x2 2x1 4x1; do
        h5diff -q "$tmp/${p}1x1/checkpoint.h5" "$tmp/$p$layout/checkpoint.h5" /params /params \
            || fail "$name layout $layout differs from 1x1"
        h5diff -q "$tmp/${p}1x1/checkpoint.h5" "$tmp/$p$layout/checkpoint.h5" /optimizer /optimizer \
            || fail "$name layout $layout: Adam state differs"
    done
    echo "ok: $name 1x2, 2x1, 4x1 bitwise identical to 1x1 (parameters and Adam state)"
}
layouts classify l "${cfg[@]}"
grep -q "^eval: accuracy" "$tmp/l1x1.log" || fail "no evaluation line"

# attention.h5 as every run writes it, plus each layer's self-attention
# (every head); the head grid
/usr/bin/python3 tests/tools/check_attention.py "$tmp/l1x1/attention.h5" --min-groups 1 || fail "check_attention"
/usr/bin/python3 - "$tmp/l1x1/attention.h5" <<'PY' || fail "attention.h5: the layers' maps"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
g = f[f.attrs["latest"]]
for l in (1, 2):
    d = g["layer%d/self_attention" % l]
    assert d.attrs["axes"] == "sample,head,query,key", d.attrs["axes"]
    assert d.shape == (16, 4, 24, 24), d.shape
    w = d[()]
    n = (g["source_tokens"].asstr()[()] != "<pad>").sum(axis=1)  # real tokens, post-padded
    for i in range(16):
        rows = w[i, :, : n[i], :].sum(axis=2)
        assert np.allclose(rows, 1, atol=1e-5), rows
        assert np.all(w[i, :, :, n[i]:] == 0), "a padded key got weight"
print("ok: layer1/self_attention, layer2/self_attention [16, 4, 24, 24], rows sum to 1, padding 0")
PY
/usr/bin/python3 tools/plot_attention.py "$tmp/l1x1/attention.h5" --layer layer2 --samples 1 --out "$tmp/png" >"$tmp/png.log" \
    && [ -s "$(cat "$tmp/png.log")" ] || { cat "$tmp/png.log"; fail "plot_attention --layer"; }
echo "ok: plot_attention.py --layer layer2: $(basename "$(cat "$tmp/png.log")")"

out="$("$TRAINER" predict "${cfg[@]}" run.out="$tmp/l1x1" --attention "what a great phone")"
head -n 1 <<<"$out" | grep -Eq '^(neg|pos|0|1)' || { echo "$out"; fail "predict: no class"; }
echo "$out" | has "great" || { echo "$out"; fail "predict --attention: no table over the words"; }
echo "ok: predict --attention"

bad() { # what message overrides...
    local what="$1" msg="$2" rc=0
    shift 2
    "$TRAINER" "${cfg[@]}" "$@" run.out="$tmp/bad" >"$tmp/bad.out" 2>"$tmp/bad.err" || rc=$?
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -qF "$msg" "$tmp/bad.err" && [ ! -e "$tmp/bad" ] \
        || { cat "$tmp/bad.err"; fail "$what: wanted exit 2 and '$msg' (exit $rc)"; }
}
bad "heads" "model.d_model (32) must be a multiple of model.heads (3)" model.heads=3
bad "task" "model.task: seq2seq reads target sequences (data.kind: word_pairs or char_pairs); use classify" model.task=seq2seq
bad "dropout" "model.dropout=1: must be in [0, 1), got 1" model.dropout=1
bad "layers" "model.layers=17: must be in [1, 16], got 17" model.layers=17
sed -e '/^model:/,/^data:/{/^model:/!{/^data:/!d}}' -e 's/^model:/model:\n  plugin: transformer/' configs/time.yaml >"$tmp/time.yaml"
"$TRAINER" "$tmp/time.yaml" data.pairs=data/time/time_dataset.json data.vocabs=data/time/time_vocabs.json \
    run.out="$tmp/bad" >/dev/null 2>"$tmp/bad.err" && fail "time data"
grep -q "model.task: classify reads a class per sample (data.kind: text_labels); use seq2seq" "$tmp/bad.err" \
    || { cat "$tmp/bad.err"; fail "time data: message"; }
echo "ok: bad options and data refused in one line"

# ---- task seq2seq, on the time data (no <s>: the padding token starts the decoder)
s2s=("$tmp/time.yaml" data.pairs=data/time/time_dataset.json data.vocabs=data/time/time_vocabs.json model.task=seq2seq
     model.d_model=32 model.ff=64 model.label_smoothing=0.1 data.train=400 data.test=100 train.epochs=1 train.lr=0.002
     train.decay=0)
layouts seq2seq s "${s2s[@]}"
grep -q "^eval: exact-match .* token-accuracy (teacher forced) 0\.[0-9]* " "$tmp/s1x1.log" || { cat "$tmp/s1x1.log"; fail "seq2seq: no evaluation line"; }
/usr/bin/python3 tests/tools/check_attention.py "$tmp/s1x1/attention.h5" --min-groups 1 || fail "seq2seq check_attention"
/usr/bin/python3 - "$tmp/s1x1/attention.h5" <<'PY' || fail "seq2seq attention.h5: the layers' maps"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
g = f[f.attrs["latest"]]
n = (g["source_tokens"].asstr()[()] != "<pad>").sum(axis=1)  # real source tokens, post-padded
M = g["weights"].shape[0]
for name, shape in (("encoder/layer1/self_attention", (M, 4, 41, 41)), ("decoder/layer1/self_attention", (M, 4, 5, 5)),
                    ("decoder/layer2/cross_attention", (M, 4, 5, 41))):
    d = g[name]
    assert d.attrs["axes"] == "sample,head,query,key" and d.shape == shape, (name, d.shape)
    w = d[()]
    for i in range(M):
        rows = w[i, :, : (n[i] if name.startswith("encoder") else 5), :].sum(axis=2)
        assert np.allclose(rows, 1, atol=1e-5), (name, rows)
        if name.startswith("decoder/layer1/self"):
            assert np.all(np.triu(w[i], 1) == 0), "a query saw a later position"
        else:
            assert np.all(w[i, :, :, n[i]:] == 0), "a padded key got weight"
# the attention map: the last decoder layer's cross-attention, averaged over heads
assert np.allclose(g["weights"][()], g["decoder/layer2/cross_attention"][()].mean(axis=1), atol=1e-6)
print("ok: encoder/decoder maps (rows sum to 1, padding 0, causal), weights = the heads' mean")
PY
/usr/bin/python3 tools/plot_attention.py "$tmp/s1x1/attention.h5" --layer decoder/layer2/cross_attention --samples 1 \
    --out "$tmp/png" >"$tmp/png.log" && [ -s "$(cat "$tmp/png.log")" ] || { cat "$tmp/png.log"; fail "plot_attention --layer (cross)"; }
echo "ok: plot_attention.py --layer decoder/layer2/cross_attention: $(basename "$(cat "$tmp/png.log")")"
for d in cached full; do
    "$TRAINER" eval "${s2s[@]}" run.out="$tmp/s1x1" model.decode=$d --out "$tmp/eval_$d.tsv" >"$tmp/eval_$d.log" \
        || { cat "$tmp/eval_$d.log"; fail "eval, decode $d"; }
done
[ "$(wc -l <"$tmp/eval_cached.tsv")" -eq 101 ] && cmp -s "$tmp/eval_cached.tsv" "$tmp/eval_full.tsv" \
    || { diff "$tmp/eval_cached.tsv" "$tmp/eval_full.tsv" | head; fail "cached decoding differs from re-running the prefix"; }
echo "ok: greedy decoding with cached keys and values = re-running the prefix (100 predictions)"
out="$("$TRAINER" predict "${s2s[@]}" run.out="$tmp/s1x1" --attention "monday march 3 2003")"
grep -Eq '^.{5}$' <<<"$(head -n 1 <<<"$out")" && has "^attention weights" <<<"$out" \
    || { echo "$out"; fail "seq2seq predict --attention"; }
out="$("$TRAINER" predict "${s2s[@]}" run.out="$tmp/s1x1" --head 2 "monday march 3 2003")"
has "^head 2 of decoder/layer2/cross_attention$" <<<"$out" && has "^attention weights" <<<"$out" \
    || { echo "$out"; fail "predict --head 2"; }
rc=0
"$TRAINER" predict "${s2s[@]}" run.out="$tmp/s1x1" --head 5 "monday" >/dev/null 2>"$tmp/head.err" || rc=$?
[ "$rc" -eq 2 ] && [ "$(cat "$tmp/head.err")" = "trainer: predict --head 5: decoder/layer2/cross_attention has 4 heads" ] \
    || { cat "$tmp/head.err"; fail "predict --head 5: exit $rc"; }
echo "ok: seq2seq predict --attention, --head 2; --head 5 refused"
