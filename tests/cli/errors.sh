#!/usr/bin/env bash
# tests/cli/errors.sh TRAINER - every bad input ends in ONE line on stderr,
# naming where and what, and exit status 2 (run from the repository root).
set -u
trainer="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect NAME REGEX CMD... : exit 2, exactly one stderr line matching REGEX.
expect() {
    local name="$1" regex="$2"
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -Eq -- "$regex" "$tmp/err"; then
        echo "FAIL $name: exit $rc, $lines stderr lines, wanted /$regex/:"
        sed 's/^/    /' "$tmp/err"
        fails=$((fails + 1))
    else
        echo "ok   $name: $(cat "$tmp/err")"
    fi
}

# A valid config to derive broken ones from (tiny run).
good="$tmp/good.yaml"
sed -e "s#data/time/#$PWD/data/time/#" configs/time.yaml >"$good"

expect "missing config file" "^trainer: $tmp/nope.yaml: cannot open" \
    "$trainer" "$tmp/nope.yaml"

printf 'run:\n  name: x\n model: [\n' >"$tmp/syntax.yaml"
expect "YAML syntax error" "^trainer: $tmp/syntax.yaml:[0-9]+:[0-9]+: .*YAML" \
    "$trainer" "$tmp/syntax.yaml"

sed -e 's/^  epochs: 30/  epoch: 30/' "$good" >"$tmp/unknown.yaml"
expect "unknown key" "^trainer: $tmp/unknown.yaml:[0-9]+:3: unknown key 'epoch'.*did you mean 'epochs'" \
    "$trainer" "$tmp/unknown.yaml"

sed -e 's/^  epochs: 30/  epochs: thirty/' "$good" >"$tmp/type.yaml"
expect "wrong type" "^trainer: $tmp/type.yaml:[0-9]+:[0-9]+: .*epochs.*integer" \
    "$trainer" "$tmp/type.yaml"

expect "wrong type on the command line" "^trainer: command line: train.batch=many: .*integer" \
    "$trainer" "$good" train.batch=many

expect "unknown key on the command line" "did you mean 'epochs'" \
    "$trainer" "$good" train.epoch=5

sed -e "s#pairs: .*#pairs: $tmp/missing.json#" "$good" >"$tmp/nodata.yaml"
expect "missing dataset file" "^trainer: $tmp/nodata.yaml:[0-9]+:[0-9]+: cannot open dataset file '$tmp/missing.json'" \
    "$trainer" "$tmp/nodata.yaml"

printf '[["six am", "06:00"], ["seven am"], ["eight am", "08:00"]]\n' >"$tmp/bad.json"
sed -e "s#pairs: .*#pairs: $tmp/bad.json#" -e 's/train: 8000/train: 2/' -e 's/test: 2000/test: 1/' "$good" >"$tmp/badpair.yaml"
expect "dataset item not a pair" "^trainer: $tmp/bad.json:1:[0-9]+: item 1 is not an \[input, output\] pair" \
    "$trainer" "$tmp/badpair.yaml"

sed -e 's/plugin: time_attn/plugin: time_atn/' "$good" >"$tmp/noplugin.yaml"
expect "no such plugin" "^trainer: $tmp/noplugin.yaml:[0-9]+:[0-9]+: no plugin 'time_atn' \(looked for .*found: .*time_attn.*did you mean 'time_attn'" \
    "$trainer" "$tmp/noplugin.yaml"

expect "bad model option" "^trainer: command line: model.recurrent_activation=relu: expected one of hard_sigmoid\|sigmoid" \
    "$trainer" "$good" model.recurrent_activation=relu

sed -e 's/recurrent_activation: hard_sigmoid/recurrent_activation: relu/' "$good" >"$tmp/badopt.yaml"
expect "bad model option in the file" "^trainer: $tmp/badopt.yaml:[0-9]+:[0-9]+: .*expected one of hard_sigmoid\|sigmoid, got 'relu'" \
    "$trainer" "$tmp/badopt.yaml"

sed -e 's/  encoder_units: 32/  encoder_unit: 32/' "$good" >"$tmp/unknownopt.yaml"
expect "unknown model option" "^trainer: $tmp/unknownopt.yaml:[0-9]+:3: unknown .*'encoder_unit'.*did you mean 'encoder_units'" \
    "$trainer" "$tmp/unknownopt.yaml"

expect "predict without a checkpoint" "^trainer: $tmp/none/checkpoint.h5: no checkpoint" \
    "$trainer" predict "$good" run.out="$tmp/none" "ten past six"

expect "unknown command-line argument" "^trainer: unexpected argument 'oops'" \
    "$trainer" "$good" oops

expect "early_stop without keep_best" "^trainer: .*train.early_stop needs train.keep_best" \
    "$trainer" "$good" train.early_stop=3 run.out="$tmp/es"
expect "keep_best: macro_f1 on a seq2seq task" "^trainer: .*train.keep_best: macro_f1 needs a classification task" \
    "$trainer" "$good" train.keep_best=macro_f1 run.out="$tmp/kb"
expect "keep_best: bleu on char_pairs" "^trainer: .*train.keep_best: bleu needs data.kind word_pairs" \
    "$trainer" "$good" train.keep_best=bleu run.out="$tmp/kb"
expect "predict --checkpoint best without best.h5" "^trainer: $tmp/none/best.h5: no such file: best.h5 is written by runs with train.keep_best" \
    "$trainer" predict "$good" run.out="$tmp/none" --checkpoint best "ten past six"

[ "$fails" -eq 0 ] && echo "all error cases pass" && exit 0
echo "$fails error case(s) failed"
exit 1
