#!/usr/bin/env bash
# tests/cli/hdf5_data.sh TRAINER - data.kind hdf5 end to end (run from the
# repository root): the time data and a Fashion-MNIST slice converted with
# h5py into docs/data_hdf5.md's layout train to bitwise the same parameters
# as from their native files (char_pairs, idx_images), also on 2 ranks; a
# small labelled set of our own arrays trains text_attn as a classifier with
# every row and length taken from the file, and `trainer eval` indexes its
# rows; every inconsistency in a file is one stderr line naming the file
# and the dataset, exit 2.
set -euo pipefail
export TRAINER="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
py=/usr/bin/python3 # the system's, with h5py and numpy (Debian's python3-h5py)

# ---- the time data: char_pairs' encoding (docs/config.md) redone in Python
src_len=$(sed -n 's/^  src_len: *\([0-9]*\).*/\1/p' configs/time.yaml)
tgt_len=$(sed -n 's/^  tgt_len: *\([0-9]*\).*/\1/p' configs/time.yaml)
"$py" - data/time/time_dataset.json data/time/time_vocabs.json "$src_len" "$tgt_len" 100 "$tmp/time.h5" <<'PY'
import json, sys
import h5py, numpy as np
pairs = json.load(open(sys.argv[1], encoding="utf-8"))
sv, tv = json.load(open(sys.argv[2], encoding="utf-8"))
tx, ty, held = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
unk = sv.get("<unk>", sv["<pad>"])
def source(s):  # ASCII letters lower-cased, unknown -> <unk>, cut, padded with <pad>
    ids = [sv.get(c.lower() if "A" <= c <= "Z" else c, unk) for c in s][:tx]
    return ids + [sv["<pad>"]] * (tx - len(ids))
def target(s):  # every character in the vocabulary, at most ty, padded with the target's <pad>
    assert len(s) <= ty and all(c in tv for c in s), s
    return [tv[c] for c in s] + [tv.get("<pad>")] * (ty - len(s))
def vocab(v):   # the strings by id
    return np.array(sorted(v, key=v.get), dtype=h5py.string_dtype())
with h5py.File(sys.argv[6], "w") as f:
    # the last `held` pairs as /test: the same held-out pairs as data.test=held
    for name, part in (("train", pairs[:-held]), ("test", pairs[-held:])):
        f[name + "/source"] = np.array([source(a) for a, b in part], dtype=np.int32)
        f[name + "/target"] = np.array([target(b) for a, b in part], dtype=np.int32)
    f["vocab/source"] = vocab(sv)
    f["vocab/target"] = vocab(tv)
PY
t=(configs/time.yaml data.train=500 data.test=100 train.epochs=1 train.batch=50 train.log_every=5)
h=("${t[@]}" data.kind=hdf5 "data.file=$tmp/time.h5" data.tokenizer=chars)
"$TRAINER" "${t[@]}" run.out="$tmp/tj" >"$tmp/tj.log" 2>&1 || { cat "$tmp/tj.log"; fail "time from JSON"; }
"$TRAINER" "${h[@]}" run.out="$tmp/th" >"$tmp/th.log" 2>&1 || { cat "$tmp/th.log"; fail "time from HDF5"; }
grep '^data:' "$tmp/th.log"
grep -q "^data: 500 train / 100 held-out pairs from .*, src_len $src_len, tgt_len $tgt_len, vocabularies 41 / 11$" \
    "$tmp/th.log" || fail "time: the hdf5 data line"
h5diff -q "$tmp/tj/checkpoint.h5" "$tmp/th/checkpoint.h5" /params /params || fail "time: JSON and HDF5 parameters differ"
[ "$(grep '^eval:' "$tmp/tj.log")" = "$(grep '^eval:' "$tmp/th.log")" ] || fail "time: the evaluations differ"
echo "ok: time: JSON and HDF5 give bitwise-identical parameters; $(grep '^eval:' "$tmp/th.log")"
# eval: the same rows but for the index, which is the row in /test
"$TRAINER" eval "${t[@]}" run.out="$tmp/tj" >/dev/null || fail "eval (JSON)"
"$TRAINER" eval "${h[@]}" run.out="$tmp/th" >/dev/null || fail "eval (HDF5)"
cmp -s <(cut -f2- "$tmp/tj/eval_test.tsv") <(cut -f2- "$tmp/th/eval_test.tsv") \
    || { diff <(cut -f2- "$tmp/tj/eval_test.tsv") <(cut -f2- "$tmp/th/eval_test.tsv") | head; fail "time: eval rows differ"; }
[ "$(sed -n '2p;$p' "$tmp/th/eval_test.tsv" | cut -f1 | tr '\n' ' ')" = "0 99 " ] || fail "time: eval's index is not the row"
[ "$(sed -n '2p' "$tmp/tj/eval_test.tsv" | cut -f1)" = 9900 ] || fail "time: the JSON eval's index"
# predict reads text with the characters of /vocab/source
[ "$("$TRAINER" predict "${t[@]}" run.out="$tmp/tj" "Ten past six PM")" = \
  "$("$TRAINER" predict "${h[@]}" run.out="$tmp/th" "Ten past six PM")" ] || fail "time: predict differs"
# 2 ranks read the file at once: still the same bits
launch/run.sh -n 2 -t 1 "${h[@]}" run.out="$tmp/th2" >"$tmp/th2.log" 2>&1 || { cat "$tmp/th2.log"; fail "2 ranks"; }
h5diff -q "$tmp/tj/checkpoint.h5" "$tmp/th2/checkpoint.h5" /params /params || fail "time: 2 ranks differ"
echo "ok: time: eval rows and predict agree; 2 ranks bitwise identical"

# ---- Fashion-MNIST: the IDX files as [N, H, W] uint8 and labels uint8
fm=/usr/share/datasets/fashion-mnist
"$py" - "$fm" 300 100 "$tmp/fm.h5" <<'PY'
import gzip, sys
import h5py, numpy as np
d, ntr, nte = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def idx(name, header, n, size):  # big-endian header, then one byte each
    with gzip.open(f"{d}/{name}", "rb") as g:
        g.read(header)
        return np.frombuffer(g.read(n * size), dtype=np.uint8)
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
with h5py.File(sys.argv[4], "w") as f:
    for split, prefix, n in (("train", "train", ntr), ("test", "t10k", nte)):
        f[split + "/input"] = idx(f"{prefix}-images-idx3-ubyte.gz", 16, n, 784).reshape(n, 28, 28)
        f[split + "/label"] = idx(f"{prefix}-labels-idx1-ubyte.gz", 8, n, 1)
    f["classes"] = np.array(names, dtype=h5py.string_dtype())
PY
c=(configs/cnn_cbam.yaml data.train=256 data.test=64 train.epochs=1 train.batch=128 train.attention_samples=2)
"$TRAINER" "${c[@]}" run.out="$tmp/cj" >"$tmp/cj.log" 2>&1 || { cat "$tmp/cj.log"; fail "Fashion-MNIST from IDX"; }
"$TRAINER" "${c[@]}" data.kind=hdf5 "data.file=$tmp/fm.h5" run.out="$tmp/ch" >"$tmp/ch.log" 2>&1 \
    || { cat "$tmp/ch.log"; fail "Fashion-MNIST from HDF5"; }
grep '^data:' "$tmp/ch.log"
grep -q "^data: 256 train / 64 held-out images (1x28x28) from .*, 10 classes$" "$tmp/ch.log" || fail "images: data line"
h5diff -q "$tmp/cj/checkpoint.h5" "$tmp/ch/checkpoint.h5" /params /params || fail "images: IDX and HDF5 parameters differ"
[ "$(grep '^eval:' "$tmp/cj.log")" = "$(grep '^eval:' "$tmp/ch.log")" ] || fail "images: the evaluations differ"
[ "$("$TRAINER" predict "${c[@]}" run.out="$tmp/cj" 3)" = \
  "$("$TRAINER" predict "${c[@]}" data.kind=hdf5 "data.file=$tmp/fm.h5" run.out="$tmp/ch" 3)" ] || fail "images: predict 3"
echo "ok: Fashion-MNIST: IDX and HDF5 give bitwise-identical parameters; $(grep '^eval:' "$tmp/ch.log")"

# ---- our own labelled arrays: every row, src_len and tgt_len from the file
"$py" - "$tmp/labels.h5" <<'PY'
import sys
import h5py, numpy as np
vocab = ["<pad>", "<unk>", "the", "movie", "is", "not", "good", "great", "fun", "bad", "awful", "boring"]
pos, neg = ["good", "great", "fun"], ["bad", "awful", "boring"]
rng = np.random.default_rng(7)
def rows(n):  # "the movie is [not] WORD", padded to 6; the label: positive unless (not good) or (bad)
    src, lab = np.zeros((n, 6), dtype=np.int64), np.zeros(n, dtype=np.int64)
    for i in range(n):
        neg_word, negate = rng.integers(2), rng.integers(2) if i % 3 == 0 else 0
        words = ["the", "movie", "is"] + (["not"] if negate else []) + [(neg if neg_word else pos)[rng.integers(3)]]
        src[i, :len(words)] = [vocab.index(w) for w in words]
        lab[i] = int(neg_word == negate)
    return src, lab
with h5py.File(sys.argv[1], "w") as f:
    for name, n in (("train", 48), ("test", 16)):
        f[name + "/source"], f[name + "/label"] = rows(n)
    f["vocab/source"] = np.array(vocab, dtype=h5py.string_dtype())
    f["classes"] = np.array(["neg", "pos"], dtype=h5py.string_dtype())
PY
# the shipped recipe with the data section replaced: no train, test or src_len
sed -e '/^data:/,/^train:/{/^data:/!{/^train:/!d}}' \
    -e "s|^data:|data:\n  kind: hdf5\n  file: $tmp/labels.h5\n  tokenizer: words|" configs/sentiment.yaml >"$tmp/labels.yaml"
grep -q "train:\|src_len" <(sed -n '/^data:/,/^train:/p' "$tmp/labels.yaml" | sed '$d') && fail "labels.yaml still sets rows"
l=("$tmp/labels.yaml" model.embedding=8 model.units=8 model.dropout=0 train.epochs=3 train.batch=8 train.micro_batch=4
   train.log_every=6 train.lr=0.01 run.out="$tmp/lab")
"$TRAINER" "${l[@]}" >"$tmp/lab.log" 2>&1 || { cat "$tmp/lab.log"; fail "labelled arrays"; }
grep -E '^(data|eval):' "$tmp/lab.log"
grep -q "^data: 48 train / 16 held-out .*, src_len 6, .*" "$tmp/lab.log" || fail "labels: data line"
grep -Eq '^eval: accuracy [0-9.]{6}  macro-F1 [0-9.]{6}  on 16 held-out$' "$tmp/lab.log" || fail "labels: not a classifier"
[ -f "$tmp/lab/best.h5" ] || fail "labels: keep_best (from the recipe) wrote no best.h5"
"$TRAINER" eval "${l[@]}" >"$tmp/lab_eval.log" || fail "labels: trainer eval"
cat "$tmp/lab_eval.log"
grep -q "^eval (test, last): accuracy [0-9.]* on 16 samples -> $tmp/lab/eval_test.tsv$" "$tmp/lab_eval.log" \
    || fail "labels: eval line"
"$py" - "$tmp/lab/eval_test.tsv" "$tmp/labels.h5" <<'PY' || fail "labels: eval rows"
import sys
import h5py
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
assert rows[0] == ["index", "source", "target", "prediction", "probability"], rows[0]
with h5py.File(sys.argv[2], "r") as f:
    vocab = [w.decode() for w in f["vocab/source"][()]]
    classes = [c.decode() for c in f["classes"][()]]
    src, lab = f["test/source"][()], f["test/label"][()]
    assert len(rows) == 1 + len(lab), len(rows)
    for i, (index, text, target, pred, p) in enumerate(rows[1:]):
        # the index is the row of /test; the source and target are that row's
        assert int(index) == i, (i, index)
        assert text == " ".join(vocab[t] for t in src[i] if t != 0), (i, text)
        assert target == classes[lab[i]], (i, target)
        assert pred in classes and 0.5 <= float(p) <= 1.0, (pred, p)
print("ok: eval rows are the rows of /test, with their tokens and classes")
PY
out="$("$TRAINER" predict "${l[@]}" "The movie is GREAT!")"
echo "$out" | grep -Eqx '(neg|pos) \(p = [0-9.]+\)' || fail "labels: predict '$out'"
echo "ok: labelled arrays: a classifier; trainer eval; predict -> $out"

# ---- errors: one line naming the file and the dataset, exit 2
"$py" - "$tmp/labels.h5" "$tmp" <<'PY'
import shutil, sys
import h5py, numpy as np
base, d = sys.argv[1], sys.argv[2]
def variant(name, change):
    shutil.copy(base, f"{d}/{name}.h5")
    with h5py.File(f"{d}/{name}.h5", "a") as f:
        change(f)
def put(f, key, value):
    del f[key]
    f[key] = value
variant("nolabel", lambda f: f.__delitem__("train/label"))
variant("notestlabel", lambda f: f.__delitem__("test/label"))
variant("float", lambda f: put(f, "train/source", f["train/source"][()].astype(np.float32)))
variant("rank", lambda f: put(f, "train/label", f["train/label"][()].reshape(-1, 1)))
variant("rows", lambda f: put(f, "train/label", f["train/label"][:47]))
def bad_id(f):
    s = f["train/source"][()]
    s[3, 2] = 12
    put(f, "train/source", s)
variant("id", bad_id)
def bad_label(f):
    s = f["test/label"][()]
    s[5] = 2
    put(f, "test/label", s)
variant("label", bad_label)
variant("novocab", lambda f: f.__delitem__("vocab/source"))
variant("nopad", lambda f: put(f, "vocab/source", np.array(["<unk>"] + ["w%d" % i for i in range(11)],
                                                           dtype=h5py.string_dtype())))
variant("dup", lambda f: put(f, "vocab/source", np.array(["<pad>", "<unk>", "the", "movie"] + ["the"] * 8, dtype="S")))
variant("width", lambda f: put(f, "test/source", f["test/source"][:, :5]))
variant("notest", lambda f: f.__delitem__("test"))
variant("oneclass", lambda f: put(f, "classes", np.array(["pos"], dtype=h5py.string_dtype())))
variant("both", lambda f: f.__setitem__("train/target", f["train/source"][()]))
PY
bad() { # name expected-message file [overrides...]
    local name="$1" msg="$2" file="$3" rc=0
    shift 3
    "$TRAINER" "${l[@]}" "data.file=$file" run.out="$tmp/bad" "$@" >"$tmp/bad.log" 2>"$tmp/bad.err" || rc=$?
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -qF "$msg" "$tmp/bad.err" \
        || { cat "$tmp/bad.err"; fail "$name: wanted exit 2 and one line with '$msg' (exit $rc)"; }
    echo "ok: $name: $(cat "$tmp/bad.err")"
}
bad "a missing dataset" "$tmp/nolabel.h5: no dataset /train/target or /train/label" "$tmp/nolabel.h5"
bad "a split without the arrays of /train" "$tmp/notestlabel.h5: no dataset /test/label" "$tmp/notestlabel.h5"
bad "a wrong dtype" "$tmp/float.h5: /train/source: float32, expected integer ids" "$tmp/float.h5"
bad "a wrong rank" "$tmp/rank.h5: /train/label: rank 2 [48, 1], expected [N]" "$tmp/rank.h5"
bad "mismatched N" "$tmp/rows.h5: /train/label has 47 rows but /train/source has 48" "$tmp/rows.h5"
bad "an id outside the vocabulary" "$tmp/id.h5: /train/source[3, 2] = 12 is not an id of /vocab/source (12 strings: 0..11)" \
    "$tmp/id.h5"
bad "a label outside the classes" "$tmp/label.h5: /test/label[5] = 2 is not a class of /classes (2 strings: 0..1)" \
    "$tmp/label.h5"
bad "no vocabulary" "$tmp/novocab.h5: no dataset /vocab/source: the source vocabulary" "$tmp/novocab.h5"
bad "no <pad>" "$tmp/nopad.h5: /vocab/source has no '<pad>' token" "$tmp/nopad.h5"
bad "a repeated token" "$tmp/dup.h5: /vocab/source[4] 'the' repeats /vocab/source[2]" "$tmp/dup.h5"
bad "one class" "$tmp/oneclass.h5: /classes: 1 strings, expected at least two classes" "$tmp/oneclass.h5"
bad "target and label" "$tmp/both.h5: both /train/target and /train/label" "$tmp/both.h5"
bad "splits of other widths" "$tmp/width.h5: /test/source is [16, 5] but /train/source is [48, 6]" "$tmp/width.h5"
bad "train asks too many rows" "$tmp/labels.h5: /train/source has 48 rows, data.train = 49 asks for more" \
    "$tmp/labels.h5" data.train=49
bad "test asks too many rows" "$tmp/labels.h5: /test/source has 16 rows, data.test = 17 asks for more" \
    "$tmp/labels.h5" data.test=17
bad "test rows and no /test" "$tmp/notest.h5: no group /test, but data.test = 4 asks for held-out rows" \
    "$tmp/notest.h5" data.test=4
bad "keep_best and no /test" "$tmp/notest.h5: train.keep_best needs held-out rows to evaluate" "$tmp/notest.h5"
bad "src_len disagrees" "$tmp/labels.h5: /train/source has 6 ids per row, data.src_len says 7" "$tmp/labels.h5" data.src_len=7
bad "tgt_len for labels" "$tmp/labels.h5: /train/label holds one class per sample, data.tgt_len says 2" \
    "$tmp/labels.h5" data.tgt_len=2
bad "flip without images" "$tmp/labels.h5: data.flip and data.shift apply to images" "$tmp/labels.h5" data.flip=true
bad "min_count" "data.min_count and data.max_size apply only to data.kind: text_labels" "$tmp/labels.h5" data.min_count=2
bad "a missing file" "cannot open dataset file '$tmp/none.h5'" "$tmp/none.h5"
bad "not HDF5" "$tmp/labels.yaml: not an HDF5 file" "$tmp/labels.yaml"
rc=0
"$TRAINER" configs/cnn_cbam.yaml data.kind=hdf5 run.out="$tmp/bad" >/dev/null 2>"$tmp/bad.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "missing required key 'data.file'" "$tmp/bad.err" || fail "data.file required: $(cat "$tmp/bad.err")"
"$py" - "$tmp/fm.h5" "$tmp/fmfloat.h5" <<'PY'
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "w") as b:
    for k in ("train", "test"):
        b[k + "/input"] = a[k + "/input"][()].astype(np.float32) / 255
        b[k + "/label"] = a[k + "/label"][()]
    b["classes"] = a["classes"][()]
PY
rc=0
"$TRAINER" "${c[@]}" data.kind=hdf5 "data.file=$tmp/fmfloat.h5" run.out="$tmp/bad" >/dev/null 2>"$tmp/bad.err" || rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -qF "$tmp/fmfloat.h5: /train/input: float32, expected uint8 pixels" \
    "$tmp/bad.err" || fail "float images: $(cat "$tmp/bad.err")"
echo "ok: float images: $(cat "$tmp/bad.err")"
echo "ok: hdf5_data"
