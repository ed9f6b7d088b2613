# bench/lib.sh - what the side-by-side benches share (POSIX sh, sourced after
# BENCH_NAME, BENCH_OUT, TRAINER, CONFIG and PYTHON are set): which sides can
# run, peak-RSS measurement, and reading the "train done: ... samples/s" lines.

# have_trainer=1 when the trainer binary and config exist (else the bench
# runs the PyTorch side only); PyTorch itself is required.
have_trainer=1
if [ ! -x "$TRAINER" ]; then
    echo "$BENCH_NAME: trainer binary '$TRAINER' not found (build it first," \
         "or set TRAINER=...); running the PyTorch side only" >&2
    have_trainer=0
elif [ ! -f "$CONFIG" ]; then
    echo "$BENCH_NAME: trainer config '$CONFIG' not found; running the" \
         "PyTorch side only" >&2
    have_trainer=0
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "$BENCH_NAME: '$PYTHON' cannot import torch (set PYTHON=...)" >&2
    exit 1
fi

# Peak RSS: /usr/bin/time, else a getrusage wrapper (RSS_TOOL=time|python
# forces one, for testing the fallback).
RSS_TOOL=${RSS_TOOL:-}
if [ -z "$RSS_TOOL" ]; then
    if [ -x /usr/bin/time ]; then RSS_TOOL="time"; else RSS_TOOL="python"; fi
fi
cat > "$BENCH_OUT/maxrss.py" <<'EOF'
import resource, subprocess, sys
out, cmd = sys.argv[1], sys.argv[2:]
rc = subprocess.call(cmd)
kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
with open(out, "w") as f:
    f.write("%d\n" % kib)
sys.exit(rc)
EOF

# run_measured LOG RSSFILE CMD... : runs CMD with stdout+stderr to LOG and its
# peak RSS in KiB to RSSFILE; returns CMD's exit status
run_measured() {
    log=$1; rssf=$2; shift 2
    if [ "$RSS_TOOL" = time ]; then
        /usr/bin/time -f %M -o "$rssf" "$@" > "$log" 2>&1
    else
        "$PYTHON" "$BENCH_OUT/maxrss.py" "$rssf" "$@" > "$log" 2>&1
    fi
}

# samples/s from a log, or empty
rate_of() {
    sed -n 's/^.*train done: [0-9][0-9]* samples in [0-9.]* s, \([0-9.]*\) samples\/s.*$/\1/p' "$1" | tail -n 1
}

# KiB in an RSS file (/usr/bin/time may add lines before the number), or empty
kib_of() {
    [ -s "$1" ] || return 0
    tail -n 1 "$1" | awk '/^[0-9]+$/ { print $1 }'
}

# MiB in an RSS file, or empty
mib_of() {
    k=$(kib_of "$1")
    [ -n "$k" ] && awk -v k="$k" 'BEGIN { printf "%.1f", k / 1024 }'
}

report_fail() {
    echo "$BENCH_NAME: $1 failed (exit $2); last lines of $3:" >&2
    tail -n 5 "$3" | sed 's/^/    /' >&2
}
