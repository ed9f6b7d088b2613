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
for l in $LAYOUTS; do
    case "$l" in
        [1-9]*x[1-9]*) ;;
        *) echo "bench_nmt: LAYOUTS wants RANKSxTHREADS items, got '$l'" >&2; exit 2 ;;
    esac
done

BENCH_NAME=bench_nmt
. bench/lib.sh
[ "$have_trainer" = 1 ] || LAYOUTS=

# make_wrapper PREFIX: writes $BENCH_OUT/rank_rss.sh, which launch/run.sh
# starts (as TRAINER) instead of the trainer, once per rank: it runs the
# trainer and writes the rank's peak RSS (KiB) to PREFIX.<rank>. The prefix
# is written into the script (mpirun need not pass any variable on).
if [ "$have_trainer" = 1 ]; then
    real_trainer=$(cd "$(dirname "$TRAINER")" && pwd)/$(basename "$TRAINER")
fi
make_wrapper() {
    if [ "$RSS_TOOL" = time ]; then
        measure="/usr/bin/time -f %M -o"
    else
        measure="\"$PYTHON\" \"$BENCH_OUT/maxrss.py\""
    fi
    cat > "$BENCH_OUT/rank_rss.sh" <<EOF
#!/bin/sh
rank=\${OMPI_COMM_WORLD_RANK:-\${PMIX_RANK:-0}}
exec $measure "$1.\$rank" "$real_trainer" "\$@"
EOF
    chmod +x "$BENCH_OUT/rank_rss.sh"
}

# MiB summed over the files PREFIX.* (one per rank), or empty
mib_sum() {
    tot=''
    for f in "$1".*; do
        [ -f "$f" ] || continue
        k=$(kib_of "$f")
        [ -n "$k" ] || return 0
        tot=$(( ${tot:-0} + k ))
    done
    [ -n "$tot" ] && awk -v k="$tot" 'BEGIN { printf "%.1f", k / 1024 }'
}


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
        rm -f "$BENCH_OUT/trainer.$l.$r.rss".*
        make_wrapper "$BENCH_OUT/trainer.$l.$r.rss"
        # shellcheck disable=SC2086 # tr_limit is empty or one word
        env TRAINER="$BENCH_OUT/rank_rss.sh" \
            launch/run.sh -n "${l%x*}" -t "${l#*x}" "$CONFIG" \
            "train.epochs=$EPOCHS" $tr_limit "run.out=$rundir" > "$log" 2>&1
        rc=$?
        [ "$rc" = 0 ] || report_fail "trainer $l round $r" "$rc" "$log"
        rate=$(rate_of "$log"); [ -n "$rate" ] || rate=-
        mib=$(mib_sum "$BENCH_OUT/trainer.$l.$r.rss"); [ -n "$mib" ] || mib=-
        [ "$rc" = 0 ] || { rate=-; mib=-; }
        row="$row	$l	$rate	$mib"
        echo "  round $r: trainer $l $rate samples/s" >&2
    done

    log=$BENCH_OUT/torch.$r.log
    # shellcheck disable=SC2086 # to_limit and TORCH_ARGS are split on purpose
    run_measured "$log" "$BENCH_OUT/torch.$r.rss" \
        env OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
        "$PYTHON" bench/nmt_torch.py --epochs "$EPOCHS" --threads 2 $to_limit \
        $TORCH_ARGS
    rc=$?
    [ "$rc" = 0 ] || report_fail "torch round $r" "$rc" "$log"
    rate=$(rate_of "$log"); [ -n "$rate" ] || rate=-
    k=$(kib_of "$BENCH_OUT/torch.$r.rss")
    mib=-; [ -n "$k" ] && mib=$(awk -v k="$k" 'BEGIN { printf "%.1f", k / 1024 }')
    [ "$rc" = 0 ] || { rate=-; mib=-; }
    row="$row	torch	$rate	$mib"
    echo "  round $r: torch $rate samples/s" >&2

    printf '%s\n' "$row" >> "$results"
    r=$((r + 1))
done

echo
# results.tsv: round, then (name, samples/s, MiB) per run of the round
awk -F '\t' '
function median(v, n,    i, j, t) {
    if (n == 0) return "-"
    for (i = 2; i <= n; i++)               # insertion sort
        for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
function fmt(x, d) { return (x == "-") ? "-" : sprintf("%." d "f", x) }
{
    ncol = (NF - 1) / 3
    if (NR == 1) {
        printf "%-7s", "round"
        for (c = 1; c <= ncol; c++) {
            name[c] = $(3 * c - 1)
            label = (name[c] == "torch") ? "torch" : "trainer " name[c]
            printf " %20s", label " s/s"
        }
        for (c = 1; c <= ncol; c++) {
            label = (name[c] == "torch") ? "torch" : "trainer " name[c]
            printf " %20s", label " MiB"
        }
        printf "\n"
    }
    printf "%-7s", $1
    for (c = 1; c <= ncol; c++) printf " %20s", $(3 * c)
    for (c = 1; c <= ncol; c++) printf " %20s", $(3 * c + 1)
    printf "\n"
    for (c = 1; c <= ncol; c++) {
        if ($(3 * c) != "-")     { nr[c]++; rate[c, nr[c]] = $(3 * c) + 0 }
        if ($(3 * c + 1) != "-") { nm[c]++; mem[c, nm[c]] = $(3 * c + 1) + 0 }
    }
}
END {
    if (NR == 0) exit
    for (c = 1; c <= ncol; c++) {
        delete tmp; for (i = 1; i <= nr[c]; i++) tmp[i] = rate[c, i]; mr[c] = median(tmp, nr[c] + 0)
        delete tmp; for (i = 1; i <= nm[c]; i++) tmp[i] = mem[c, i];  mm[c] = median(tmp, nm[c] + 0)
        if (name[c] == "torch") t = c
    }
    printf "%-7s", "median"
    for (c = 1; c <= ncol; c++) printf " %20s", fmt(mr[c], 1)
    for (c = 1; c <= ncol; c++) printf " %20s", fmt(mm[c], 1)
    printf "\n"
    for (c = 1; c <= ncol; c++) {
        if (c == t) continue
        printf "ratio trainer %s / torch: samples/s ", name[c]
        if (mr[c] != "-" && mr[t] != "-" && mr[t] > 0) printf "%.2fx", mr[c] / mr[t]; else printf "-"
        printf ", peak RSS "
        if (mm[c] != "-" && mm[t] != "-" && mm[t] > 0) printf "%.2fx\n", mm[c] / mm[t]; else printf "-\n"
    }
}' "$results"
[ -n "$LAYOUTS" ] && echo "(trainer RSS: sum over its ranks' peaks; torch RSS: the process's peak, import torch included)"

echo
echo "evaluation after the last epoch (each run's own lines):"
for f in "$BENCH_OUT"/trainer.*.log "$BENCH_OUT"/torch.*.log; do
    [ -f "$f" ] || continue
    line=$(grep -i -E '^eval|bleu|token.accuracy' "$f" | tail -n 1)
    printf '  %-22s %s\n' "$(basename "$f" .log)" "${line:--}"
done
