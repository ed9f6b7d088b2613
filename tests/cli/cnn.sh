#!/usr/bin/env bash
# tests/cli/cnn.sh TRAINER - the image model end to end on a slice of
# Fashion-MNIST (run from the repository root): CBAM + batch norm trained
# on 1x1, 1x2, 2x1 and 2x2 layouts gives bitwise-identical parameters and
# running statistics; the eval line; attention.h5's image layout; predict
# by held-out index and by PNG file agree; and the data errors.
set -euo pipefail
trainer="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# `cmd | has PATTERN`: grep -q stops reading at the first match and a writer
# still writing (ldd writes line by line) dies of SIGPIPE, which pipefail
# turns into a spurious failure; read everything first
has() { grep -q "$@" <<<"$(cat)"; }
export TRAINER="$trainer"
# 600 images in batches of 128 (5 steps, the last of 88 = 3 micro-shards),
# with random flips, shifts and rotations (keyed by sample, so the same on
# any layout), the held-out images rotated by data.test_rotate
args=(configs/cnn_cbam_bn.yaml data.train=600 data.test=200 train.epochs=1 train.log_every=2
      train.attention_samples=4 data.flip=true data.shift=2 data.rotate=15 data.test_rotate=30)
for layout in 1x1 1x2 2x1 2x2; do
    n=${layout%x*} t=${layout#*x}
    launch/run.sh -n "$n" -t "$t" "${args[@]}" run.out="$tmp/$layout" >"$tmp/$layout.log" 2>&1 \
        || { cat "$tmp/$layout.log"; fail "layout $layout did not run"; }
done
grep -Eq "^data: 600 train / 200 held-out images \(1x28x28\) from /usr/share/datasets/fashion-mnist, 10 classes$" \
    "$tmp/1x1.log" || { head -5 "$tmp/1x1.log"; fail "data line"; }
grep -Eq "^eval: (epoch 1  )?test accuracy 0\.[0-9]{4}  on 200 held-out images$" "$tmp/1x1.log" \
    || { tail -3 "$tmp/1x1.log"; fail "eval line"; }
for layout in 1x2 2x1 2x2; do
    h5diff -q "$tmp/1x1/checkpoint.h5" "$tmp/$layout/checkpoint.h5" /params /params \
        || fail "layout $layout differs from 1x1"
done
echo "ok: 1x2 2x1 2x2 bitwise identical to 1x1 (weights and batch-norm running statistics)"
launch/run.sh -n 1 -t 1 "${args[@]}" data.flip=false data.shift=0 data.rotate=0 data.test_rotate=0 \
    run.out="$tmp/plain" >"$tmp/plain.log" 2>&1 || { cat "$tmp/plain.log"; fail "the run without augmentation did not run"; }
h5diff -q "$tmp/1x1/checkpoint.h5" "$tmp/plain/checkpoint.h5" /params /params >/dev/null \
    && fail "data.flip/data.shift/data.rotate changed nothing"
# data.test_rotate: the same rotated held-out images for another seed, not the plain ones
launch/run.sh -n 1 -t 1 "${args[@]}" run.seed=77 run.out="$tmp/seed77" >"$tmp/seed77.log" 2>&1 \
    || { cat "$tmp/seed77.log"; fail "the run with another seed did not run"; }
ag=$(/usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['latest'])" "$tmp/1x1/attention.h5")
h5diff -q "$tmp/1x1/attention.h5" "$tmp/seed77/attention.h5" "/$ag/image" "/$ag/image" \
    || fail "data.test_rotate: another run.seed saw other held-out images"
h5diff -q "$tmp/1x1/attention.h5" "$tmp/plain/attention.h5" "/$ag/image" "/$ag/image" >/dev/null \
    && fail "data.test_rotate=30 left the held-out images as they were"
echo "ok: data.test_rotate: the same rotated test images for any seed"
h5dump -d /params/block1.bn.running_var "$tmp/1x1/checkpoint.h5" | has "1, 1, 1" \
    && fail "the running variance never moved from 1"
/usr/bin/python3 tests/tools/check_image_attention.py "$tmp/1x1/attention.h5" --attention cbam --samples 4 \
    || fail "attention.h5"
/usr/bin/python3 tools/plot_attention.py "$tmp/1x1/attention.h5" --samples 2 --out "$tmp/plots" >/dev/null \
    && [ -s "$tmp/plots/attention_00000005_1.png" ] || fail "plot_attention.py on an image model's maps"

# predict: a held-out index, and the same image as a PNG file
p=(configs/cnn_cbam_bn.yaml data.train=600 data.test=200 data.test_rotate=30 run.out="$tmp/1x1")
by_index=$("$trainer" predict "${p[@]}" 2)
echo "$by_index" | grep -Eq "^[A-Za-z/ -]+ \(label: [A-Za-z/ -]+\)$" || fail "predict by index: '$by_index'"
group=$(/usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['latest'])" "$tmp/1x1/attention.h5")
/usr/bin/python3 tests/tools/write_png.py "$tmp/1x1/attention.h5" "$group" 2 "$tmp/img2.png"
by_png=$("$trainer" predict "${p[@]}" "$tmp/img2.png")
[ "$by_png" = "${by_index% (label:*}" ] || fail "predict by PNG '$by_png' != by index '$by_index'"
echo "ok: predict 2 -> $by_index; the PNG -> $by_png"
"$trainer" predict "${p[@]}" --attention 2 | has "^block3/spatial \[7x7\]" || fail "predict --attention"

# errors: one line each, nothing written
expect() { # expect RC PATTERN CMD...
    local want="$1" pat="$2"; shift 2
    local rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq "$want" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "$pat" "$tmp/err" \
        || { cat "$tmp/err"; fail "expected exit $want and '$pat', got $rc"; }
    echo "ok: $(cat "$tmp/err")"
}
expect 2 "dataset-fashion-mnist: apt-get install dataset-fashion-mnist" \
    "$trainer" configs/cnn_plain.yaml data.dir=/usr/share/datasets/fashion-mnist-missing run.out="$tmp/e1"
expect 2 "check data.dir" "$trainer" configs/cnn_plain.yaml data.dir="$tmp/nowhere" run.out="$tmp/e2"
mkdir "$tmp/bad"
for f in /usr/share/datasets/fashion-mnist/*.gz; do ln -s "$f" "$tmp/bad/"; done
rm "$tmp/bad/t10k-images-idx3-ubyte.gz"
ln -s /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz "$tmp/bad/t10k-images-idx3-ubyte.gz"
expect 2 "t10k-images-idx3-ubyte.gz: not an IDX image file" \
    "$trainer" configs/cnn_plain.yaml data.dir="$tmp/bad" run.out="$tmp/e3"
rm "$tmp/bad/train-images-idx3-ubyte.gz"
head -c 100000 /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz >"$tmp/bad/train-images-idx3-ubyte.gz"
expect 2 "train-images-idx3-ubyte.gz: truncated or corrupt" \
    "$trainer" configs/cnn_plain.yaml data.dir="$tmp/bad" data.test=0 run.out="$tmp/e4"
expect 2 "data.train (70000) exceeds the 60000 images" \
    "$trainer" configs/cnn_plain.yaml data.train=70000 run.out="$tmp/e5"
printf 'not a png' >"$tmp/x.png"
expect 2 "x.png: cannot read as PNG" "$trainer" predict "${p[@]}" "$tmp/x.png"
expect 2 "image index 500: the held-out set has 200 images" "$trainer" predict "${p[@]}" 500
sed -e '/^model:/,/^data:/{/^model:/!{/^data:/!d}}' -e 's/^model:/model:\n  plugin: cnn_attn/' configs/time.yaml \
    >"$tmp/time_cnn.yaml"
expect 2 "cnn_attn trains on images: set data.kind: idx_images" \
    "$trainer" "$tmp/time_cnn.yaml" data.pairs=data/time/time_dataset.json data.vocabs=data/time/time_vocabs.json \
    run.out="$tmp/e6"
expect 2 "data.shift must be less than the images' 28x28, got 28" \
    "$trainer" configs/cnn_plain.yaml data.shift=28 run.out="$tmp/e7"
expect 2 "data.flip and data.shift apply only to data.kind: idx_images" \
    "$trainer" configs/time.yaml data.flip=true run.out="$tmp/e8"
expect 2 "model.label_smoothing=1: must be in \[0, 1), got 1" \
    "$trainer" configs/cnn_plain.yaml model.label_smoothing=1 run.out="$tmp/e9"
expect 2 "data.rotate and data.test_rotate apply only to data.kind: idx_images" \
    "$trainer" configs/time.yaml data.rotate=10 run.out="$tmp/e10"
expect 2 "data.rotate and data.test_rotate are degrees each way: at most 180" \
    "$trainer" configs/cnn_plain.yaml data.test_rotate=200 run.out="$tmp/e11"
expect 2 "data.normalize applies only to data.kind: idx_images" \
    "$trainer" configs/time.yaml data.normalize=true run.out="$tmp/e12"
for e in e1 e2 e3 e4 e5 e6 e7 e8 e9 e10 e11 e12; do [ ! -e "$tmp/$e" ] || fail "$e: a failed start wrote $tmp/$e"; done
