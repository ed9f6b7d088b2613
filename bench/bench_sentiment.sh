#!/bin/sh
# bench/bench_sentiment.sh - side-by-side training throughput of the C
# trainer's sentiment classifier (issue 14: configs/sentiment.yaml, plugin
# text_attn: Embedding 100 -> LSTM 100 -> attention pooling -> Dense softmax
# on the UCI "Sentiment Labelled Sentences") and its PyTorch twin
# (bench/sentiment_torch.py), on this machine's 2 cores.
#
# Runs ROUNDS alternating rounds of
#   (a) for each layout RxT in LAYOUTS (R ranks x T threads):
#       launch/run.sh -n R -t T $CONFIG train.epochs=$EPOCHS $TRAINER_ARGS run.out=<tmp>
#       (1 rank: launch/run.sh sets OMP_NUM_THREADS=T and execs
#       build/trainer $CONFIG ... directly)
#   (b) OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
#       $PYTHON bench/sentiment_torch.py --epochs $EPOCHS --threads $TORCH_THREADS $TORCH_ARGS
# one after the other (never two at once), and reads from each the line
# "train done: <N> samples in <T> s, <R> samples/s" (training time only: no
# process start, data loading or evaluation; the trainer prints one such
# line per epoch when it evaluates every epoch, and the bench adds them up,
# samples over seconds, see rate_total) and its peak RSS. Prints one
# row per round, the medians, the ratios trainer/torch (bench/lib.sh's
# table), each run's final held-out accuracy line, and the share of the
# step that the gradient reduction plus the optimizer take (issue 14).
#
# Both sides train the whole 10-epoch schedule by default (2400 sentences,
# batch 32, 75 steps per epoch) and evaluate after every epoch, outside the
# timed part. Their train/held-out splits differ (each shuffles with its own
# generator), so their accuracies are comparable only as figures of two
# random 2400/600 splits.
#
# Peak RSS as in bench_nmt.sh (bench/lib.sh): /usr/bin/time -f %M per
# process (or a getrusage wrapper); for the trainer the SUM over its ranks'
# peaks (an upper bound of the job's peak; mpirun/orted not counted); for
# PyTorch the process's peak, import torch (~230 MiB) included.
#
# Until the trainer's side of issue 14 lands (configs/sentiment.yaml, plugin
# text_attn), the bench says so and runs the PyTorch side only.
#
# Environment:
#   EPOCHS         epochs per run                 (default 10, the full schedule)
#   ROUNDS         alternating rounds             (default 3)
#   TRAINER        trainer binary                 (default build/trainer)
#   CONFIG         trainer config                 (default configs/sentiment.yaml)
#   LAYOUTS        trainer layouts, RANKSxTHREADS (default "1x2 2x1"; empty: PyTorch only)
#   TRAINER_ARGS   extra trainer overrides        (e.g. "run.seed=2")
#   TORCH_THREADS  sentiment_torch.py --threads   (default 2; 1 is its fastest here)
#   TORCH_ARGS     extra sentiment_torch.py arguments (e.g. "--seed 2 --pool last")
#   PYTHON         python with torch              (default /usr/bin/python3)
#   BENCH_OUT      folder for the logs            (default: a fresh mktemp -d)
# Run from anywhere; paths are taken relative to the repository root.
set -u

cd "$(dirname "$0")/.." || exit 1

EPOCHS=${EPOCHS:-10}
ROUNDS=${ROUNDS:-3}
TRAINER=${TRAINER:-build/trainer}
CONFIG=${CONFIG:-configs/sentiment.yaml}
LAYOUTS=${LAYOUTS-1x2 2x1}
TRAINER_ARGS=${TRAINER_ARGS:-}
TORCH_THREADS=${TORCH_THREADS:-2}
TORCH_ARGS=${TORCH_ARGS:-}
PYTHON=${PYTHON:-/usr/bin/python3}

for x in EPOCHS:"$EPOCHS" ROUNDS:"$ROUNDS" TORCH_THREADS:"$TORCH_THREADS"; do
    case "${x#*:}" in
        '' | *[!0-9]* | 0*) echo "bench_sentiment: ${x%%:*} wants a positive number, got '${x#*:}'" >&2; exit 2 ;;
    esac
done

BENCH_OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench_sentiment.XXXXXX")}
mkdir -p "$BENCH_OUT" || exit 1
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)

# the trainer's config is checked here, for a message that says why
config_ok=1
if [ ! -f "$CONFIG" ]; then
    echo "bench_sentiment: trainer config '$CONFIG' not found: the trainer's" \
         "sentiment classifier (plugin text_attn, issue 14) is not in this tree" \
         "yet (or set CONFIG=...); running the PyTorch side only" >&2
    config_ok=0
fi
BENCH_NAME=bench_sentiment
sentiment_config=$CONFIG
CONFIG=    # checked above
. bench/lib.sh
CONFIG=$sentiment_config
check_layouts
[ "$have_trainer" = 1 ] && [ "$config_ok" = 1 ] || LAYOUTS=

loadavg() { cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?'; }

# rate_total LOG: samples/s over the whole run. With train.eval_every=1 the
# trainer prints a "train done: <N> samples in <T> s" line per training
# stretch between evaluations (one per epoch), and lib.sh's rate_of reads
# only the last; this is the sum of the N over the sum of the T. A last line
# whose N is the sum of the earlier ones is taken for a summary of the run,
# and its rate used as it is (as is a single line's). Empty when the log has
# no such line.
rate_total() {
    sed -n 's/^.*train done: \([0-9][0-9]*\) samples in \([0-9.]*\) s, \([0-9.]*\) samples\/s.*$/\1 \2 \3/p' "$1" |
        awk '{ k++; n[k] = $1; t[k] = $2; r[k] = $3 }
             END {
                 if (k == 0) exit
                 sn = st = 0
                 for (i = 1; i < k; i++) { sn += n[i]; st += t[i] }
                 if (k == 1 || n[k] == sn) print r[k]    # one line, or a summary
                 else if (st + t[k] > 0) printf "%.1f\n", (sn + n[k]) / (st + t[k])
             }'
}

echo "bench_sentiment: EPOCHS=$EPOCHS ROUNDS=$ROUNDS; load average $(loadavg); logs in $BENCH_OUT"
for l in $LAYOUTS; do
    echo "  trainer $l: launch/run.sh -n ${l%x*} -t ${l#*x} $CONFIG train.epochs=$EPOCHS $TRAINER_ARGS run.out=<tmp>"
done
echo "  torch:       OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 $PYTHON bench/sentiment_torch.py --epochs $EPOCHS --threads $TORCH_THREADS $TORCH_ARGS"

results=$BENCH_OUT/results.tsv
: > "$results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    row=$r
    for l in $LAYOUTS; do
        log=$BENCH_OUT/trainer.$l.$r.log
        rundir=$BENCH_OUT/trainer_run.$l.$r
        rm -rf "$rundir"
        # shellcheck disable=SC2086 # TRAINER_ARGS is split on purpose
        run_layout "$l" "$log" "$BENCH_OUT/trainer.$l.$r.rss" \
            "trainer $l round $r" "$CONFIG" "train.epochs=$EPOCHS" $TRAINER_ARGS \
            "run.out=$rundir"
        [ "$rate" = - ] || rate=$(rate_total "$log")
        row="$row	$l	$rate	$mib"
        echo "  round $r: trainer $l $rate samples/s" >&2
    done

    log=$BENCH_OUT/torch.$r.log
    # shellcheck disable=SC2086 # TORCH_ARGS is split on purpose
    run_side "$log" "$BENCH_OUT/torch.$r.rss" "torch round $r" \
        env OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
        "$PYTHON" bench/sentiment_torch.py --epochs "$EPOCHS" \
        --threads "$TORCH_THREADS" $TORCH_ARGS
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
echo "held-out accuracy after the last epoch (each run's own line):"
for f in "$BENCH_OUT"/trainer.*.log "$BENCH_OUT"/torch.*.log; do
    [ -f "$f" ] || continue
    line=$(grep -i -E '^eval|accuracy' "$f" | tail -n 1)
    printf '  %-20s %s\n' "$(basename "$f" .log)" "${line:--}"
done

# Issue 14's limit: the gradient reduction plus the optimizer <= 15% of a
# step. Each "time per step (rank 0)" line (one per training stretch) gives
# the step's parts; the share is their sum over the run's lines.
if [ -n "$LAYOUTS" ]; then
    echo
    echo "reduction + optimizer as a share of the step (rank 0; waiting for ranks shown apart):"
    for f in "$BENCH_OUT"/trainer.*.log; do
        [ -f "$f" ] || continue
        share=$(sed -n 's/^.*time per step (rank 0): \([0-9.]*\) ms = compute [0-9.]* + waiting for ranks \([0-9.]*\) + reduction \([0-9.]*\) + optimizer \([0-9.]*\).*$/\1 \2 \3 \4/p' "$f" |
            awk '{ a += $1; w += $2; r += $3; o += $4 }
                 END { if (a > 0) printf "%.1f%% (reduction %.1f%% + optimizer %.1f%%; waiting %.1f%%)", 100 * (r + o) / a, 100 * r / a, 100 * o / a, 100 * w / a }')
        printf '  %-20s %s\n' "$(basename "$f" .log)" "${share:--}"
    done
fi
