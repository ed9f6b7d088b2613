#!/usr/bin/env bash
# bench/bench_hosts.sh - the time and NMT models on 2 "hosts" (network
# namespaces, tests/cluster/netns.sh) over TCP, next to the same 2 ranks over
# shared memory, alternating the runs round by round. The hosts run twice:
# on the bare veth link ("tcp": ~1.4 GB/s here), and with each host's
# sending side shaped to RATE (default 1gbit) by a token bucket (tc tbf,
# BURST default 32kb). DELAY (e.g. 0.1ms) adds netem's delay each way where
# the kernel has netem (this one has no CONFIG_NET_SCH_NETEM). Needs root and
# iproute2 (tc). Every side runs 2 ranks x 1 thread, unbound (the namespace
# hosts cannot bind: they would all take core 0). Prints samples/s
# (medians), each side / shared memory, and the trainer's "time per step"
# split. Environment: ROUNDS (3), RATE, BURST, DELAY, TRAINER
# (build/trainer), TIME_EPOCHS (3), TIME_ARGS (more overrides of
# configs/time.yaml, e.g. "train.batch=400": more compute per step for the
# same bytes), NMT_ARGS (overrides of configs/nmt.yaml), MODELS ("time nmt").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-3} RATE=${RATE:-1gbit} BURST=${BURST:-32kb} DELAY=${DELAY:-} TIME_EPOCHS=${TIME_EPOCHS:-3}
NMT_ARGS=${NMT_ARGS:-"data.train=6400 data.test=0 train.epochs=1"}
TIME_ARGS=${TIME_ARGS:-} MODELS=${MODELS:-time nmt}
export TRAINER=${TRAINER:-build/trainer}
[ -x "$TRAINER" ] || { echo "bench_hosts: no $TRAINER (run launch/setup.sh)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench_hosts: needs root (network namespaces)" >&2; exit 2; }
command -v tc >/dev/null || { echo "bench_hosts: needs tc (iproute2)" >&2; exit 2; }
out="$(mktemp -d)"
. tests/cluster/netns.sh
trap 'netns_down; rm -rf "$out"' EXIT
netns_up 2 "$out" || { echo "bench_hosts: cannot create network namespaces" >&2; exit 2; }
shape() { # shape on|off: each host's sending side
    local i
    for i in 1 2; do
        netns_exec "$i" tc qdisc del dev eth0 root 2>/dev/null || true
        [ "$1" = off ] && continue
        if [ -n "$DELAY" ]; then
            netns_exec "$i" tc qdisc add dev eth0 root handle 1: netem delay "$DELAY"
            netns_exec "$i" tc qdisc add dev eth0 parent 1: handle 2: tbf rate "$RATE" burst "$BURST" latency 50ms
        else
            netns_exec "$i" tc qdisc add dev eth0 root tbf rate "$RATE" burst "$BURST" latency 50ms
        fi || { echo "bench_hosts: tc cannot shape the link (netem/tbf missing?)" >&2; exit 2; }
    done
}
shape on
shape off
sides=(shm tcp shaped)
unbound=(--mca hwloc_base_binding_policy none)

declare -A args
args[time]="configs/time.yaml train.epochs=$TIME_EPOCHS data.test=0 train.log_every=100000 $TIME_ARGS"
args[nmt]="configs/nmt.yaml $NMT_ARGS train.log_every=100000"
run() { # run MODEL SIDE ROUND: one run; its log in $out/MODEL.SIDE.ROUND
    local log="$out/$1.$2.$3"
    # shellcheck disable=SC2086 # args[] are word lists
    if [ "$2" = shm ]; then
        launch/run.sh -n 2 -t 1 "${unbound[@]}" ${args[$1]} run.out="$out/run" --fresh >"$log" 2>&1
    else
        shape "$([ "$2" = shaped ] && echo on || echo off)"
        netns_exec 1 launch/run.sh -n 2 -t 1 --hostfile "$out/hosts2" "${NETNS_MCA[@]}" ${args[$1]} \
            run.out="$out/run" --fresh >"$log" 2>&1
    fi || { tail -n 5 "$log" >&2; echo "bench_hosts: $1 on $2 failed" >&2; exit 1; }
}
for r in $(seq 1 "$ROUNDS"); do
    for m in $MODELS; do
        for side in "${sides[@]}"; do run "$m" "$side" "$r"; done
    done
    echo "round $r of $ROUNDS done" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate_of() { sed -n 's/^train done: .*, \([0-9.]*\) samples\/s$/\1/p' "$1"; }
# "time per step (rank 0): A ms = compute B + waiting for ranks C + reduction D + optimizer E + rest F"
split_of() { sed -n 's/^time per step (rank 0): \([0-9.]*\) ms = compute \([0-9.]*\) + waiting for ranks \([0-9.]*\) + reduction \([0-9.]*\) + optimizer \([0-9.]*\) + rest \([0-9.]*\)$/\1 \2 \3 \4 \5 \6/p' "$1"; }
echo "2 ranks x 1 thread, $ROUNDS rounds, $(nproc) cores; hosts: 2 network namespaces; shaped: tbf $RATE burst $BURST${DELAY:+, netem delay $DELAY each way}; $("$TRAINER" --version)"
printf '%-6s %-8s %11s %9s   %s\n' model side "samples/s" "x shm" "time per step, ms (medians): all = compute + waiting + reduction + optimizer + rest"
for m in $MODELS; do
    base=""
    for side in "${sides[@]}"; do
        rates=() ; declare -a c0=() c1=() c2=() c3=() c4=() c5=()
        for r in $(seq 1 "$ROUNDS"); do
            rates+=("$(rate_of "$out/$m.$side.$r")")
            read -r a b c d e f <<<"$(split_of "$out/$m.$side.$r")"
            c0+=("$a"); c1+=("$b"); c2+=("$c"); c3+=("$d"); c4+=("$e"); c5+=("$f")
        done
        med=$(median "${rates[@]}")
        [ -n "$base" ] || base=$med
        printf '%-6s %-8s %11.1f %9.3f   %.3f = %.3f + %.3f + %.3f + %.3f + %.3f\n' "$m" "$side" "$med" \
            "$(echo "$med / $base" | bc -l)" "$(median "${c0[@]}")" "$(median "${c1[@]}")" "$(median "${c2[@]}")" \
            "$(median "${c3[@]}")" "$(median "${c4[@]}")" "$(median "${c5[@]}")"
    done
done
