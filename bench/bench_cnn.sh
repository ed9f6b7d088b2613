#!/bin/sh
# bench/bench_cnn.sh - side-by-side training throughput of the C trainer's
# Fashion-MNIST CNN (plugin cnn_attn, configs/cnn_<variant>.yaml) and its
# PyTorch twin (bench/cnn_torch.py, whose convolutions run in oneDNN), on
# this machine's 2 cores, with the FLOP rate each reaches next to this
# machine's sgemm peak measured in the same run.
#
# Variants (VARIANTS, any of):
#   plain    configs/cnn_plain.yaml    --attention none
#   se       configs/cnn_se.yaml       --attention se
#   cbam     configs/cnn_cbam.yaml     --attention cbam
#   cbam_bn  configs/cnn_cbam_bn.yaml  --attention cbam --norm batch
#
# First builds bench/sgemm_peak.c ($CC -O2 ... -lopenblas -lm, into
# $BENCH_OUT) and runs it with OPENBLAS_NUM_THREADS=2, then 1: OpenBLAS's
# best sgemm GFLOP/s on square sizes 512, 1024, 2048 (see sgemm_peak.c);
# again after the last round (unless SGEMM_END=0): a few seconds each. The
# best 2-thread figure is the "sgemm peak" the summary compares with (a
# ceiling: on a busy machine one measurement can come out far below it).
#
# Then ROUNDS rounds; each round runs every variant in turn (so each
# variant's rounds spread over the whole run), and for each variant, one
# after the other (never two at once):
#   (a) for each layout RxT in LAYOUTS (R ranks x T threads):
#       launch/run.sh -n R -t T configs/cnn_<v>.yaml train.epochs=1 \
#           data.train=$TRAIN data.test=0 run.out=<tmp>
#   (b) OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
#       $PYTHON bench/cnn_torch.py --threads 2 --attention <a> [--norm batch] \
#           --batch B --warmup $WARMUP --max-steps <S + WARMUP> $TORCH_ARGS
# where B is the config's train.batch (128) and S = TRAIN / B steps: both
# sides time S steps of B samples. Each prints "train done: <N> samples in
# <T> s, <R> samples/s" (training only: no process start, data loading or
# evaluation). The trainer times all S steps (its first included, and the
# end-of-epoch checkpoint write, ~20 ms); PyTorch trains WARMUP untimed
# steps first (oneDNN primitive creation, allocator warm-up), then the S
# timed ones, and stops without evaluating.
#
# Peak RSS as in bench_nmt.sh (bench/lib.sh): /usr/bin/time -f %M per
# process (or a getrusage wrapper); for the trainer the SUM over its ranks'
# peaks (an upper bound of the job's peak; mpirun/orted not counted); for
# PyTorch the process's peak, import torch (~230 MiB) included.
#
# GFLOP/s = training FLOPs per sample (below) x samples/s / 1e9, the same
# count for both sides (it is the model's arithmetic, not what either
# implementation executes), shown as a % of the 2-thread sgemm peak.
# Training FLOPs per sample, a multiply-add counting 2:
#   each convolution Ci->Co, KxK, output HoxWo (28x28 stride 1 -> 28x28,
#   then stride 2 -> 14x14 -> 7x7): forward F = 2*Co*Ci*K*K*Ho*Wo; backward
#   F for dW and F for din, except the first convolution (its input is the
#   image: no din), so 3F (first: 2F). Conv biases excluded.
#   Dense 128 -> 10 after the global average pool: 3 x 2*128*10.
#   SE (C -> C/8 -> C MLP on one pooled vector): 3 x 2*(C*C/8 + C/8*C).
#   CBAM: the shared MLP on 2 descriptors: 3 x 2*2*(C*C/8 + C/8*C); the 7x7
#   spatial conv 2 -> 1 on HoxWo: 3 x 2*(2*7*7)*Ho*Wo.
#   Excluded (elementwise work and reductions, no multiply-add chains): the
#   biases, ReLU, batch norm, pooling, sigmoid and scaling, softmax/loss,
#   Adam. Totals: plain 44.26, se 44.30, cbam 44.93 MFLOP/sample
#   (cbam_bn = cbam), of which the two strided convolutions are 98%.
#
# Prints the sgemm peaks, then per variant a row per round (samples/s of
# each side, then peak RSS), the medians and the ratios trainer/torch (as
# bench_nmt.sh does), then a summary: per variant and side the median
# samples/s, the ratio to torch (the target is >= 1.0x for every variant),
# peak RSS, GFLOP/s and % of the sgemm peak; and whether each trainer
# layout meets the target for all the variants.
#
# Environment:
#   VARIANTS    variants to run             (default "plain se cbam")
#   ROUNDS      alternating rounds          (default 3)
#   TRAIN       training samples timed per run, a multiple of the batch
#               (default 25600 = 200 steps of 128; at most 60000)
#   WARMUP      PyTorch's untimed steps     (default 5)
#   LAYOUTS     trainer layouts, RANKSxTHREADS (default "1x2 2x1"; empty: PyTorch only)
#   TRAINER     trainer binary              (default build/trainer)
#   PYTHON      python with torch           (default /usr/bin/python3)
#   TORCH_ARGS  extra cnn_torch.py arguments (e.g. "--data DIR --seed 2")
#   CC          C compiler for sgemm_peak   (default cc; without OpenBLAS
#               headers the bench runs without the sgemm peak)
#   SGEMM_END   0: measure the sgemm peak at the start only (default 1: at the end too)
#   BENCH_OUT   folder for the logs         (default: a fresh mktemp -d)
# Run from anywhere; paths are taken relative to the repository root.
set -u

cd "$(dirname "$0")/.." || exit 1

VARIANTS=${VARIANTS:-plain se cbam}
ROUNDS=${ROUNDS:-3}
TRAIN=${TRAIN:-25600}
WARMUP=${WARMUP:-5}
LAYOUTS=${LAYOUTS-1x2 2x1}
TRAINER=${TRAINER:-build/trainer}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_ARGS=${TORCH_ARGS:-}
CC=${CC:-cc}
SGEMM_END=${SGEMM_END:-1}

for x in ROUNDS:"$ROUNDS" TRAIN:"$TRAIN" WARMUP:"$WARMUP"; do
    case "${x#*:}" in
        '' | *[!0-9]* | 0*) echo "bench_cnn: ${x%%:*} wants a positive number, got '${x#*:}'" >&2; exit 2 ;;
    esac
done
[ "$TRAIN" -le 60000 ] || { echo "bench_cnn: TRAIN is at most 60000 (the training set), got $TRAIN" >&2; exit 2; }
[ -n "$VARIANTS" ] || { echo "bench_cnn: VARIANTS is empty" >&2; exit 2; }

# variant -> its config and cnn_torch.py arguments
config_of() { echo "configs/cnn_$1.yaml"; }
torch_model_args() {
    case "$1" in
        plain) echo "--attention none" ;;
        se) echo "--attention se" ;;
        cbam) echo "--attention cbam" ;;
        cbam_bn) echo "--attention cbam --norm batch" ;;
    esac
}
# the config's train.batch (the only "batch:" key in these configs)
batch_of() { sed -n 's/^ *batch: *\([0-9][0-9]*\).*$/\1/p' "$1" | head -n 1; }

for v in $VARIANTS; do
    case "$v" in
        plain | se | cbam | cbam_bn) ;;
        *) echo "bench_cnn: unknown variant '$v' (plain, se, cbam, cbam_bn)" >&2; exit 2 ;;
    esac
    c=$(config_of "$v")
    [ -f "$c" ] || { echo "bench_cnn: config '$c' not found" >&2; exit 2; }
    b=$(batch_of "$c")
    [ -n "$b" ] || { echo "bench_cnn: no train.batch in '$c'" >&2; exit 2; }
    [ $((TRAIN % b)) = 0 ] || { echo "bench_cnn: TRAIN=$TRAIN is not a multiple of $c's batch $b" >&2; exit 2; }
done

BENCH_OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench_cnn.XXXXXX")}
mkdir -p "$BENCH_OUT" || exit 1
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)

BENCH_NAME=bench_cnn
CONFIG=    # per variant, checked above
. bench/lib.sh
check_layouts
[ "$have_trainer" = 1 ] || LAYOUTS=

# flops_of VARIANT: training FLOPs per sample (see the header), an integer
flops_of() {
    awk -v v="$1" 'BEGIN {
        att = (v == "plain") ? "none" : (v == "se") ? "se" : "cbam"
        split("1 32 64", ci, " "); split("32 64 128", co, " "); split("1 2 2", st, " ")
        H = 28; K = 3; total = 0
        for (i = 1; i <= 3; i++) {
            Ho = int((H + 2 - K) / st[i]) + 1                   # padding 1
            f = 2 * co[i] * ci[i] * K * K * Ho * Ho
            total += f * (i == 1 ? 2 : 3)                       # + dW (+ din)
            C = co[i]; Cr = C / 8
            mlp = 2 * (C * Cr + Cr * C)
            if (att == "se")   total += 3 * mlp
            if (att == "cbam") total += 3 * (2 * mlp + 2 * (2 * 7 * 7) * Ho * Ho)
            H = Ho
        }
        total += 3 * 2 * 128 * 10                               # dense
        printf "%d\n", total
    }'
}

# sgemm_peak: build once; measure WHEN (start|end) at 2 then 1 threads,
# appending "WHEN threads gflops n core" lines to $BENCH_OUT/sgemm.tsv
sgemm_bin=$BENCH_OUT/sgemm_peak
: > "$BENCH_OUT/sgemm.tsv"
if ! "$CC" -O2 bench/sgemm_peak.c -lopenblas -lm -o "$sgemm_bin" > "$BENCH_OUT/sgemm_build.log" 2>&1; then
    echo "bench_cnn: cannot build bench/sgemm_peak.c with '$CC' (see" \
         "$BENCH_OUT/sgemm_build.log); no sgemm peak in this run" >&2
    sgemm_bin=
fi
measure_sgemm() {
    [ -n "$sgemm_bin" ] || return 0
    for t in 2 1; do
        log=$BENCH_OUT/sgemm.$1.$t.log
        if env OPENBLAS_NUM_THREADS=$t "$sgemm_bin" > "$log" 2>&1; then
            sed -n "s/^sgemm_peak threads=\([0-9]*\) gflops=\([0-9.]*\) n=\([0-9]*\) core=\(.*\)\$/$1	\1	\2	\3	\4/p" \
                "$log" >> "$BENCH_OUT/sgemm.tsv"
        else
            report_fail "sgemm_peak ($t threads, $1)" "$?" "$log"
        fi
    done
    awk -F '\t' -v w="$1" '$1 == w { printf "%s%s thread%s %s GFLOP/s (n=%s, core=%s)", (n++ ? ", " : ""), $2,
                                ($2 == 1 ? "" : "s"), $3, $4, $5 }
        END { if (n) printf "\n" }' "$BENCH_OUT/sgemm.tsv" | sed "s/^/sgemm peak ($1): /"
}
loadavg() { cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?'; }

echo "bench_cnn: VARIANTS=\"$VARIANTS\" ROUNDS=$ROUNDS TRAIN=$TRAIN (the same timed steps each side); load average $(loadavg); logs in $BENCH_OUT"
for l in $LAYOUTS; do
    echo "  trainer $l: launch/run.sh -n ${l%x*} -t ${l#*x} configs/cnn_<v>.yaml train.epochs=1 data.train=$TRAIN data.test=0 run.out=<tmp>"
done
batches=$(for v in $VARIANTS; do batch_of "$(config_of "$v")"; done | sort -u)
case "$batches" in
    *[!0-9]*) steps_text="--batch <B> --warmup $WARMUP --max-steps <TRAIN/B + $WARMUP>" ;;
    *) steps_text="--batch $batches --warmup $WARMUP --max-steps $((TRAIN / batches + WARMUP))" ;;
esac
echo "  torch:       OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 $PYTHON bench/cnn_torch.py --threads 2 --attention <a> [--norm batch] $steps_text $TORCH_ARGS"
measure_sgemm start

for v in $VARIANTS; do : > "$BENCH_OUT/results.$v.tsv"; done
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for v in $VARIANTS; do
        cfg=$(config_of "$v")
        b=$(batch_of "$cfg")
        row=$r
        for l in $LAYOUTS; do
            log=$BENCH_OUT/trainer.$v.$l.$r.log
            rundir=$BENCH_OUT/trainer_run.$v.$l.$r
            rm -rf "$rundir"
            run_layout "$l" "$log" "$BENCH_OUT/trainer.$v.$l.$r.rss" \
                "trainer $v $l round $r" "$cfg" train.epochs=1 \
                "data.train=$TRAIN" data.test=0 "run.out=$rundir"
            row="$row	$l	$rate	$mib"
            echo "  round $r: $v trainer $l $rate samples/s" >&2
        done

        log=$BENCH_OUT/torch.$v.$r.log
        # shellcheck disable=SC2046,SC2086 # the model arguments and TORCH_ARGS are split on purpose
        run_side "$log" "$BENCH_OUT/torch.$v.$r.rss" "torch $v round $r" \
            env OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
            "$PYTHON" bench/cnn_torch.py --threads 2 $(torch_model_args "$v") \
            --batch "$b" --warmup "$WARMUP" --max-steps $((TRAIN / b + WARMUP)) \
            $TORCH_ARGS
        row="$row	torch	$rate	$mib"
        echo "  round $r: $v torch $rate samples/s" >&2

        printf '%s\n' "$row" >> "$BENCH_OUT/results.$v.tsv"
    done
    r=$((r + 1))
done
[ "$SGEMM_END" = 1 ] && measure_sgemm end

# the 2-thread peak: the best of the measurements (below the 1-thread one
# only when the other core was busy)
peak=$(awk -F '\t' '$2 == 2 && $3 > p { p = $3 } END { if (p) print p }' "$BENCH_OUT/sgemm.tsv")
peak1=$(awk -F '\t' '$2 == 1 && $3 > p { p = $3 } END { if (p) print p }' "$BENCH_OUT/sgemm.tsv")

# per variant: the rounds, medians and ratios; medians.tsv gathers
# variant, MFLOP/sample, side, median samples/s, median MiB
: > "$BENCH_OUT/medians.tsv"
for v in $VARIANTS; do
    fl=$(flops_of "$v")
    mf=$(awk -v f="$fl" 'BEGIN { printf "%.2f", f / 1e6 }')
    echo
    echo "$v ($(torch_model_args "$v" | sed 's/--//g'); $mf MFLOP/sample):"
    bench_table "$BENCH_OUT/results.$v.tsv" "$BENCH_OUT/medians.$v.tsv"
    awk -F '\t' -v v="$v" -v mf="$mf" '{ print v "\t" mf "\t" $0 }' \
        "$BENCH_OUT/medians.$v.tsv" >> "$BENCH_OUT/medians.tsv"
done
[ -n "$LAYOUTS" ] && echo "(trainer RSS: sum over its ranks' peaks; torch RSS: the process's peak, import torch included)"

echo
if [ -n "$peak" ]; then
    echo "summary (medians of $ROUNDS round(s); GFLOP/s = MFLOP/sample x samples/s / 1000; sgemm peak: $peak GFLOP/s at 2 threads):"
else
    echo "summary (medians of $ROUNDS round(s); GFLOP/s = MFLOP/sample x samples/s / 1000; no sgemm peak measured):"
fi
awk -F '\t' -v peak="${peak:-0}" '
{
    v = $1; side = ($3 == "torch") ? "torch" : "trainer " $3
    n++; var[n] = v; mf[n] = $2; name[n] = $3; lab[n] = side; sps[n] = $4; mib[n] = $5
    if ($3 == "torch") tsps[v] = $4
}
END {
    printf "%-8s %12s  %-12s %10s %8s %13s %8s %13s\n", "variant", "MFLOP/sample", "side",
           "samples/s", "x torch", "peak RSS MiB", "GFLOP/s", "% sgemm peak"
    for (i = 1; i <= n; i++) {
        v = var[i]
        ratio = (sps[i] != "-" && tsps[v] != "" && tsps[v] != "-" && tsps[v] > 0) ? sprintf("%.2fx", sps[i] / tsps[v]) : "-"
        gf = (sps[i] != "-") ? mf[i] * sps[i] / 1000 : "-"
        pct = (gf != "-" && peak > 0) ? sprintf("%.1f%%", 100 * gf / peak) : "-"
        printf "%-8s %12s  %-12s %10s %8s %13s %8s %13s\n", v, mf[i], lab[i], sps[i], ratio,
               mib[i], (gf == "-") ? "-" : sprintf("%.1f", gf), pct
    }
}' "$BENCH_OUT/medians.tsv"
cut -f 1,3- "$BENCH_OUT/medians.tsv" > "$BENCH_OUT/sides.tsv"   # without the MFLOP column
bench_targets 1.00 "$BENCH_OUT/sides.tsv"
if [ -n "$peak" ] && [ -n "$peak1" ] && awk -v a="$peak" -v b="$peak1" 'BEGIN { exit !(a < b) }'; then
    echo "warning: the 2-thread sgemm peak ($peak) is below the 1-thread one ($peak1):" \
         "the machine was busy, and the % of peak above is overstated"
fi
echo "load average at the end: $(loadavg)"
