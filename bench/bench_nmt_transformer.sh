#!/bin/sh
# bench/bench_nmt_transformer.sh - side-by-side training throughput of the C
# trainer's Transformer translation model (configs/nmt_transformer.yaml,
# plugin transformer, model.task: seq2seq: English -> French on the
# "small_vocab" corpus) and its PyTorch twin (bench/nmt_transformer_torch.py,
# nn.Transformer d_model 128, 4 heads, 2+2 layers, ff 512), on this machine's
# 2 cores.
#
# Runs ROUNDS alternating rounds of
#   (a) for each layout RxT in LAYOUTS (R ranks x T threads; default 1x2):
#       launch/run.sh -n R -t T $CONFIG train.epochs=$EPOCHS $TRAINER_ARGS run.out=<tmp>
#       (1 rank: launch/run.sh sets OMP_NUM_THREADS=T, OPENBLAS_NUM_THREADS=1
#       and execs build/trainer $CONFIG ... directly)
#   (b) OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
#       $PYTHON bench/nmt_transformer_torch.py --epochs $EPOCHS --threads $TORCH_THREADS $TORCH_ARGS
# one after the other (never two at once), and reads from each the line(s)
# "train done: <N> samples in <T> s, <R> samples/s" (training time only: no
# process start, data loading or evaluation; the trainer prints one such
# line per training stretch between evaluations, and the bench adds them
# up, samples over seconds, see rate_total) and its peak RSS. Prints one
# row per round, the medians, the ratios trainer/torch (bench/lib.sh's
# table), and each run's last evaluation line (token accuracy, BLEU-4).
#
# Why that PyTorch environment: bench/README.md ("NMT" and "time" sections):
# with the default OpenMP wait policy PyTorch's OpenMP workers spin between
# ops and OpenBLAS starts threads of its own, so on 2 cores they fight;
# OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 with --threads N
# (torch.set_num_threads, its intra-op threads) is its best setting here.
# TORCH_THREADS=1 runs the twin on one intra-op thread (often as fast or
# faster on this machine: the steps are chains of small ops).
#
# Peak RSS as in bench_nmt.sh (bench/lib.sh): /usr/bin/time -f %M per
# process (or a getrusage wrapper); for the trainer the SUM over its ranks'
# peaks (an upper bound of the job's peak; mpirun/orted not counted); for
# PyTorch the process's peak, import torch (~230 MiB) included.
#
# Until the trainer's side lands (configs/nmt_transformer.yaml, plugin
# transformer with model.task: seq2seq), the bench says so and runs the
# PyTorch side only.
#
# Environment:
#   EPOCHS         epochs per run                 (default 1; one epoch is 100,000 pairs)
#   ROUNDS         alternating rounds             (default 3)
#   TRAIN_LIMIT    train on the first N training pairs only: data.train=N for
#                  the trainer, --train-limit N for PyTorch (quick checks;
#                  each side's schedule, warmup + cosine, is over its shorter run)
#   TRAINER        trainer binary                 (default build/trainer)
#   CONFIG         trainer config                 (default configs/nmt_transformer.yaml)
#   LAYOUTS        trainer layouts, RANKSxTHREADS (default "1x2"; e.g. "1x2 2x1"; empty: PyTorch only)
#   TRAINER_ARGS   extra trainer overrides        (e.g. "run.seed=2 train.eval_every=0")
#   TORCH_THREADS  nmt_transformer_torch.py --threads (default 2)
#   TORCH_ARGS     extra nmt_transformer_torch.py arguments (e.g. "--seed 2 --eval-every 0")
#   PYTHON         python with torch              (default /usr/bin/python3)
#   BENCH_OUT      folder for the logs            (default: a fresh mktemp -d)
# Run from anywhere; paths are taken relative to the repository root.
set -u

cd "$(dirname "$0")/.." || exit 1

EPOCHS=${EPOCHS:-1}
ROUNDS=${ROUNDS:-3}
TRAIN_LIMIT=${TRAIN_LIMIT:-}
TRAINER=${TRAINER:-build/trainer}
CONFIG=${CONFIG:-configs/nmt_transformer.yaml}
LAYOUTS=${LAYOUTS-1x2}
TRAINER_ARGS=${TRAINER_ARGS:-}
TORCH_THREADS=${TORCH_THREADS:-2}
TORCH_ARGS=${TORCH_ARGS:-}
PYTHON=${PYTHON:-/usr/bin/python3}

for x in EPOCHS:"$EPOCHS" ROUNDS:"$ROUNDS" TORCH_THREADS:"$TORCH_THREADS"; do
    case "${x#*:}" in
        '' | *[!0-9]* | 0*) echo "bench_nmt_transformer: ${x%%:*} wants a positive number, got '${x#*:}'" >&2; exit 2 ;;
    esac
done
case "$TRAIN_LIMIT" in
    '') tr_limit= ; to_limit= ;;
    *[!0-9]*) echo "bench_nmt_transformer: TRAIN_LIMIT wants a number, got '$TRAIN_LIMIT'" >&2; exit 2 ;;
    *) tr_limit="data.train=$TRAIN_LIMIT"; to_limit="--train-limit $TRAIN_LIMIT" ;;
esac

BENCH_OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench_nmt_transformer.XXXXXX")}
mkdir -p "$BENCH_OUT" || exit 1
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)

# the trainer's config is checked here, for a message that says why
config_ok=1
if [ ! -f "$CONFIG" ]; then
    echo "bench_nmt_transformer: trainer config '$CONFIG' not found: the trainer's" \
         "Transformer translation model (plugin transformer, model.task: seq2seq)" \
         "is not in this tree yet (or set CONFIG=...); running the PyTorch side only" >&2
    config_ok=0
fi
BENCH_NAME=bench_nmt_transformer
nmt_config=$CONFIG
CONFIG=    # checked above
. bench/lib.sh
CONFIG=$nmt_config
check_layouts
[ "$have_trainer" = 1 ] && [ "$config_ok" = 1 ] || LAYOUTS=

loadavg() { cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?'; }

# rate_total LOG: samples/s over the whole run. The trainer prints a
# "train done: <N> samples in <T> s" line per training stretch between
# evaluations (core/runtime/session.c; one per epoch with
# train.eval_every=1) and no summary, while lib.sh's rate_of reads only the
# last; this is the sum of the N over the sum of the T of all of them.
# Empty when the log has no such line.
rate_total() {
    sed -n 's/^.*train done: \([0-9][0-9]*\) samples in \([0-9.]*\) s, [0-9.]* samples\/s.*$/\1 \2/p' "$1" |
        awk '{ n += $1; t += $2; k++ }
             END { if (k > 0 && t > 0) printf "%.1f\n", n / t }'
}

echo "bench_nmt_transformer: EPOCHS=$EPOCHS ROUNDS=$ROUNDS${TRAIN_LIMIT:+ TRAIN_LIMIT=$TRAIN_LIMIT}; load average $(loadavg); logs in $BENCH_OUT"
for l in $LAYOUTS; do
    echo "  trainer $l: launch/run.sh -n ${l%x*} -t ${l#*x} $CONFIG train.epochs=$EPOCHS $tr_limit $TRAINER_ARGS run.out=<tmp>"
done
echo "  torch:       OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 $PYTHON bench/nmt_transformer_torch.py --epochs $EPOCHS --threads $TORCH_THREADS $to_limit $TORCH_ARGS"

results=$BENCH_OUT/results.tsv
: > "$results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    row=$r
    for l in $LAYOUTS; do
        log=$BENCH_OUT/trainer.$l.$r.log
        rundir=$BENCH_OUT/trainer_run.$l.$r
        rm -rf "$rundir"
        # shellcheck disable=SC2086 # tr_limit and TRAINER_ARGS are split on purpose
        run_layout "$l" "$log" "$BENCH_OUT/trainer.$l.$r.rss" \
            "trainer $l round $r" "$CONFIG" "train.epochs=$EPOCHS" $tr_limit \
            $TRAINER_ARGS "run.out=$rundir"
        [ "$rate" = - ] || rate=$(rate_total "$log")
        [ -n "$rate" ] || rate=-
        row="$row	$l	$rate	$mib"
        echo "  round $r: trainer $l $rate samples/s" >&2
    done

    log=$BENCH_OUT/torch.$r.log
    # shellcheck disable=SC2086 # to_limit and TORCH_ARGS are split on purpose
    run_side "$log" "$BENCH_OUT/torch.$r.rss" "torch round $r" \
        env OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
        "$PYTHON" bench/nmt_transformer_torch.py --epochs "$EPOCHS" \
        --threads "$TORCH_THREADS" $to_limit $TORCH_ARGS
    row="$row	torch	$rate	$mib"
    echo "  round $r: torch $rate samples/s" >&2

    printf '%s\n' "$row" >> "$results"
    r=$((r + 1))
done

echo
bench_table "$results"
if [ -n "$LAYOUTS" ]; then
    echo "(trainer RSS: sum over its ranks' peaks; torch RSS: the process's peak, import torch included)"
fi
echo "load average at the end: $(loadavg)"

echo
echo "evaluation after the last epoch (each run's own lines):"
for f in "$BENCH_OUT"/trainer.*.log "$BENCH_OUT"/torch.*.log; do
    [ -f "$f" ] || continue
    line=$(grep -i -E '^eval|bleu|token.accuracy' "$f" | tail -n 1)
    printf '  %-22s %s\n' "$(basename "$f" .log)" "${line:--}"
done
