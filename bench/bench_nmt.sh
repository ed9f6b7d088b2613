#!/bin/sh
# bench/bench_nmt.sh - side-by-side training throughput of the C trainer's NMT
# model (configs/nmt.yaml, plugin nmt_gru: GRU encoder-decoder with Bahdanau
# attention, English -> French) and its PyTorch twin (bench/nmt_torch.py),
# on this machine's 2 cores.
#
# Runs ROUNDS alternating rounds of
#   (a) launch/run.sh -n 1 -t 2 $CONFIG train.epochs=$EPOCHS run.out=<tmp>   (1 rank x 2 threads)
#       launch/run.sh -n 2 -t 1 $CONFIG train.epochs=$EPOCHS run.out=<tmp>   (2 ranks x 1 thread)
#   (b) OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
#       $PYTHON bench/nmt_torch.py --epochs $EPOCHS --threads 2
# and reads from each the line "train done: <N> samples in <T> s, <R> samples/s"
# (training time only) and its peak RSS. Prints one row per round, the
# medians, the ratios trainer/torch, and each run's "eval:" line.
#
# Peak RSS: /usr/bin/time -f %M (or a Python getrusage wrapper when
# /usr/bin/time is absent). For the trainer each rank runs under its own
# wrapper (TRAINER=<wrapper> for launch/run.sh), and the figure is the SUM
# over the ranks' peaks (not mpirun's own RSS, which is what wrapping
# launch/run.sh would measure); the ranks' peaks need not coincide in time,
# so the sum is an upper bound of the job's peak. mpirun/orted themselves are
# not counted. (1 rank: launch/run.sh execs the wrapper directly.)
#
# Environment:
#   EPOCHS       epochs per run               (default 1; one epoch is 100,000 pairs)
#   ROUNDS       alternating rounds           (default 3)
#   TRAIN_LIMIT  train on the first N training pairs only: data.train=N for
#                the trainer, --train-limit N for PyTorch (quick checks)
#   TRAINER      trainer binary               (default build/trainer)
#   CONFIG       trainer config               (default configs/nmt.yaml)
#   LAYOUTS      trainer layouts, RANKSxTHREADS (default "1x2 2x1"; empty: PyTorch only)
#   PYTHON       python with torch            (default /usr/bin/python3)
#   TORCH_ARGS   extra nmt_torch.py arguments (e.g. "--en F --fr F --seed 2")
#   BENCH_OUT    folder for the logs          (default: a fresh mktemp -d)
# Run from anywhere; paths are taken relative to the repository root.
set -u

cd "$(dirname "$0")/.." || exit 1

EPOCHS=${EPOCHS:-1}
ROUNDS=${ROUNDS:-3}
TRAIN_LIMIT=${TRAIN_LIMIT:-}
TRAINER=${TRAINER:-build/trainer}
CONFIG=${CONFIG:-configs/nmt.yaml}
LAYOUTS=${LAYOUTS-1x2 2x1}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_ARGS=${TORCH_ARGS:-}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench_nmt.XXXXXX")}
mkdir -p "$BENCH_OUT" || exit 1
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)

case "$TRAIN_LIMIT" in
    '') tr_limit= ; to_limit= ;;
    *[!0-9]*) echo "bench_nmt: TRAIN_LIMIT wants a number, got '$TRAIN_LIMIT'" >&2; exit 2 ;;
    *) tr_limit="data.train=$TRAIN_LIMIT"; to_limit="--train-limit $TRAIN_LIMIT" ;;
esac
BENCH_NAME=bench_nmt
. bench/lib.sh
check_layouts
[ "$have_trainer" = 1 ] || LAYOUTS=

echo "bench_nmt: EPOCHS=$EPOCHS ROUNDS=$ROUNDS${TRAIN_LIMIT:+ TRAIN_LIMIT=$TRAIN_LIMIT}; logs in $BENCH_OUT"
for l in $LAYOUTS; do
    echo "  trainer $l: launch/run.sh -n ${l%x*} -t ${l#*x} $CONFIG train.epochs=$EPOCHS $tr_limit run.out=<tmp>"
done
echo "  torch:       OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 $PYTHON bench/nmt_torch.py --epochs $EPOCHS --threads 2 $to_limit $TORCH_ARGS"

results=$BENCH_OUT/results.tsv
: > "$results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    row=$r
    for l in $LAYOUTS; do
        log=$BENCH_OUT/trainer.$l.$r.log
        rundir=$BENCH_OUT/trainer_run.$l.$r
        rm -rf "$rundir"
        # shellcheck disable=SC2086 # tr_limit is empty or one word
        run_layout "$l" "$log" "$BENCH_OUT/trainer.$l.$r.rss" \
            "trainer $l round $r" "$CONFIG" "train.epochs=$EPOCHS" $tr_limit \
            "run.out=$rundir"
        row="$row	$l	$rate	$mib"
        echo "  round $r: trainer $l $rate samples/s" >&2
    done

    log=$BENCH_OUT/torch.$r.log
    # shellcheck disable=SC2086 # to_limit and TORCH_ARGS are split on purpose
    run_side "$log" "$BENCH_OUT/torch.$r.rss" "torch round $r" \
        env OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
        "$PYTHON" bench/nmt_torch.py --epochs "$EPOCHS" --threads 2 $to_limit \
        $TORCH_ARGS
    row="$row	torch	$rate	$mib"
    echo "  round $r: torch $rate samples/s" >&2

    printf '%s\n' "$row" >> "$results"
    r=$((r + 1))
done

echo
bench_table "$results"
[ -n "$LAYOUTS" ] && echo "(trainer RSS: sum over its ranks' peaks; torch RSS: the process's peak, import torch included)"

echo
echo "evaluation after the last epoch (each run's own lines):"
for f in "$BENCH_OUT"/trainer.*.log "$BENCH_OUT"/torch.*.log; do
    [ -f "$f" ] || continue
    line=$(grep -i -E '^eval|bleu|token.accuracy' "$f" | tail -n 1)
    printf '  %-22s %s\n' "$(basename "$f" .log)" "${line:--}"
done
