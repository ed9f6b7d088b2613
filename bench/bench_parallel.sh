#!/usr/bin/env bash
# bench/bench_parallel.sh - throughput of the time model for the layouts
# 1x1, 1x2, 2x1, 2x2 (ranks x threads) on this machine, and the cost of the
# exact gradient reduction next to a plain float allreduce, alternating the
# runs round by round. Environment: EPOCHS (default 5), ROUNDS (default 3),
# TRAINER (default build/trainer), CONFIG (default configs/time.yaml).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EPOCHS=${EPOCHS:-5} ROUNDS=${ROUNDS:-3}
export TRAINER=${TRAINER:-build/trainer}
CONFIG=${CONFIG:-configs/time.yaml}
[ -x "$TRAINER" ] || { echo "bench_parallel: no $TRAINER (run launch/setup.sh)" >&2; exit 2; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
layouts=(1x1 1x2 2x1 2x2)
modes=(exact float)

run() { # run NAME RANKS THREADS [overrides...] -> "samples/s reduce_ms reduce_pct"
    local name=$1 n=$2 t=$3
    shift 3
    launch/run.sh -n "$n" -t "$t" "$CONFIG" train.epochs="$EPOCHS" data.test=0 train.log_every=100000 \
        run.out="$out/$name" --fresh "$@" >"$out/$name.log" 2>&1 || { cat "$out/$name.log" >&2; exit 1; }
    sed -n 's/^train done: .*, \([0-9.]*\) samples\/s$/\1/p' "$out/$name.log" | tr '\n' ' '
    sed -n 's/^gradient reduction (.*): \([0-9.]*\) ms\/step, \([0-9.]*\)% of step time$/\1 \2/p' "$out/$name.log"
    cp "$out/$name.log" "$out/$name.r$r.log"
}

declare -A sps red pct
declare -a pair
for r in $(seq 1 "$ROUNDS"); do
    for l in "${layouts[@]}"; do
        read -r sps[$l,$r] red[$l,$r] pct[$l,$r] <<<"$(run "$l" "${l%x*}" "${l#*x}")"
    done
    # the machine's own ceiling: two independent 1x1 runs at once, one per core
    a=$(run pair0 1 1 & run pair1 1 1 & wait)
    pair[$r]=$(echo "$a" | awk '{ s += $1 } END { print s }')
    for m in "${modes[@]}"; do
        e=true; [ "$m" = float ] && e=false
        read -r sps[$m,$r] red[$m,$r] pct[$m,$r] <<<"$(run "$m" 2 1 train.exact_reduce=$e)"
    done
    echo "round $r of $ROUNDS done" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "time model, $EPOCHS epochs per run, $ROUNDS rounds, $(nproc) cores; $("$TRAINER" --version)"
printf '%-8s %14s %12s %22s\n' layout "samples/s" "x 1x1" "reduction ms/step (%)"
base=""
for l in "${layouts[@]}"; do
    vals=() reds=() pcts=()
    for r in $(seq 1 "$ROUNDS"); do vals+=("${sps[$l,$r]}"); reds+=("${red[$l,$r]}"); pcts+=("${pct[$l,$r]}"); done
    m=$(median "${vals[@]}")
    [ -n "$base" ] || base=$m
    printf '%-8s %14.1f %12.2f %15.3f (%s%%)\n' "$l" "$m" "$(echo "$m / $base" | bc -l)" "$(median "${reds[@]}")" "$(median "${pcts[@]}")"
done
vals=()
for r in $(seq 1 "$ROUNDS"); do vals+=("${pair[$r]}"); done
m=$(median "${vals[@]}")
printf '%-8s %14.1f %12.2f   (two independent 1x1 runs at once: what 2 cores give)\n' "2 x 1x1" "$m" "$(echo "$m / $base" | bc -l)"
echo
echo "gradient reduction at 2x1 (medians):"
for m in "${modes[@]}"; do
    reds=() pcts=() vals=()
    for r in $(seq 1 "$ROUNDS"); do reds+=("${red[$m,$r]}"); pcts+=("${pct[$m,$r]}"); vals+=("${sps[$m,$r]}"); done
    printf '  %-6s %8.3f ms/step  %5.1f%% of step time  %10.1f samples/s\n' "$m" "$(median "${reds[@]}")" "$(median "${pcts[@]}")" "$(median "${vals[@]}")"
    eval "med_$m=$(median "${reds[@]}")"
done
printf '  exact / float reduction time: %.2f\n' "$(echo "$med_exact / $med_float" | bc -l)"
echo
echo "where a step's time goes on rank 0 (ms, medians; the trainer's 'time per step' line):"
printf '  %-6s %8s %8s %8s %10s %10s %8s\n' layout step compute waiting reduction optimizer rest
for l in "${layouts[@]}"; do
    cols=()
    for k in 1 2 3 4 5 6; do
        vals=()
        for r in $(seq 1 "$ROUNDS"); do
            vals+=("$(sed -n 's/^time per step (rank 0): \([0-9.]*\) ms = compute \([0-9.]*\) + waiting for ranks \([0-9.]*\) + reduction \([0-9.]*\) + optimizer \([0-9.]*\) + rest \(-*[0-9.]*\)$/\1 \2 \3 \4 \5 \6/p' "$out/$l.r$r.log" | cut -d' ' -f$k)")
        done
        cols+=("$(median "${vals[@]}")")
    done
    printf '  %-6s %8.3f %8.3f %8.3f %10.3f %10.3f %8.3f\n' "$l" "${cols[@]}"
done
