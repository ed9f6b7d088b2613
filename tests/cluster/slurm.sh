#!/usr/bin/env bash
# tests/cluster/slurm.sh TRAINER - launch/slurm.sbatch on a real one-node
# Slurm (tests/cluster/slurmd.sh), 2 tasks (run from the repository root;
# needs root):
#   - preemption as Slurm does it: scancel --signal=TERM to the job's steps;
#     the trainer saves and exits, the script requeues the job, the job
#     starts again, resumes, and ends bitwise identical (parameters and
#     optimizer state) to an uninterrupted run; scontrol shows Restarts=1;
#   - the warning signal Slurm sends by itself before the time limit
#     (--time=2 --signal=TERM@60): the same, with no one calling scancel.
# The daemons and their folder are removed however the test ends.
set -euo pipefail
export TRAINER="$1"
fail() { echo "FAIL: $*"; exit 1; }
show() { # show NAME: what the job printed and what Slurm says of it (a job that never started has no output)
    cat "$tmp/$1.out" 2>/dev/null || echo "($1: no output: the job never started)"
    [ -z "${job:-}" ] || scontrol show job "$job" 2>&1 | tr -s ' ' '\n' | grep -E '^(JobState|Reason|Restarts|BatchHost|ExitCode)=' | paste -sd' '
    tail -n 8 "$tmp"/slurm/log/slurmctld.log 2>/dev/null || true
}
has() { grep -q "$@" <<<"$(cat)"; }
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root"; exit 77; fi
for c in slurmctld slurmd munged sbatch; do
    command -v "$c" >/dev/null || { echo "skipped: needs slurm-wlm and munge ($c)"; exit 77; }
done
tmp="$(mktemp -d)"
. tests/cluster/slurmd.sh
trap 'slurm_down; rm -rf "$tmp"' EXIT
rc=0; slurm_up "$tmp/slurm" || rc=$?
[ "$rc" -ne 2 ] || { echo "skipped: a Slurm already runs on this machine"; exit 77; }
[ "$rc" -eq 0 ] || { cat "$tmp"/slurm/log/*.log 2>/dev/null | tail -n 20; fail "the one-node Slurm did not start"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Slurm's warning signal for --time=2 --signal=TERM@60 comes 60-90 s after a
# start (it checks time limits every 30 s): the run must last longer than that
# on any machine, so its length comes from how fast a short run trains here
base=(configs/time.yaml data.test=0 train.log_every=40 train.checkpoint_every=400)
t0=$(date +%s%N)
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 "$TRAINER" "${base[@]}" train.epochs=5 run.out="$tmp/calib" >"$tmp/calib.log" 2>&1 \
    || { tail "$tmp/calib.log"; fail "the calibration run"; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
epochs=$(( 5 * 120000 / (ms > 1 ? ms : 1) ))
[ "$epochs" -ge 30 ] || epochs=30
args=("${base[@]}" train.epochs="$epochs")
echo "5 epochs took $ms ms here: $epochs epochs for ~120 s"
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 "$TRAINER" "${args[@]}" run.out="$tmp/ref" >"$tmp/ref.log" 2>&1 \
    || { tail "$tmp/ref.log"; fail "the uninterrupted run"; }

field() { scontrol show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
submit() { # submit NAME [sbatch options]: job id in job
    local name="$1"; shift
    job="$(sbatch --parsable --export=ALL,TRAINER="$TRAINER" --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
        --output="$tmp/$name.out" "$@" launch/slurm.sbatch "${args[@]}" run.out="$tmp/$name")" \
        || fail "$name: sbatch refused the script"
}
follow() { # follow NAME: until the job completes, starting it again at once whenever requeued
    local k state
    for k in $(seq 1 1200); do
        state="$(field "$job" JobState)"
        case "$state" in
            COMPLETED) return 0 ;;
            # Slurm holds a requeued job ~2 min (BeginTime): start it once the last start has ended
            PENDING) [ "$(field "$job" Reason)" != BeginTime ] || ! slurm_idle || scontrol update JobId="$job" StartTime=now ;;
            CANCELLED|FAILED|TIMEOUT|NODE_FAIL|BOOT_FAIL|OUT_OF_MEMORY|DEADLINE|PREEMPTED)
                show "$1"; fail "$1: job $job ended $state" ;;
            *) ;;   # RUNNING, CONFIGURING, REQUEUED, COMPLETING, ... (or scontrol busy: empty)
        esac
        sleep 0.5
    done
    fail "$1: job $job still $state after 10 minutes"
}
check() { # check NAME: stopped by TERM, requeued, resumed, bitwise identical
    local out="$tmp/$1.out" restarts
    follow "$1"
    has "^trainer: rank 0: stopped by signal 15 at step [1-9][0-9]*; checkpoint saved" <"$out" || { show "$1"; fail "$1: no save on TERM"; }
    has "^slurm.sbatch: stopped by a signal (exit 143); requeueing job $job" <"$out" || { show "$1"; fail "$1: not requeued"; }
    has "^slurm.sbatch: job $job start 1 on .*: 2 ranks x 1 threads" <"$out" || { show "$1"; fail "$1: no second start"; }
    has "^resumed from .* at step [1-9]" <"$out" || { show "$1"; fail "$1: did not resume"; }
    restarts="$(field "$job" Restarts)"
    [ "${restarts:-0}" -ge 1 ] || fail "$1: scontrol shows Restarts=$restarts"
    h5diff -q "$tmp/ref/checkpoint.h5" "$tmp/$1/checkpoint.h5" /params /params || fail "$1: parameters differ from the uninterrupted run"
    h5diff -q "$tmp/ref/checkpoint.h5" "$tmp/$1/checkpoint.h5" /optimizer /optimizer || fail "$1: optimizer state differs"
    echo "ok: $1: saved at $(sed -n 's/^trainer: rank 0: stopped by signal 15 at step \([0-9]*\).*/\1/p' "$out" | paste -sd,), requeued," \
         "resumed, Restarts=$restarts, bitwise identical to the uninterrupted run"
}

# ---- 1. Preemption: TERM to the job's steps, then requeued.
submit preempt
for k in $(seq 1 1200); do
    grep -q "^step 400/" "$tmp/preempt.out" 2>/dev/null && break
    # only a job that has ended is a failure: a starting one is PENDING, CONFIGURING or RUNNING
    case "$(field "$job" JobState)" in
        COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|BOOT_FAIL|OUT_OF_MEMORY|DEADLINE|PREEMPTED)
            show preempt; fail "preempt: job $job ended $(field "$job" JobState) before step 400" ;;
    esac
    sleep 0.1
done
scancel --signal=TERM "$job"
check preempt

# ---- 2. Slurm's own warning before the time limit.
submit timelimit --time=2 --signal=TERM@60
check timelimit
echo "slurm: all passed"
