#!/usr/bin/env bash
# launch/run.sh - run the trainer on this machine or a cluster, adding what
# Open MPI needs so the command stays short:
#
#   launch/run.sh configs/time.yaml                    1 process, all cores as threads
#   launch/run.sh -n 4 configs/time.yaml               4 ranks, cores/4 threads each
#   launch/run.sh -n 2 -t 1 configs/time.yaml train.epochs=5
#   launch/run.sh -n 8 --hostfile hosts configs/time.yaml   several machines
#   launch/run.sh -n 8 --hostfile hosts --net 10.1.0.0/16 --max-restarts 2 configs/time.yaml
#
# Options (before the config):
#   -n, --ranks N       MPI ranks (default 1)
#   -t, --threads T     OpenMP threads per rank (default: cores / ranks)
#   --hostfile FILE     Open MPI hostfile: "host slots=N" lines
#   --net CIDR          keep Open MPI's TCP traffic (daemons and ranks) on that network
#   --mca KEY VALUE     passed to mpirun as --mca KEY VALUE (repeatable; wins over ours)
#   --max-restarts N    after a host fails, relaunch on the hosts left (its ranks
#                       dropped); the trainer resumes from its last checkpoint
#   --min-ranks M       do not relaunch with fewer than M ranks (default 1)
#
# Installed with the trainer as `trainer-run` (same options).
#
# It sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS=1 on every rank,
# oversubscribes when there are more ranks than cores (with
# OMP_WAIT_POLICY=PASSIVE, so idle threads sleep), unbinds ranks that run
# several threads, allows running as root, and drops mpirun's banners that
# only repeat a trainer's error line. With --hostfile a lost host is noticed
# within about 6 s (TCP keepalive on mpirun's daemon links: idle 2 s, then 3
# probes 1 s apart), a host or rank that failed is named in one line, and
# the daemons do not share their topology through a fixed mapping (it
# crashes some daemon starts; see below).
# TRAINER=path/to/trainer picks the binary (default: the `trainer` next to
# this script when installed, else the checkout's build/trainer, else PATH).
set -euo pipefail
self="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
name="$(basename "$0")"
ranks=1 threads="" hostfile="" net="" max_restarts=0 min_ranks=1 user_mca=()
need() { [ $# -ge 2 ] || { echo "$name: $1 wants a value (see $name --help)" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--ranks) need "$@"; ranks="$2"; shift 2 ;;
        -t|--threads) need "$@"; threads="$2"; shift 2 ;;
        --hostfile) need "$@"; hostfile="$2"; shift 2 ;;
        --net) need "$@"; net="$2"; shift 2 ;;
        --mca) [ $# -ge 3 ] || { echo "$name: --mca wants a key and a value" >&2; exit 2; }
               user_mca+=(--mca "$2" "$3"); shift 3 ;;
        --max-restarts) need "$@"; max_restarts="$2"; shift 2 ;;
        --min-ranks) need "$@"; min_ranks="$2"; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "$name: no config given (see $name --help)" >&2; exit 2; }
number() { case "$2" in ''|*[!0-9]*) echo "$name: $1 wants a number, got '$2'" >&2; exit 2 ;; esac; }
number -n "$ranks"; number --max-restarts "$max_restarts"; number --min-ranks "$min_ranks"
[ "$ranks" -ge 1 ] || { echo "$name: -n wants a positive number of ranks, got '$ranks'" >&2; exit 2; }
cores="$(nproc)"
if [ -z "$threads" ]; then
    threads=$(( cores / ranks ))
    [ "$threads" -ge 1 ] || threads=1
fi
case "$threads" in ''|*[!0-9]*|0) echo "$name: -t wants a positive number of threads, got '$threads'" >&2; exit 2 ;; esac
case "$net" in ''|*/*) ;; *) echo "$name: --net wants a network as address/bits (e.g. 10.1.0.0/16), got '$net'" >&2; exit 2 ;; esac
if [ "$max_restarts" -gt 0 ] && [ -z "$hostfile" ]; then
    echo "$name: --max-restarts needs --hostfile (it relaunches on the hosts left)" >&2; exit 2
fi
if [ -n "$hostfile" ] && [ ! -r "$hostfile" ]; then
    echo "$name: cannot read hostfile '$hostfile'" >&2; exit 2
fi

trainer="${TRAINER:-}"
if [ -z "$trainer" ]; then
    if [ -x "$self/trainer" ]; then trainer="$self/trainer"          # installed: bin/trainer-run
    elif [ -x "$self/../build/trainer" ]; then trainer="$(cd "$self/../build" && pwd)/trainer"  # launch/run.sh
    elif command -v trainer >/dev/null; then trainer="$(command -v trainer)"
    else echo "$name: no trainer binary: build it with launch/setup.sh or set TRAINER=" >&2; exit 2; fi
fi
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS=1

if [ "$ranks" -eq 1 ] && [ -z "$hostfile" ]; then
    exec "$trainer" "$@"
fi

command -v mpirun >/dev/null || { echo "$name: mpirun not found (apt-get install openmpi-bin)" >&2; exit 2; }
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/trainer-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The hostfile's hosts and slots, in order ("host slots" per line); a line
# without slots= counts 1 here (only for naming ranks and dropping hosts).
hosts_of() {
    sed 's/#.*//' "$1" | awk 'NF { s = 1; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) s = substr($i, 7) + 0; print $1, s }'
}
# The ranks Open MPI maps to HOST of hostfile FILE with N ranks (by slot, hosts in order).
ranks_on() {
    hosts_of "$2" | awk -v h="$1" -v n="$3" '{ for (i = 0; i < $2 && r < n; i++) { if ($1 == h) out = out (out ? "," : "") r; r++ } }
                                             END { print out }'
}

# mpirun's stderr, passed on: the banners that only repeat a trainer's own
# error line ("... returned a non-zero exit code", "exited with non-zero
# status") are dropped; all of it goes to the log read by failure().
filter() {
    awk -v lf="$1" '
        function done_block() { if (blk !~ /returned\na non-zero exit code|exited with non-zero status/) printf "%s", blk; fflush(); blk = "" }
        { print > lf; fflush(lf) }
        /^-----------------+$/ { blk = blk $0 "\n"; if (inblk) { inblk = 0; done_block() } else inblk = 1; next }
        inblk { blk = blk $0 "\n"; next }
        { print; fflush() }
        END { if (inblk) printf "%s", blk }'
}

# After a failed run: sets why, bad_host (empty when no host is to blame:
# the trainer's own error, which a relaunch would only repeat).
failure() { # failure LOG HOSTFILE RANKS STATUS
    local log="$1" hf="$2" n="$3" r
    why="" bad_host=""
    local line
    line="$(grep -m 1 -E 'mpirun noticed that process rank [0-9]+ .* on node [^ ]+ exited on signal' "$log" || true)"
    if [ -n "$line" ]; then
        bad_host="$(sed -E 's/.* on node ([^ ]+) exited.*/\1/' <<<"$line")"
        r="$(sed -E 's/.*process rank ([0-9]+) .*/\1/' <<<"$line")"
        why="rank $r on host $bad_host died: $(sed -E 's/.*exited on (signal [0-9]+( \([^)]*\))?).*/\1/' <<<"$line")"
        return
    fi
    line="$(grep -m 1 -E '^ *Remote daemon: .* on node [^ ]+' "$log" || true)"
    if [ -n "$line" ] && grep -q -E 'lost communication with a remote daemon|daemon has unexpectedly failed|unable to reliably start' "$log"; then
        bad_host="$(sed -E 's/.* on node ([^ ]+).*/\1/' <<<"$line")"
        r="$(ranks_on "$bad_host" "$hf" "$n")"
        case "$r" in *,*) r="ranks $r" ;; '') r="no rank" ;; *) r="rank $r" ;; esac
        why="host $bad_host ($r) lost: its Open MPI daemon stopped answering (the network or the host is down)"
        return
    fi
    line="$(grep -m 1 -E 'on node [^ ]+' "$log" | grep -i -E 'daemon|ssh|rsh|start' || true)"
    if [ -n "$line" ]; then
        bad_host="$(sed -E 's/.* on node ([^ ]+).*/\1/' <<<"$line" | tr -d '.,:' )"
        why="host $bad_host failed: $line"
        return
    fi
    # mpirun itself killed by a signal, with no word of why (Open MPI 4.1's
    # mpirun can crash as it shuts down after a daemon's failure)
    if [ "$4" -gt 128 ] && [ "$4" -lt 160 ] && ! grep -q . "$log"; then
        why="mpirun died of signal $(( $4 - 128 ))$(kill -l $(( $4 - 128 )) 2>/dev/null | sed 's/^/ (SIG/; s/$/)/') and said nothing"
    fi
}

# One mpirun; returns its exit status. Signals to this script go on to mpirun,
# which hands them to the ranks (the trainer checkpoints on SIGTERM/SIGINT).
run_mpi() {
    local hf="$1" n="$2"; shift 2
    local args=(-n "$n" -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS)
    [ -n "${TR_TEST_FAIL:-}" ] && args+=(-x TR_TEST_FAIL)
    if [ -n "$hf" ]; then
        # rtc_hwloc_vmhole none: Open MPI 4.1's daemons otherwise map the
        # topology into the "biggest hole" of their address space, and about
        # 1 start in 20 segfaults there (hwloc_shmem_topology_write) and
        # leaves mpirun waiting for that daemon forever
        args+=(--hostfile "$hf" --mca oob_tcp_keepalive_time 2 --mca oob_tcp_keepalive_intvl 1
               --mca oob_tcp_keepalive_probes 3 --mca rtc_hwloc_vmhole none)
        [ "$threads" -gt 1 ] && args+=(--map-by "slot:PE=$threads" --bind-to core)
    else
        args+=(--mca pml ob1)  # shared memory on one machine; starts faster
        if [ $(( n * threads )) -gt "$cores" ] || [ "$n" -gt "$cores" ]; then
            # more threads than cores: idle OpenMP threads must sleep, not spin
            export OMP_WAIT_POLICY=PASSIVE
            args+=(--oversubscribe --bind-to none -x OMP_WAIT_POLICY)
        elif [ "$threads" -gt 1 ]; then
            args+=(--bind-to none)
        fi
    fi
    [ -n "$net" ] && args+=(--mca oob_tcp_if_include "$net" --mca btl_tcp_if_include "$net")
    args+=("${user_mca[@]}")
    rm -f "$work/err"
    : >"$work/log"  # failure() reads it even when mpirun wrote nothing
    mkfifo "$work/err"
    filter "$work/log" <"$work/err" >&2 &
    local fpid=$! mpid rc=0
    mpirun "${args[@]}" "$trainer" "$@" 0<&0 2>"$work/err" &
    mpid=$!
    trap 'kill -TERM $mpid 2>/dev/null || true' TERM
    trap 'kill -INT $mpid 2>/dev/null || true' INT
    trap 'kill -HUP $mpid 2>/dev/null || true' HUP
    while :; do
        rc=0
        wait "$mpid" || rc=$?
        kill -0 "$mpid" 2>/dev/null || break  # a trapped signal interrupts wait
    done
    trap - TERM INT HUP
    wait "$fpid" || true
    return "$rc"
}

hf="$hostfile" restarts=0 args=("$@")
while :; do
    rc=0
    run_mpi "$hf" "$ranks" "${args[@]}" || rc=$?
    [ "$rc" -ne 0 ] || exit 0
    failure "$work/log" "$hf" "$ranks" "$rc"
    [ -n "$why" ] && echo "$name: $why; the job stopped (exit $rc)" >&2
    [ -n "$bad_host" ] && [ "$restarts" -lt "$max_restarts" ] || exit "$rc"
    # relaunch without the failed host and its ranks
    gone="$(ranks_on "$bad_host" "$hf" "$ranks")"
    gone="$(awk -F, '{ print NF }' <<<"$gone")"
    if [ "${gone:-0}" -eq 0 ]; then
        echo "$name: not relaunching: host $bad_host runs none of the hostfile's ranks" >&2
        exit "$rc"
    fi
    left="$(hosts_of "$hf" | awk -v h="$bad_host" '$1 != h { print $1 " slots=" $2 }')"
    ranks=$(( ranks - ${gone:-0} ))
    if [ -z "$left" ] || [ "$ranks" -lt "$min_ranks" ] || [ "$ranks" -lt 1 ]; then
        echo "$name: not relaunching: $ranks rank(s) left, --min-ranks $min_ranks" >&2
        exit "$rc"
    fi
    restarts=$(( restarts + 1 ))
    printf '%s\n' "$left" >"$work/hosts.$restarts"
    hf="$work/hosts.$restarts"
    # resume, never start over: the run's checkpoint holds the work done
    for i in "${!args[@]}"; do [ "${args[$i]}" = --fresh ] && unset 'args[i]'; done
    args=("${args[@]}")
    echo "$name: restart $restarts of $max_restarts ($why): $ranks rank(s) on $(awk '{ printf "%s%s", s, $1; s = " " }' "$hf"), resuming from the last checkpoint" >&2
done
