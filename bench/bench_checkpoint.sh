#!/usr/bin/env bash
# bench/bench_checkpoint.sh - checkpoint write time and size for each shipped
# config (the trainer reports both for its final checkpoint). ROUNDS runs
# each (default 3), 1 epoch; TRAINER defaults to build/trainer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-3}
TRAINER=${TRAINER:-build/trainer}
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
printf '%-20s %12s %12s %14s\n' config "params" "size MB" "write ms (median)"
for cfg in configs/*.yaml; do
    ms=() size="" params=""
    for r in $(seq 1 "$ROUNDS"); do
        "$TRAINER" "$cfg" train.epochs=1 data.test=0 run.out="$out/run" --fresh >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
        line=$(grep '^saved ' "$out/log")
        size=$(sed -n 's/.*, \([0-9.]*\) MB written in .*/\1/p' <<<"$line")
        ms+=("$(sed -n 's/.* written in \([0-9.]*\) ms.*/\1/p' <<<"$line")")
        params=$(sed -n 's/^model: .*), \([0-9]*\) parameters.*/\1/p' "$out/log")
    done
    med=$(printf '%s\n' "${ms[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    printf '%-20s %12s %12s %14s\n' "$cfg" "$params" "$size" "$med"
done
