#!/bin/sh
# bench/bench_seqlen.sh - how the Transformer's training step time and
# memory grow with the sequence length T (plugin transformer, task seq2seq,
# the sizes of configs/nmt_transformer.yaml) on a synthetic copy task: each
# source is T-1 words drawn from 32, its target the same words (+ </s>), so
# every position of both stacks is a real token (no padding to skip).
#
# For each T in LENGTHS: a fresh copy data set of BATCH x STEPS training
# pairs, one epoch of STEPS steps at train.batch BATCH on THREADS threads
# (1 rank), and from the run: ms per step (the "time per step" line),
# samples/s and tokens/s, and the peak RSS (/usr/bin/time -f %M). The
# attention is computed in blocks of 64 keys with an online softmax and
# keeps only each query's log-sum-exp for the backward, so what a step
# holds grows linearly in T (activations [n, T, D] and [n, T, F] per layer):
# the last columns give the peak RSS above the smallest T's, per token of the
# batch, which stays flat when memory is linear (T^2 attention matrices
# would make it grow with T). Attention maps and evaluation are off (a map
# [H, T, T] per saved sample is quadratic by nature).
#
# Environment: LENGTHS (default "20 64 256 1024"), STEPS (6), BATCH (8),
# THREADS (2), TRAINER (build/trainer), BENCH_OUT (a fresh mktemp -d).
set -u
cd "$(dirname "$0")/.." || exit 1
TRAINER=${TRAINER:-build/trainer}
LENGTHS=${LENGTHS:-"20 64 256 1024"}
STEPS=${STEPS:-6}
BATCH=${BATCH:-8}
THREADS=${THREADS:-2}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d)}
[ -x "$TRAINER" ] || { echo "bench_seqlen: no trainer at $TRAINER (build first)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench_seqlen: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
micro=$((BATCH / THREADS))
[ "$micro" -ge 1 ] || micro=1

echo "bench_seqlen: transformer seq2seq (d_model 128, 4 heads, 2+2 layers, ff 512), copy task,"
echo "  batch $BATCH (micro-shards of $micro), $THREADS threads, $STEPS steps per length; logs in $BENCH_OUT"
printf '%6s %10s %10s %10s %10s %12s\n' T ms/step samples/s tokens/s "peak MiB" "KiB/token+"
base=""
for T in $LENGTHS; do
    d="$BENCH_OUT/T$T"
    mkdir -p "$d"
    awk -v n=$((BATCH * STEPS + BATCH)) -v len=$((T - 1)) -v seed="$T" -v src="$d/src.txt" -v tgt="$d/tgt.txt" 'BEGIN {
        srand(seed)
        for (i = 0; i < n; i++) {
            line = ""
            for (t = 0; t < len; t++) line = line (t ? " " : "") "w" int(rand() * 32)
            print line > src
            print line > tgt
        }
    }'
    OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1 /usr/bin/time -f %M -o "$d/rss" "$TRAINER" \
        configs/nmt_transformer.yaml data.source="$d/src.txt" data.target="$d/tgt.txt" \
        data.train=$((BATCH * STEPS)) data.test=$BATCH data.src_len="$T" data.tgt_len="$T" \
        train.batch="$BATCH" train.micro_batch="$micro" train.epochs=1 train.log_every=1 \
        train.attention_samples=0 train.bleu_samples=0 run.out="$d/run" >"$d/log" 2>&1 \
        || { tail -n 3 "$d/log"; echo "bench_seqlen: T=$T failed (log: $d/log)" >&2; exit 1; }
    ms=$(sed -n 's/^time per step (rank 0): \([0-9.]*\) ms.*/\1/p' "$d/log")
    rate=$(sed -n 's/^train done: .* s, \([0-9.]*\) samples\/s.*/\1/p' "$d/log")
    kib=$(tail -n 1 "$d/rss")
    [ -n "$base" ] || { base=$kib; bt=$T; }
    awk -v T="$T" -v ms="$ms" -v r="$rate" -v k="$kib" -v b="$base" -v bt="$bt" -v n="$BATCH" 'BEGIN {
        per = T > bt ? sprintf("%.1f", (k - b) / (n * (T - bt))) : "-"
        printf "%6d %10.1f %10.1f %10.0f %10.1f %12s\n", T, ms, r, r * T, k / 1024, per
    }'
done
