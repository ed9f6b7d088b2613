#!/usr/bin/env bash
# tests/cluster/cluster.sh TRAINER - the trainer across 2 and 3 "hosts"
# (network namespaces, tests/cluster/netns.sh) over TCP, through
# launch/run.sh --hostfile (run from the repository root; needs root):
#   - the time and NMT models on 2 and 3 hosts: parameters bitwise identical
#     to 1 rank x 1 thread;
#   - kill -9 of a host's rank, and a cut link: the job ends within 10 s with
#     a line naming the host and rank, and the last checkpoint still opens;
#   - --max-restarts: after the kill, and after the cut, the job goes on on
#     the hosts left and ends bitwise identical (parameters and optimizer
#     state) to an uninterrupted 1 x 1 run; --min-ranks stops it instead.
# The namespaces are removed however the test ends.
set -euo pipefail
export TRAINER="$1"
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -q "$@" <<<"$(cat)"; }
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root"; exit 77; fi
command -v ip >/dev/null || { echo "skipped: needs iproute2 (ip)"; exit 77; }
tmp="$(mktemp -d)"
. tests/cluster/netns.sh
trap 'netns_down; rm -rf "$tmp"' EXIT
netns_up 3 "$tmp" || { echo "skipped: cannot create network namespaces here"; exit 77; }
run() { # run HOSTS OUT LOG [run.sh options and trainer args...]: on hosts 1..HOSTS
    local n="$1" out="$2" log="$3"; shift 3
    netns_exec 1 launch/run.sh -n "$n" -t 1 --hostfile "$tmp/hosts$n" "${NETNS_MCA[@]}" "$@" run.out="$out" \
        >"$log" 2>"$log.err"
}
same() { # same A B: parameters (and with "all" the optimizer state) bitwise equal
    h5diff -q "$1/checkpoint.h5" "$2/checkpoint.h5" /params /params || return 1
    [ "${3:-}" != all ] || h5diff -q "$1/checkpoint.h5" "$2/checkpoint.h5" /optimizer /optimizer
}

# ---- 1. Bitwise identical to 1 x 1 on 2 and 3 hosts.
time_args=(configs/time.yaml data.train=970 data.test=0 train.batch=90 train.micro_batch=25 train.epochs=2
           train.log_every=5)
nmt_args=(configs/nmt.yaml data.train=640 data.test=64 train.epochs=1 train.bleu_samples=64 model.hidden_units=48)
launch/run.sh -n 1 -t 1 "${time_args[@]}" run.out="$tmp/time1" >"$tmp/time1.log" 2>&1 || fail "time 1x1"
launch/run.sh -n 1 -t 1 "${nmt_args[@]}" run.out="$tmp/nmt1" >"$tmp/nmt1.log" 2>&1 || fail "nmt 1x1"
for n in 2 3; do
    run "$n" "$tmp/time$n" "$tmp/time$n.log" "${time_args[@]}" || { cat "$tmp/time$n.log.err"; fail "time on $n hosts"; }
    has "^layout: $n ranks x 1 thread" <"$tmp/time$n.log" || fail "time on $n hosts: not $n ranks"
    same "$tmp/time1" "$tmp/time$n" || fail "time on $n hosts differs from 1x1"
    run "$n" "$tmp/nmt$n" "$tmp/nmt$n.log" "${nmt_args[@]}" || { cat "$tmp/nmt$n.log.err"; fail "nmt on $n hosts"; }
    same "$tmp/nmt1" "$tmp/nmt$n" || fail "nmt on $n hosts differs from 1x1"
    [ "$(grep '^eval' "$tmp/nmt1.log")" = "$(grep '^eval' "$tmp/nmt$n.log")" ] || fail "nmt on $n hosts: evaluation differs"
    echo "ok: time and nmt on $n hosts bitwise identical to 1x1"
done

# ---- 2. A host that fails ends the job within 10 s, named in one line.
long=(configs/time.yaml train.epochs=4 train.log_every=20 train.checkpoint_every=40)
start_bg() { # start_bg HOSTS NAME [options...]: in the background; pid in bg_pid
    local n="$1" name="$2"; shift 2
    rm -rf "$tmp/$name"
    run "$n" "$tmp/$name" "$tmp/$name.log" "$@" "${long[@]}" &
    bg_pid=$!
}
wait_step() { # wait_step NAME STEP: until the run logged STEP and has a checkpoint
    local k
    for k in $(seq 1 600); do
        if has "^step $2/" <"$tmp/$1.log" 2>/dev/null && [ -e "$tmp/$1/checkpoint.h5" ]; then return 0; fi
        kill -0 "$bg_pid" 2>/dev/null || { cat "$tmp/$1.log.err"; fail "$1 ended before step $2"; }
        sleep 0.1
    done
    tail -n 3 "$tmp/$1.log"; tail -n 20 "$tmp/$1.log.err"; netns_ps
    fail "$1 never reached step $2 in 60 s"
}
break_host() { # break_host kill|cut I
    if [ "$1" = kill ]; then
        local p; p="$(netns_pid "$2" trainer)"
        [ -n "$p" ] || fail "no trainer in host $2"
        kill -9 "$p"
    else
        netns_cut "$2"
    fi
}
ends_within() { # ends_within SECONDS: bg_pid ends, nonzero, that soon after t0; rc in rc
    rc=0
    wait "$bg_pid" || rc=$?
    took=$(echo "$(date +%s.%N) - $t0" | bc)
    awk -v t="$took" -v l="$1" 'BEGIN { exit !(t < l) }' || fail "took $took s (limit $1)"
}
for how in kill cut; do
    start_bg 2 "$how" 
    wait_step "$how" 60
    t0=$(date +%s.%N)
    break_host "$how" 2
    ends_within 10
    netns_mend 2
    netns_clear 2
    [ "$rc" -ne 0 ] || fail "$how: exit status 0"
    err="$tmp/$how.log.err"
    if [ "$how" = kill ]; then
        has "mpirun noticed that process rank 1 .* on node 10.77.0.2 exited on signal 9" <"$err" || { cat "$err"; fail "kill: no mpirun text"; }
        tail -n 1 "$err" | has "^run.sh: rank 1 on host 10.77.0.2 died: signal 9 (Killed); the job stopped" \
            || { cat "$err"; fail "kill: the last line must name host and rank"; }
    else
        has "lost communication with a remote daemon" <"$err" || { cat "$err"; fail "cut: no mpirun text"; }
        tail -n 1 "$err" | has "^run.sh: host 10.77.0.2 (rank 1) lost: its Open MPI daemon stopped answering" \
            || { cat "$err"; fail "cut: the last line must name host and rank"; }
    fi
    "$TRAINER" inspect "$tmp/$how/checkpoint.h5" | has "^step [0-9]*," || fail "$how: the checkpoint does not open"
    echo "ok: $how of host 2 ended the job in $took s (exit $rc), named it, checkpoint intact"
done

# ---- 3. Elastic restart: the job goes on without the failed host, exactly.
launch/run.sh -n 1 -t 1 "${long[@]}" run.out="$tmp/long1" >"$tmp/long1.log" 2>&1 || fail "long 1x1"
for how in kill cut; do
    start_bg 3 "re$how" --max-restarts 2
    wait_step "re$how" 60
    t0=$(date +%s.%N)
    break_host "$how" 2
    rc=0
    wait "$bg_pid" || rc=$?
    netns_mend 2
    netns_clear 2
    err="$tmp/re$how.log.err"
    [ "$rc" -eq 0 ] || { cat "$err"; fail "restart after $how: exit $rc"; }
    has "^run.sh: restart 1 of 2 (.*10.77.0.2.*): 2 rank(s) on 10.77.0.1 10.77.0.3, resuming" <"$err" \
        || { cat "$err"; fail "restart after $how: no restart line with its reason"; }
    has "^resumed from .* at step [1-9]" <"$tmp/re$how.log" || fail "restart after $how: did not resume"
    same "$tmp/long1" "$tmp/re$how" all || fail "restart after $how: differs from the uninterrupted 1x1 run"
    echo "ok: restart after $how: resumed on 2 hosts, bitwise identical to 1x1 (params and optimizer)"
done
start_bg 2 minranks --max-restarts 2 --min-ranks 2
wait_step minranks 60
break_host kill 2
rc=0
wait "$bg_pid" || rc=$?
[ "$rc" -eq 137 ] || fail "--min-ranks: exit $rc, wanted 137"
tail -n 1 "$tmp/minranks.log.err" | has "not relaunching: 1 rank(s) left, --min-ranks 2" || fail "--min-ranks: no line"
echo "ok: --min-ranks 2 with one host left: not relaunched, exit 137"
