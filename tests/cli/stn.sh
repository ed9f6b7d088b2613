#!/usr/bin/env bash
# tests/cli/stn.sh TRAINER - the spatial transformer model (plugins/stn) end
# to end on a slice of rotated Fashion-MNIST (run from the repository root):
# with dropout, random rotations and the rotated test set, the 1x1, 1x2, 2x1
# and 2x2 layouts give bitwise-identical parameters; attention.h5 holds each
# saved test image's theta and transformed image; model.stn=false is the
# classifier alone.
set -euo pipefail
trainer="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export TRAINER="$trainer"
# 512 images in batches of 64 (8 steps of 4 micro-shards)
args=(configs/stn.yaml data.train=512 data.test=128 train.epochs=1 train.log_every=2 train.attention_samples=4)
[ "$(grep -c "^  normalize: true" configs/stn.yaml)" -eq 1 ] || fail "configs/stn.yaml: data.normalize: true expected"
for layout in 1x1 1x2 2x1 2x2; do
    n=${layout%x*} t=${layout#*x}
    launch/run.sh -n "$n" -t "$t" "${args[@]}" run.out="$tmp/$layout" >"$tmp/$layout.log" 2>&1 \
        || { cat "$tmp/$layout.log"; fail "layout $layout did not run"; }
done
grep -q "^model: stn 1.0.0" "$tmp/1x1.log" || { head -3 "$tmp/1x1.log"; fail "model line"; }
grep -Eq "^eval: test accuracy 0\.[0-9]{4}  on 128 held-out images$" "$tmp/1x1.log" || { tail -3 "$tmp/1x1.log"; fail "eval line"; }
for layout in 1x2 2x1 2x2; do
    h5diff -q "$tmp/1x1/checkpoint.h5" "$tmp/$layout/checkpoint.h5" /params /params \
        || fail "layout $layout differs from 1x1"
done
echo "ok: 1x2 2x1 2x2 bitwise identical to 1x1 (dropout, rotations, normalised inputs)"
# data.normalize: the training images' statistics, printed and in the checkpoint (predict needs them)
grep -Eq "^data: normalised per channel by the training images' mean and deviation: 0\.[23][0-9]{3}/0\.3[0-9]{3}$" \
    "$tmp/1x1.log" || { grep "^data" "$tmp/1x1.log"; fail "data.normalize line"; }
h5dump -a /input_mean "$tmp/1x1/checkpoint.h5" | grep -Eq "\(0\): 0\.[23]" || fail "checkpoint: input_mean"
launch/run.sh -n 1 -t 1 "${args[@]}" data.normalize=false run.out="$tmp/raw" >"$tmp/raw.log" 2>&1 \
    || { cat "$tmp/raw.log"; fail "data.normalize=false did not run"; }
h5diff -q "$tmp/1x1/checkpoint.h5" "$tmp/raw/checkpoint.h5" /params /params >/dev/null && fail "data.normalize changed nothing"
# predict by held-out index: the same class with the checkpoint's statistics as the evaluation saw
pred=$("$trainer" predict "${args[@]}" run.out="$tmp/1x1" 0)
got=$(/usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); g=f[f.attrs['latest']]; print(g['predicted_name'][0].decode())" "$tmp/1x1/attention.h5")
[ "${pred% (label:*}" = "$got" ] || fail "predict 0 says '$pred', the evaluation '$got'"
echo "ok: data.normalize: statistics printed and checkpointed, predict agrees with the evaluation ($got)"
/usr/bin/python3 - "$tmp/1x1/attention.h5" "$tmp/1x1/checkpoint.h5" <<'PY' || fail "attention.h5"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
ck = h5py.File(sys.argv[2], "r")
mean, std = ck.attrs["input_mean"][0], ck.attrs["input_std"][0]
g = f[f.attrs["latest"]]
theta, img, out = g["stn/theta"][()], g["image"][()], g["stn/transformed"][()]
assert theta.shape == (4, 2, 3), theta.shape
assert out.shape == (4, 1, 28, 28) and img.shape == (4, 1, 28, 28), (out.shape, img.shape)
assert np.all(np.isfinite(theta)) and np.all(np.isfinite(out))
# 8 steps from the identity: theta still near it, the transformed image near the input
assert np.abs(theta - np.array([[1, 0, 0], [0, 1, 0]])).max() < 0.2, theta
x = (img / 255.0 - mean) / std  # the model's input: normalised (data.normalize)
assert np.abs(out - x).mean() < 0.1, np.abs(out - x).mean()
print("ok: attention.h5: theta", theta.shape, "and transformed images", out.shape)
PY
# the tutorial's figure, and predict --attention: theta and the transformed image as a PNG
/usr/bin/python3 tools/plot_attention.py "$tmp/1x1/attention.h5" --out "$tmp/plots" >"$tmp/plot.out" \
    && [ -s "$(cat "$tmp/plot.out")" ] && grep -q "/stn_[0-9]*\.png$" "$tmp/plot.out" || fail "plot_attention.py: the STN grid"
group=$(/usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['latest'])" "$tmp/1x1/attention.h5")
/usr/bin/python3 tests/tools/write_png.py "$tmp/1x1/attention.h5" "$group" 1 "$tmp/in1.png" >/dev/null
"$trainer" predict "${args[@]}" run.out="$tmp/1x1" --attention "$tmp/in1.png" >"$tmp/pa.out" || fail "predict --attention"
grep -q "^stn/theta \[2x3\]:$" "$tmp/pa.out" && [ "$(grep -cE '^ +-?[0-9]+\.[0-9]{4} +-?[0-9]+\.[0-9]{4} +-?[0-9]+\.[0-9]{4}$' "$tmp/pa.out")" -eq 2 ] \
    || { cat "$tmp/pa.out"; fail "predict --attention: theta"; }
grep -q "^stn/transformed \[1x28x28\]: $tmp/in1.stn_transformed.png (" "$tmp/pa.out" && [ -s "$tmp/in1.stn_transformed.png" ] \
    || { cat "$tmp/pa.out"; fail "predict --attention: the transformed image"; }
/usr/bin/python3 -c "import matplotlib.image as m, sys; a = m.imread(sys.argv[1]); assert a.shape == (28, 28) and a.max() > a.min()" \
    "$tmp/in1.stn_transformed.png" || fail "the transformed PNG"
echo "ok: plot_attention.py's STN figure; predict --attention prints theta and writes the transformed image"
launch/run.sh -n 1 -t 2 "${args[@]}" model.stn=false run.out="$tmp/off" >"$tmp/off.log" 2>&1 \
    || { cat "$tmp/off.log"; fail "model.stn=false did not run"; }
h5ls -r "$tmp/off/checkpoint.h5" | grep -q localization && fail "model.stn=false has localisation parameters"
h5ls -r "$tmp/off/attention.h5" | grep -q stn && fail "model.stn=false wrote stn maps"
echo "ok: model.stn=false: the classifier alone"
