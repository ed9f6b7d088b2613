#!/bin/sh
# bench/bench_time.sh - side-by-side training throughput of the C trainer and
# its PyTorch twin (bench/time_torch.py) on the time dataset, 2 threads each.
#
# Runs ROUNDS alternating rounds of
#   (a) OMP_NUM_THREADS=2 $TRAINER configs/time.yaml train.epochs=$EPOCHS run.out=<tmp>
#   (b) OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
#       $PYTHON bench/time_torch.py --epochs $EPOCHS --threads 2
# and reads from each the line "train done: <N> samples in <T> s, <R> samples/s"
# (training time only) and its peak RSS (/usr/bin/time -f %M, or a Python
# getrusage wrapper when /usr/bin/time is absent). Prints one row per round,
# then the medians and the ratio trainer/torch.
#
# Environment:
#   EPOCHS   epochs per run            (default 2)
#   ROUNDS   alternating rounds        (default 3)
#   TRAINER  trainer binary            (default build/trainer)
#   CONFIG   trainer config            (default configs/time.yaml)
#   PYTHON   python with torch         (default /usr/bin/python3)
#   TORCH_ARGS  extra time_torch.py arguments (e.g. "--pairs F --vocabs F")
#   BENCH_OUT   folder for the logs    (default: a fresh mktemp -d)
# Run from anywhere; paths are taken relative to the repository root.
set -u

cd "$(dirname "$0")/.." || exit 1

EPOCHS=${EPOCHS:-2}
ROUNDS=${ROUNDS:-3}
TRAINER=${TRAINER:-build/trainer}
CONFIG=${CONFIG:-configs/time.yaml}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_ARGS=${TORCH_ARGS:-}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench_time.XXXXXX")}
mkdir -p "$BENCH_OUT" || exit 1

BENCH_NAME=bench_time
. bench/lib.sh

echo "bench_time: EPOCHS=$EPOCHS ROUNDS=$ROUNDS, 2 threads each; logs in $BENCH_OUT"
[ "$have_trainer" = 1 ] && echo "  trainer: OMP_NUM_THREADS=2 $TRAINER $CONFIG train.epochs=$EPOCHS run.out=<tmp>"
echo "  torch:   OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 $PYTHON bench/time_torch.py --epochs $EPOCHS --threads 2 $TORCH_ARGS"

results=$BENCH_OUT/results.tsv
: > "$results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    tr_rate=- tr_mib=-
    if [ "$have_trainer" = 1 ]; then
        log=$BENCH_OUT/trainer.$r.log
        rundir=$BENCH_OUT/trainer_run.$r
        rm -rf "$rundir"
        run_measured "$log" "$BENCH_OUT/trainer.$r.rss" \
            env OMP_NUM_THREADS=2 "$TRAINER" "$CONFIG" \
            "train.epochs=$EPOCHS" "run.out=$rundir"
        rc=$?
        [ "$rc" = 0 ] || report_fail "trainer round $r" "$rc" "$log"
        tr_rate=$(rate_of "$log"); [ -n "$tr_rate" ] || tr_rate=-
        tr_mib=$(mib_of "$BENCH_OUT/trainer.$r.rss"); [ -n "$tr_mib" ] || tr_mib=-
        [ "$rc" = 0 ] || { tr_rate=-; tr_mib=-; }
    fi

    log=$BENCH_OUT/torch.$r.log
    # shellcheck disable=SC2086 # TORCH_ARGS is split on purpose
    run_measured "$log" "$BENCH_OUT/torch.$r.rss" \
        env OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
        "$PYTHON" bench/time_torch.py --epochs "$EPOCHS" --threads 2 --quiet \
        $TORCH_ARGS
    rc=$?
    [ "$rc" = 0 ] || report_fail "torch round $r" "$rc" "$log"
    to_rate=$(rate_of "$log"); [ -n "$to_rate" ] || to_rate=-
    to_mib=$(mib_of "$BENCH_OUT/torch.$r.rss"); [ -n "$to_mib" ] || to_mib=-
    [ "$rc" = 0 ] || { to_rate=-; to_mib=-; }

    printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$tr_rate" "$to_rate" "$tr_mib" \
        "$to_mib" >> "$results"
    echo "  round $r done: trainer $tr_rate samples/s, torch $to_rate samples/s" >&2
    r=$((r + 1))
done

echo
awk -F '\t' '
function median(v, n,    i, j, t) {
    if (n == 0) return "-"
    for (i = 2; i <= n; i++)               # insertion sort
        for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
function fmt(x, d) { return (x == "-") ? "-" : sprintf("%." d "f", x) }
BEGIN {
    printf "%-7s %18s %18s %18s %18s\n", "round", "trainer samples/s",
           "torch samples/s", "trainer RSS MiB", "torch RSS MiB"
}
{
    printf "%-7s %18s %18s %18s %18s\n", $1, $2, $3, $4, $5
    for (k = 2; k <= 5; k++) if ($k != "-") { cnt[k]++; val[k, cnt[k]] = $k + 0 }
}
END {
    for (k = 2; k <= 5; k++) {
        n = cnt[k] + 0
        delete tmp
        for (i = 1; i <= n; i++) tmp[i] = val[k, i]
        med[k] = median(tmp, n)
    }
    printf "%-7s %18s %18s %18s %18s\n", "median", fmt(med[2], 1),
           fmt(med[3], 1), fmt(med[4], 1), fmt(med[5], 1)
    if (med[2] != "-" && med[3] != "-" && med[3] > 0)
        printf "ratio trainer/torch: samples/s %.2fx", med[2] / med[3]
    else
        printf "ratio trainer/torch: samples/s -"
    if (med[4] != "-" && med[5] != "-" && med[5] > 0)
        printf ", peak RSS %.2fx\n", med[4] / med[5]
    else
        printf ", peak RSS -\n"
}' "$results"
