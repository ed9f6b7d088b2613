#!/usr/bin/env bash
# launch/run.sh - run the trainer on this machine or a cluster, adding what
# Open MPI needs so the command stays short:
#
#   launch/run.sh configs/time.yaml                    1 process, all cores as threads
#   launch/run.sh -n 4 configs/time.yaml               4 ranks, cores/4 threads each
#   launch/run.sh -n 2 -t 1 configs/time.yaml train.epochs=5
#   launch/run.sh -n 8 --hostfile hosts configs/time.yaml   several machines
#
# Installed with the trainer as `trainer-run` (same options).
#
# It sets OMP_NUM_THREADS (default: this machine's cores / ranks, at least 1)
# and OPENBLAS_NUM_THREADS=1 on every rank, oversubscribes when there are more
# ranks than cores (with OMP_WAIT_POLICY=PASSIVE, so idle threads sleep),
# unbinds ranks that run several threads (Open MPI binds a rank to one core
# by default), allows running as root, and keeps mpirun's own banners quiet
# so an error is the trainer's one line.
# TRAINER=path/to/trainer picks the binary (default: the `trainer` next to
# this script when installed, else the checkout's build/trainer, else PATH).
set -euo pipefail
self="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
name="$(basename "$0")"
ranks=1 threads="" hostfile=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--ranks) ranks="$2"; shift 2 ;;
        -t|--threads) threads="$2"; shift 2 ;;
        --hostfile) hostfile="$2"; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "$name: no config given (see $name --help)" >&2; exit 2; }
case "$ranks" in ''|*[!0-9]*|0) echo "$name: -n wants a positive number of ranks, got '$ranks'" >&2; exit 2 ;; esac
cores="$(nproc)"
if [ -z "$threads" ]; then
    threads=$(( cores / ranks ))
    [ "$threads" -ge 1 ] || threads=1
fi
case "$threads" in ''|*[!0-9]*|0) echo "$name: -t wants a positive number of threads, got '$threads'" >&2; exit 2 ;; esac

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
args=(-q -n "$ranks" -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS)
[ -n "${TR_TEST_FAIL:-}" ] && args+=(-x TR_TEST_FAIL)
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [ -n "$hostfile" ]; then
    args+=(--hostfile "$hostfile")
    [ "$threads" -gt 1 ] && args+=(--map-by "slot:PE=$threads" --bind-to core)
else
    args+=(--mca pml ob1)  # shared memory on one machine; starts faster
    if [ $(( ranks * threads )) -gt "$cores" ] || [ "$ranks" -gt "$cores" ]; then
        # more threads than cores: idle OpenMP threads must sleep, not spin
        export OMP_WAIT_POLICY=PASSIVE
        args+=(--oversubscribe --bind-to none -x OMP_WAIT_POLICY)
    elif [ "$threads" -gt 1 ]; then
        args+=(--bind-to none)
    fi
fi
exec mpirun "${args[@]}" "$trainer" "$@"
