#!/usr/bin/env bash
# tests/cli/kill_anywhere.sh TRAINER [RANKS] [KILLS] - one training run
# killed with SIGKILL at KILLS (30) random moments and resumed each time by
# re-running the same command, on 1 rank (the trainer itself) or RANKS ranks
# (launch/run.sh -n RANKS: mpirun and every rank killed together). Writes are
# slowed (TR_TEST_SLOW_WRITE: 4 KiB pieces, a pause after each) so that
# many kills land inside a checkpoint, attention.h5 or metrics.csv write;
# others land in steps and evaluations. After every kill the checkpoint
# opens; every resume starts; at the end the parameters and optimizer state
# are bitwise identical to an uninterrupted run's, metrics.csv holds the same
# rows (no duplicate, none missing; all but samples/s equal), attention.h5
# the same evaluations and best.h5 (train.keep_best) the same model. Run from the repository root. TR_KILL_SEED fixes the
# moments (printed).
set -euo pipefail
trainer="$1" ranks="${2:-1}" kills="${3:-30}"
trainer="$(cd "$(dirname "$trainer")" && pwd)/$(basename "$trainer")"
tmp="$(mktemp -d)"
sid=""
cleanup() { [ -z "$sid" ] || pkill -KILL -s "$sid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TRAINER="$trainer"
[ "$ranks" -gt 1 ] || export OMP_NUM_THREADS=2
seed="${TR_KILL_SEED:-$(( $(date +%s) % 32768 ))}"
RANDOM=$seed
echo "kill_anywhere: $ranks rank(s), $kills kills, TR_KILL_SEED=$seed"

# evaluations every 2 epochs (attention.h5 and metrics.csv rows, best.h5
# when better), a checkpoint every 7 steps and at each epoch's end
every=7
args=(configs/time.yaml data.train=500 data.test=200 train.epochs=30 train.batch=50 train.eval_every=2
      train.checkpoint_every=$every train.log_every=1 train.attention_samples=4 train.keep_best=exact_match)
run() { # run OUT: the command the user re-runs
    if [ "$ranks" -gt 1 ]; then
        launch/run.sh -n "$ranks" "${args[@]}" run.out="$1"
    else
        "$trainer" "${args[@]}" run.out="$1"
    fi
}
run "$tmp/ref" >"$tmp/ref.log" 2>&1 || { tail "$tmp/ref.log"; fail "the uninterrupted run"; }

out="$tmp/killed"
total=$(sed -n 's/^step [0-9]*\/\([0-9]*\) .*/\1/p' "$tmp/ref.log" | head -n 1)
[ -n "$total" ] || fail "no progress lines in the uninterrupted run"
in_write=0 in_step=0 in_eval=0 in_start=0 k=0 attempt=0
at_step() { sed -n 's/^step \([0-9]*\)\/.*/\1/p' "$1" | tail -n 1; }
while [ "$k" -lt "$kills" ]; do
    attempt=$((attempt + 1))
    log="$tmp/attempt$attempt.log"
    rm -f "$tmp/sid"
    # The moment, whatever the machine's speed: one kill in 6 while starting
    # (reading the checkpoint, the data) at a random time; two in 6 just
    # after a checkpoint step (0-5 ms: inside its write, slowed); three in 6
    # right after a step that is not one, by the trainer's own test hook
    # (TR_TEST_FAIL=0:STEP:sigkill: SIGKILL after that step), since polling
    # the log is slower than a step. The steps are drawn from the rest of the
    # run, spread so that the kills never run out of run.
    done_steps="$(cat "$tmp"/attempt*.log 2>/dev/null | sed -n 's/^step \([0-9]*\)\/.*/\1/p' | sort -n | tail -n 1 || true)"
    done_steps="${done_steps:-0}"
    left=$(( kills - k ))
    span=$(( (total - done_steps) / (left + 1) )); [ "$span" -ge 1 ] || span=1   # half the fair share, on average
    target=$(( done_steps + 1 + RANDOM % span ))
    hook=""
    case $((RANDOM % 6)) in
        0) kind=start; target=0; pause_ms=$(( RANDOM % 400 )) ;;
        1|2) kind=write; target=$(( (target + every - 1) / every * every )); pause_ms=$(( RANDOM % 6 )) ;;
        *) kind=step; [ $((target % every)) -ne 0 ] || target=$((target + 1)); pause_ms=0
           hook="export TR_TEST_FAIL=0:$target:sigkill;" ;;
    esac
    # a session of its own (its id in $tmp/sid), so that the kill reaches
    # mpirun and every rank; the subshell keeps bash from reporting the kill
    ( setsid bash -c "echo \$\$ >'$tmp/sid'; $(declare -f run); $(declare -p args ranks trainer); $hook
          export TR_TEST_SLOW_WRITE=150; run '$out'; exit \$?"; exit $? ) >"$log" 2>&1 &
    pid=$!
    for w in $(seq 1 200); do [ -s "$tmp/sid" ] && break; sleep 0.01; done
    sid="$(cat "$tmp/sid")"
    while kill -0 "$pid" 2>/dev/null && [ "$(at_step "$log")" -lt "$target" ] 2>/dev/null \
          || { [ "$target" -gt 0 ] && [ -z "$(at_step "$log")" ] && kill -0 "$pid" 2>/dev/null; }; do
        sleep 0.01
    done
    sleep "0.$(printf '%03d' "$pause_ms")"
    if [ "$kind" = step ]; then   # it kills itself after step $target: wait for that
        for w in $(seq 1 3000); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        rc=0; wait "$pid" || rc=$?
        [ "$rc" -ne 0 ] || break   # finished before its kill: the run is complete
        [ "$kind" = step ] && [ "$(at_step "$log")" = "$target" ] \
            || { cat "$log"; fail "attempt $attempt ended on its own (exit $rc) before its kill"; }
    fi
    pkill -KILL -s "$sid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for w in $(seq 1 100); do pgrep -s "$sid" >/dev/null || break; sleep 0.05; done
    pgrep -s "$sid" >/dev/null && fail "attempt $attempt: processes left after SIGKILL"
    sid=""
    k=$((k + 1))
    # where it was: inside a write (a .tmp file left), or the last line printed
    last="$(grep -E '^(step|eval|saved|resumed)' "$log" | tail -n 1 || true)"
    if ls "$out"/*.tmp >/dev/null 2>&1; then
        in_write=$((in_write + 1)); where="writing $(basename "$(ls "$out"/*.tmp | head -n 1)")"
        rm -f "$out"/*.tmp   # (a leftover .tmp is overwritten by the next write anyway)
    elif [[ "$last" == eval* ]]; then
        in_eval=$((in_eval + 1)); where="just after an evaluation"
    elif [[ "$last" == step* ]]; then
        in_step=$((in_step + 1)); where="training or evaluating (${last%%  epoch*})"
    else
        in_start=$((in_start + 1)); where="starting"
    fi
    echo "kill $k (attempt $attempt, after step $target + ${pause_ms} ms): $where"
    # the checkpoint left behind opens
    if [ -e "$out/checkpoint.h5" ]; then
        "$trainer" inspect "$out/checkpoint.h5" >"$tmp/inspect" 2>&1 \
            || { cat "$tmp/inspect"; fail "kill $k: the checkpoint left behind does not open"; }
    fi
    if grep -q "^trainer: " "$log"; then cat "$log"; fail "attempt $attempt printed an error"; fi
done
echo "kills: $k ($in_write inside a write, $in_step in training or an evaluation, $in_eval just after an evaluation, $in_start while starting)"
[ "$k" -eq "$kills" ] || fail "the run completed after $k kills: make it longer"
[ "$in_write" -ge 3 ] || fail "only $in_write kills landed inside a write"
[ "$in_step" -ge 3 ] || fail "only $in_step kills landed in training steps"

# the last attempt: to the end
run "$out" >"$tmp/final.log" 2>&1 || { tail "$tmp/final.log"; fail "the final resume"; }
grep -q "^resumed from" "$tmp/final.log" || fail "the final attempt did not resume"
h5diff -q "$tmp/ref/checkpoint.h5" "$out/checkpoint.h5" /params /params || fail "parameters differ from the uninterrupted run"
h5diff -q "$tmp/ref/checkpoint.h5" "$out/checkpoint.h5" /optimizer /optimizer || fail "optimizer state differs"
h5diff -q "$tmp/ref/best.h5" "$out/best.h5" /params /params || fail "best.h5 differs from the uninterrupted run's"
for a in best_step evals_since_best; do
    [ "$(h5dump -a "/$a" "$tmp/ref/checkpoint.h5" | grep '(0)')" = "$(h5dump -a "/$a" "$out/checkpoint.h5" | grep '(0)')" ] \
        || fail "the checkpoint's $a differs from the uninterrupted run's"
done
# metrics.csv: the same rows, samples/s (column 6) aside
cut -d, -f1-5,7- "$tmp/ref/metrics.csv" >"$tmp/ref.csv"
cut -d, -f1-5,7- "$out/metrics.csv" >"$tmp/killed.csv"
diff "$tmp/ref.csv" "$tmp/killed.csv" >"$tmp/csv.diff" || { head -n 20 "$tmp/csv.diff"; fail "metrics.csv differs from the uninterrupted run's"; }
# attention.h5: the same evaluations, each the same
groups() { h5ls "$1" | awk '{ print $1 }' | sort; }
[ "$(groups "$tmp/ref/attention.h5")" = "$(groups "$out/attention.h5")" ] \
    || fail "attention.h5 holds other evaluations: $(groups "$out/attention.h5" | paste -sd' ')"
for g in $(groups "$tmp/ref/attention.h5"); do
    h5diff -q "$tmp/ref/attention.h5" "$out/attention.h5" "/$g" "/$g" || fail "attention.h5: /$g differs"
done
echo "ok: $k SIGKILLs on $ranks rank(s) ($in_write inside a write), resumed each time: parameters, optimizer," \
     "metrics.csv ($(grep -c '^[0-9]' "$out/metrics.csv") rows) and attention.h5 ($(groups "$out/attention.h5" | wc -l)" \
     "evaluations) as the uninterrupted run's"
