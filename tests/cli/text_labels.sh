#!/usr/bin/env bash
# tests/cli/text_labels.sh TRAINER - data.kind text_labels end to end
# (run from the repository root): files of text<TAB>label, the words
# tokenizer, min_count, the classes, the split, classification metrics,
# predict with the class probability and the attention over words,
# attention.h5's sample_index as the line in the files, one-line data
# errors, and bitwise-identical parameters for 1x1, 1x2 and 2x1 with dropout.
set -euo pipefail
export TRAINER="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# `cmd | has PATTERN`: grep -q stops reading at the first match and a writer
# still writing (ldd writes line by line) dies of SIGPIPE, which pipefail
# turns into a spurious failure; read everything first
has() { grep -q "$@" <<<"$(cat)"; }

# Two files; quotes are ordinary characters; the text may hold tabs (the
# label follows the last one); a blank line is skipped but still counted.
pos=("I loved it, truly!" "don't stop: it's great" "great \"value great" "it's good, loved	it" "truly great")
neg=("I hated it." "it's bad, don't buy" "bad \"value" "awful: just bad" "hated it, awful")
: >"$tmp/a.txt"
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
    printf '%s\tpos\n%s\tneg\n' "${pos[$((i % 5))]}" "${neg[$((i % 5))]}" >>"$tmp/a.txt"
done
printf '\n' >>"$tmp/a.txt"
for i in 0 1 2 3; do printf '%s\tneg\n%s\tpos\n' "${neg[$i]}" "${pos[$i]}" >>"$tmp/b.txt"; done
printf 'great great great great great great great\tpos\n' >>"$tmp/b.txt"   # 7 tokens: cut at src_len 6
# 24 + 9 = 33 labelled lines (line 25 of a.txt is blank); 32 of them used
cfg=(configs/sentiment.yaml "data.files=$tmp/a.txt,$tmp/b.txt" data.train=24 data.test=8 data.src_len=6
     data.min_count=2 model.embedding=8 model.units=8 model.dropout=0.2 train.epochs=2 train.batch=8
     train.micro_batch=2 train.log_every=3 train.attention_samples=8)

"$TRAINER" "${cfg[@]}" run.out="$tmp/run" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "training"; }
cat "$tmp/log"
grep -q "^data: 24 train / 8 held-out labelled lines from $tmp/a.txt,$tmp/b.txt, src_len 6, vocabulary [0-9]*, 2 classes$" \
    "$tmp/log" || fail "data line"
grep -Eq "^data: [0-9]+ of 32 sources \(train \+ held-out\) longer than src_len = 6 were cut$" "$tmp/log" \
    || fail "the cut sources are not reported"
grep -Eq '^eval: epoch 1  accuracy [0-9.]{6}  macro-F1 [0-9.]{6}  on 8 held-out$' "$tmp/log" || fail "per-epoch eval line"
grep -Eq '^eval: accuracy [0-9.]{6}  macro-F1 [0-9.]{6}  on 8 held-out$' "$tmp/log" || fail "final eval line"
grep -q "bleu\|exact-match" "$tmp/log" && fail "seq2seq metrics for a classifier"
grep -Eq '^  class +precision +recall +f1 +support$' "$tmp/log" || fail "per-class header"
# the classes in byte order, supports summing to the held-out count
[ "$(grep -E '^  (neg|pos) +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+$' "$tmp/log" | awk '{print $1}' | tr '\n' ' ')" = "neg pos " ] \
    || fail "per-class rows (neg, pos)"
[ "$(grep -E '^  (neg|pos) +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+$' "$tmp/log" | awk '{s += $5} END {print s}')" = 8 ] \
    || fail "supports do not add up to 8"
[ "$(grep -A2 '^  confusion' "$tmp/log" | tail -n 2 | awk '{s += $2 + $3} END {print s}')" = 8 ] \
    || fail "the confusion matrix does not add up to 8"
echo "ok: trained; data line, eval lines, per-class table, confusion"

# metrics.csv: the eval rows carry accuracy and macro_f1, no BLEU
tail -n 1 "$tmp/run/metrics.csv" | grep -Eq '^[0-9]+,2,,,,,[0-9.]+,[0-9.]+,,[0-9.]+,$' \
    || fail "metrics.csv eval row: $(tail -n 1 "$tmp/run/metrics.csv")"

# predict: the class and its probability; the attention over the tokens
out="$("$TRAINER" predict "${cfg[@]}" run.out="$tmp/run" "Don't stop, it's GREAT!")"
echo "$out" | grep -Eqx '(neg|pos) \(p = (0\.[5-9][0-9]{3}|1\.0000)\)' || fail "predict: '$out'"
table="$("$TRAINER" predict "${cfg[@]}" run.out="$tmp/run" --attention "Don't stop, it's GREAT!")"
echo "$table"
[ "$(echo "$table" | sed -n 2p)" = "attention weights in % over the input's 6 tokens (they sum to 100)" ] \
    || fail "--attention: unit line"
# the words tokenizer: apostrophes inside words kept, punctuation split off, lower-cased
[ "$(echo "$table" | tail -n 6 | awk '{print $1}' | tr '\n' ' ')" = "don't stop , it's great ! " ] \
    || fail "--attention: tokens"
echo "$table" | tail -n 6 | awk '{ s += $2 } END { if (s < 99.5 || s > 100.5) exit 1 }' || fail "weights do not sum to 100"
# stdin: one answer per line
[ "$(printf 'truly great\nawful: just bad\n' | "$TRAINER" predict "${cfg[@]}" run.out="$tmp/run" - | wc -l)" -eq 2 ] \
    || fail "predict from stdin"
echo "ok: predict -> $out; tokens and weights"

# attention.h5: sample_index is the line (over both files, from 0) whose
# label is the stored label
/usr/bin/python3 - "$tmp/run/attention.h5" "$tmp/a.txt" "$tmp/b.txt" <<'PY' || fail "attention.h5 sample_index"
import sys, h5py
lines = []
for path in sys.argv[2:]:
    lines += open(path, encoding="utf-8").read().split("\n")[:-1]
with h5py.File(sys.argv[1], "r") as f:
    g = f[sorted(k for k in f.keys() if k.startswith("step_"))[-1]]
    idx = g["sample_index"][()]
    tgt = g["target_tokens"][()]
    assert len(idx) == 8, idx
    assert len(set(idx.tolist())) == 8, idx
    for i, t in zip(idx, tgt):
        label = lines[i].rsplit("\t", 1)[1]
        t = t[0].decode() if isinstance(t[0], bytes) else t[0]
        assert label == t, (i, lines[i], t)
    print("ok: attention.h5 sample_index", idx.tolist())
PY

# trainer eval: one row per held-out sample, indexed by file:line, the same
# accuracy as the run's final evaluation; the training split too
"$TRAINER" eval "${cfg[@]}" run.out="$tmp/run" >"$tmp/eval.log" || fail "trainer eval"
cat "$tmp/eval.log"
final=$(sed -n 's/^eval: accuracy \([0-9.]*\) .*/\1/p' "$tmp/log")
grep -q "^eval (test, last): accuracy $final on 8 samples -> $tmp/run/eval_test.tsv$" "$tmp/eval.log" \
    || fail "eval's accuracy is not the run's final $final"
[ "$(head -n 1 "$tmp/run/eval_test.tsv")" = "$(printf 'index\tsource\ttarget\tprediction\tprobability')" ] || fail "eval header"
[ "$(wc -l <"$tmp/run/eval_test.tsv")" -eq 9 ] || fail "eval: 8 rows wanted"
/usr/bin/python3 - "$tmp/run/eval_test.tsv" <<'PY' || fail "eval rows"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")][1:]
for where, src, tgt, pred, p in rows:
    path, line = where.rsplit(":", 1)
    text, label = open(path, encoding="utf-8").read().split("\n")[int(line) - 1].rsplit("\t", 1)
    assert label == tgt, (where, label, tgt)
    assert src == text.replace("\t", " "), (where, src, text)  # the line as written (tabs as spaces)
    assert pred in ("neg", "pos") and 0.5 <= float(p) <= 1.0, (pred, p)
print("ok: eval rows point at their lines:", ", ".join(r[0].rsplit("/", 1)[1] for r in rows))
PY
"$TRAINER" eval "${cfg[@]}" run.out="$tmp/run" --split train --out "$tmp/train.tsv" | has "^eval (train, last): accuracy [0-9.]* on 24 samples" \
    && [ "$(wc -l <"$tmp/train.tsv")" -eq 25 ] || fail "eval --split train"
rc=0; "$TRAINER" eval "${cfg[@]}" run.out="$tmp/run" --split dev 2>"$tmp/bad.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "split takes 'test' or 'train', not 'dev'" "$tmp/bad.err" || fail "eval --split dev"
echo "ok: trainer eval"

# data errors: one line, exit 2
bad() { # name expected-message data.files
    local rc=0
    "$TRAINER" "${cfg[@]}" "data.files=$3" run.out="$tmp/bad" >"$tmp/bad.log" 2>"$tmp/bad.err" || rc=$?
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -qF "$2" "$tmp/bad.err" \
        || { cat "$tmp/bad.err"; fail "$1: wanted exit 2 and one line with '$2' (exit $rc)"; }
    echo "ok: $1: $(cat "$tmp/bad.err")"
}
cp "$tmp/a.txt" "$tmp/notab.txt"
sed -i '7s/\t.*//' "$tmp/notab.txt"
bad "a line without a TAB" "$tmp/notab.txt:7: no TAB; each line is text<TAB>label" "$tmp/notab.txt,$tmp/b.txt"
printf 'just text\t\n' >"$tmp/nolabel.txt"
bad "an empty label" "$tmp/nolabel.txt:1: no label after the last TAB" "$tmp/a.txt,$tmp/nolabel.txt"
grep 'pos$' "$tmp/a.txt" >"$tmp/one.txt"
bad "one class" "every line has the label 'pos': a classifier needs two classes" "$tmp/one.txt,$tmp/one.txt,$tmp/one.txt"
bad "too few lines" "data.train (24) + data.test (8) exceed the 24 labelled lines" "$tmp/a.txt"
bad "a missing file" "cannot open dataset file '$tmp/none.txt'" "$tmp/a.txt,$tmp/none.txt"
rc=0
"$TRAINER" configs/time.yaml data.tokenizer=chars >/dev/null 2>"$tmp/bad.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "data.tokenizer, data.min_count and data.max_size apply only to data.kind: text_labels" "$tmp/bad.err" \
    || fail "data.tokenizer on char_pairs: $(cat "$tmp/bad.err")"

# the split as fractions of the 33 lines: train floor(0.75 * 33) = 24, test
# ceil(0.25 * 33) = 9, the same samples (bitwise) as those counts
"$TRAINER" "${cfg[@]}" data.train=0.75 data.test=0.25 train.epochs=1 run.out="$tmp/frac" >"$tmp/frac.log" 2>&1 \
    || { cat "$tmp/frac.log"; fail "fractions"; }
grep -q "^data: 24 train / 9 held-out labelled lines" "$tmp/frac.log" || fail "fractions: $(grep '^data:' "$tmp/frac.log")"
"$TRAINER" "${cfg[@]}" data.train=24 data.test=9 train.epochs=1 run.out="$tmp/count" >"$tmp/count.log" 2>&1 \
    || { cat "$tmp/count.log"; fail "counts 24 / 9"; }
h5diff -q "$tmp/frac/checkpoint.h5" "$tmp/count/checkpoint.h5" /params /params || fail "fractions differ from counts"
for v in "data.train=1.5:must be a count (an integer > 0) or a fraction of the samples in (0, 1), got 1.5" \
         "data.test=0.5:data.train and data.test as fractions add up to more than 1"; do
    rc=0; "$TRAINER" "${cfg[@]}" data.train=0.75 "${v%%:*}" run.out="$tmp/bad" 2>"$tmp/bad.err" >/dev/null || rc=$?
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -qF "${v#*:}" "$tmp/bad.err" \
        || { cat "$tmp/bad.err"; fail "${v%%:*}: wanted exit 2 and '${v#*:}'"; }
done
# the plugin's option ranges (declared in its tr_option_spec, checked by the
# core): one line naming the key, exit 2, nothing written
for v in "model.dropout=1:command line: model.dropout=1: must be in [0, 1), got 1" \
         "model.units=0:command line: model.units=0: must be in [1,), got 0" \
         "model.window=-2:command line: model.window=-2: must be in [1,), got -2" \
         "model.label_smoothing=-0.1:command line: model.label_smoothing=-0.1: must be in [0, 1), got -0.1"; do
    rc=0; "$TRAINER" "${cfg[@]}" "${v%%:*}" run.out="$tmp/range" 2>"$tmp/bad.err" >/dev/null || rc=$?
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -qF "${v#*:}" "$tmp/bad.err" && [ ! -e "$tmp/range" ] \
        || { cat "$tmp/bad.err"; fail "${v%%:*}: wanted exit 2 and '${v#*:}'"; }
done
echo "ok: model option ranges"
rc=0; "$TRAINER" configs/cnn_plain.yaml data.test=0.2 2>"$tmp/bad.err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -qF "idx_images and hdf5 keep train and test apart already: give counts" "$tmp/bad.err" \
    || fail "a fraction for idx_images: $(cat "$tmp/bad.err")"
echo "ok: data.train / data.test as fractions"

# the other tokenizers and the vocabulary cap
"$TRAINER" "${cfg[@]}" data.tokenizer=chars data.src_len=30 data.max_size=12 train.epochs=1 run.out="$tmp/chars" \
    >"$tmp/chars.log" 2>&1 || { cat "$tmp/chars.log"; fail "tokenizer chars"; }
grep -q ", src_len 30, vocabulary 12, 2 classes$" "$tmp/chars.log" || fail "max_size 12: $(grep '^data:' "$tmp/chars.log")"
"$TRAINER" "${cfg[@]}" data.tokenizer=spaces train.epochs=1 run.out="$tmp/spaces" >"$tmp/spaces.log" 2>&1 \
    || { cat "$tmp/spaces.log"; fail "tokenizer spaces"; }
table="$("$TRAINER" predict "${cfg[@]}" data.tokenizer=spaces run.out="$tmp/spaces" --attention "great great!")"
[ "$(echo "$table" | sed -n 2p)" = "attention weights in % over the input's 2 tokens (they sum to 100)" ] \
    && [ "$(echo "$table" | tail -n 1 | awk '{print $1}')" = "<unk>" ] \
    || { echo "$table"; fail "spaces: 'great!' is one token, unknown"; }
echo "ok: tokenizers chars (max_size) and spaces"

# keep_best and early_stop: best.h5, the stop, predict --checkpoint best; a
# run killed (SIGKILL) after an epoch's checkpoint, before its evaluation,
# and resumed ends with the same best.h5, checkpoint and metrics.csv
kb=("${cfg[@]}" train.epochs=8 train.keep_best=macro_f1 train.early_stop=2 model.dropout=0 train.lr=0.01)
"$TRAINER" "${kb[@]}" run.out="$tmp/kb" >"$tmp/kb.log" 2>&1 || { cat "$tmp/kb.log"; fail "keep_best run"; }
grep -E '^(eval|best|early)' "$tmp/kb.log"
[ -f "$tmp/kb/best.h5" ] || fail "no best.h5"
grep -Eq '^best: macro_f1 [0-9.]{6} at step [0-9]+ -> '"$tmp/kb/best.h5"'$' "$tmp/kb.log" || fail "best line"
bstep=$(grep '^best:' "$tmp/kb.log" | tail -n 1 | sed 's/.* at step \([0-9]*\) .*/\1/')
"$TRAINER" inspect "$tmp/kb/best.h5" | has "^step $bstep," || fail "best.h5 is not the step-$bstep model"
if grep -q '^early stop at step' "$tmp/kb.log"; then
    stop=$(sed -n 's/^early stop at step \([0-9]*\):.*/\1/p' "$tmp/kb.log")
    [ $((stop - bstep)) -eq 6 ] || fail "stopped at $stop, 2 evaluations (6 steps) after the best ($bstep)"
    rc=0; "$TRAINER" "${kb[@]}" run.out="$tmp/kb" >"$tmp/kb2.log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && grep -q "^trainer: $tmp/kb stopped early at step $stop" "$tmp/kb2.log" || fail "re-run after early stop"
    echo "ok: early stop at step $stop, best at step $bstep"
fi
best_out="$("$TRAINER" predict "${kb[@]}" run.out="$tmp/kb" --checkpoint best "truly great")"
last_out="$("$TRAINER" predict "${kb[@]}" run.out="$tmp/kb" --checkpoint last "truly great")"
echo "$best_out $last_out" | grep -Eqx '(neg|pos) \(p = [0-9.]+\) (neg|pos) \(p = [0-9.]+\)' || fail "predict --checkpoint"
rc=0; "$TRAINER" predict "${kb[@]}" run.out="$tmp/kb" --checkpoint newest "x" 2>"$tmp/bad.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "checkpoint takes 'best'" "$tmp/bad.err" || fail "--checkpoint newest"
(TR_TEST_FAIL=0:6:sigkill exec "$TRAINER" "${kb[@]}" run.out="$tmp/kbk" >"$tmp/kbk.log" 2>&1) 2>/dev/null \
    && fail "the kill hook did not kill"
"$TRAINER" "${kb[@]}" run.out="$tmp/kbk" >"$tmp/kbk2.log" 2>&1 || { cat "$tmp/kbk2.log"; fail "resume after kill"; }
grep -q "^eval: epoch 2 " "$tmp/kbk2.log" || fail "the resumed run did not evaluate the epoch it was killed before"
for f in best.h5 checkpoint.h5; do
    h5diff -q "$tmp/kb/$f" "$tmp/kbk/$f" /params /params || fail "$f differs after kill + resume"
done
# every column but samples_per_s (a timing)
cmp -s <(cut -d, -f1-5,7- "$tmp/kb/metrics.csv") <(cut -d, -f1-5,7- "$tmp/kbk/metrics.csv") \
    || { diff "$tmp/kb/metrics.csv" "$tmp/kbk/metrics.csv"; fail "metrics.csv differs after kill + resume"; }
echo "ok: keep_best: best.h5 at step $bstep; killed before an evaluation and resumed: the same files"

# layouts: dropout keyed by sample, not by rank or thread
for layout in 1x1 1x2 2x1; do
    launch/run.sh -n "${layout%x*}" -t "${layout#*x}" "${cfg[@]}" train.epochs=1 run.out="$tmp/l$layout" \
        >"$tmp/l$layout.log" 2>&1 || { cat "$tmp/l$layout.log"; fail "layout $layout"; }
done
for layout in 1x2 2x1; do
    h5diff -q "$tmp/l1x1/checkpoint.h5" "$tmp/l$layout/checkpoint.h5" /params /params \
        || fail "layout $layout differs from 1x1"
done
echo "ok: 1x2 and 2x1 bitwise identical to 1x1 (dropout 0.2)"
echo "ok: text_labels"
