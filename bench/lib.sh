# bench/lib.sh - what the side-by-side benches share (POSIX sh, sourced from
# the repository root after BENCH_NAME, BENCH_OUT, TRAINER, CONFIG and PYTHON
# are set; CONFIG may be empty when the bench checks its configs itself):
# which sides can run, peak-RSS measurement (of one process, and summed over
# the ranks of a launch/run.sh job), reading the "train done: ... samples/s"
# lines, and the per-round table with medians and ratios trainer/torch.

# have_trainer=1 when the trainer binary and config exist (else the bench
# runs the PyTorch side only); PyTorch itself is required.
have_trainer=1
if [ ! -x "$TRAINER" ]; then
    echo "$BENCH_NAME: trainer binary '$TRAINER' not found (build it first," \
         "or set TRAINER=...); running the PyTorch side only" >&2
    have_trainer=0
elif [ -n "$CONFIG" ] && [ ! -f "$CONFIG" ]; then
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

# run_side LOG RSSFILE LABEL CMD... : run_measured, then sets rate
# (samples/s of the "train done" line) and mib (the process's peak RSS, MiB):
# "-" when missing or when CMD failed (then LABEL and the log's tail go to
# stderr)
run_side() {
    rs_log=$1 rs_rss=$2 rs_label=$3
    shift 3
    run_measured "$rs_log" "$rs_rss" "$@"
    rs_rc=$?
    [ "$rs_rc" = 0 ] || report_fail "$rs_label" "$rs_rc" "$rs_log"
    rate=$(rate_of "$rs_log"); [ -n "$rate" ] || rate=-
    mib=$(mib_of "$rs_rss"); [ -n "$mib" ] || mib=-
    [ "$rs_rc" = 0 ] || { rate=-; mib=-; }
}

# ---- the trainer under launch/run.sh, peak RSS summed over its ranks

# check_layouts: exits 2 unless every item of $LAYOUTS is RANKSxTHREADS
# (positive numbers, e.g. 1x2)
check_layouts() {
    for l in $LAYOUTS; do
        case "$l" in
            *[!0-9x]* | *x*x* | x* | *x | 0* | *x0*) ;;
            *x*) continue ;;
        esac
        echo "$BENCH_NAME: LAYOUTS wants RANKSxTHREADS items, got '$l'" >&2
        exit 2
    done
}

# make_wrapper PREFIX: writes $BENCH_OUT/rank_rss.sh, which launch/run.sh
# starts (as TRAINER) instead of the trainer, once per rank: it runs the
# trainer and writes the rank's peak RSS (KiB) to PREFIX.<rank>. The prefix
# is written into the script (mpirun need not pass any variable on).
if [ "$have_trainer" = 1 ]; then
    real_trainer=$(cd "$(dirname "$TRAINER")" && pwd)/$(basename "$TRAINER")
fi
make_wrapper() {
    if [ "$RSS_TOOL" = time ]; then
        measure="/usr/bin/time -f %M -o"
    else
        measure="\"$PYTHON\" \"$BENCH_OUT/maxrss.py\""
    fi
    cat > "$BENCH_OUT/rank_rss.sh" <<EOF
#!/bin/sh
rank=\${OMPI_COMM_WORLD_RANK:-\${PMIX_RANK:-0}}
exec $measure "$1.\$rank" "$real_trainer" "\$@"
EOF
    chmod +x "$BENCH_OUT/rank_rss.sh"
}

# MiB summed over the files PREFIX.* (one per rank), or empty
mib_sum() {
    tot=''
    for f in "$1".*; do
        [ -f "$f" ] || continue
        k=$(kib_of "$f")
        [ -n "$k" ] || return 0
        tot=$(( ${tot:-0} + k ))
    done
    [ -n "$tot" ] && awk -v k="$tot" 'BEGIN { printf "%.1f", k / 1024 }'
}

# run_layout LAYOUT LOG RSSPREFIX LABEL ARGS... : launch/run.sh -n RANKS -t
# THREADS ARGS... (ARGS: the config and its overrides) with stdout+stderr to
# LOG and each rank under the wrapper (peaks in RSSPREFIX.<rank>); sets rate
# and mib like run_side, mib being the SUM over the ranks' peaks (they need
# not coincide in time: an upper bound of the job's peak; mpirun/orted are
# not counted; 1 rank: launch/run.sh execs the wrapper directly).
run_layout() {
    rl_ranks=${1%x*} rl_threads=${1#*x} rl_log=$2 rl_rss=$3 rl_label=$4
    shift 4
    rm -f "$rl_rss".*
    make_wrapper "$rl_rss"
    env TRAINER="$BENCH_OUT/rank_rss.sh" \
        launch/run.sh -n "$rl_ranks" -t "$rl_threads" "$@" > "$rl_log" 2>&1
    rl_rc=$?
    [ "$rl_rc" = 0 ] || report_fail "$rl_label" "$rl_rc" "$rl_log"
    rate=$(rate_of "$rl_log"); [ -n "$rate" ] || rate=-
    mib=$(mib_sum "$rl_rss"); [ -n "$mib" ] || mib=-
    [ "$rl_rc" = 0 ] || { rate=-; mib=-; }
}

# ---- the table

# bench_table RESULTS [MEDIANS]: RESULTS has one line per round: the round,
# then (name, samples/s, MiB) per run of the round, tab-separated, "-" for a
# missing figure; name "torch" is the PyTorch run, any other a trainer
# layout. Prints a row per round (all the samples/s, then all the MiB), the
# medians, and for each trainer layout the ratios of its medians to torch's.
# With MEDIANS, also writes there one line per run: name, median samples/s,
# median MiB (one decimal, "-" when no round gave one), tab-separated.
bench_table() {
    awk -F '\t' -v medians="${2:-}" '
function median(v, n,    i, j, t) {
    if (n == 0) return "-"
    for (i = 2; i <= n; i++)               # insertion sort
        for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
function fmt(x, d) { return (x == "-") ? "-" : sprintf("%." d "f", x) }
{
    ncol = (NF - 1) / 3
    if (NR == 1) {
        printf "%-7s", "round"
        for (c = 1; c <= ncol; c++) {
            name[c] = $(3 * c - 1)
            label = (name[c] == "torch") ? "torch" : "trainer " name[c]
            printf " %20s", label " s/s"
        }
        for (c = 1; c <= ncol; c++) {
            label = (name[c] == "torch") ? "torch" : "trainer " name[c]
            printf " %20s", label " MiB"
        }
        printf "\n"
    }
    printf "%-7s", $1
    for (c = 1; c <= ncol; c++) printf " %20s", $(3 * c)
    for (c = 1; c <= ncol; c++) printf " %20s", $(3 * c + 1)
    printf "\n"
    for (c = 1; c <= ncol; c++) {
        if ($(3 * c) != "-")     { nr[c]++; rate[c, nr[c]] = $(3 * c) + 0 }
        if ($(3 * c + 1) != "-") { nm[c]++; mem[c, nm[c]] = $(3 * c + 1) + 0 }
    }
}
END {
    if (NR == 0) exit
    for (c = 1; c <= ncol; c++) {
        delete tmp; for (i = 1; i <= nr[c]; i++) tmp[i] = rate[c, i]; mr[c] = median(tmp, nr[c] + 0)
        delete tmp; for (i = 1; i <= nm[c]; i++) tmp[i] = mem[c, i];  mm[c] = median(tmp, nm[c] + 0)
        if (name[c] == "torch") t = c
    }
    printf "%-7s", "median"
    for (c = 1; c <= ncol; c++) printf " %20s", fmt(mr[c], 1)
    for (c = 1; c <= ncol; c++) printf " %20s", fmt(mm[c], 1)
    printf "\n"
    for (c = 1; c <= ncol; c++) {
        if (medians != "")
            printf "%s\t%s\t%s\n", name[c], fmt(mr[c], 1), fmt(mm[c], 1) > medians
        if (c == t) continue
        printf "ratio trainer %s / torch: samples/s ", name[c]
        if (mr[c] != "-" && mr[t] != "-" && mr[t] > 0) printf "%.2fx", mr[c] / mr[t]; else printf "-"
        printf ", peak RSS "
        if (mm[c] != "-" && mm[t] != "-" && mm[t] > 0) printf "%.2fx\n", mm[c] / mm[t]; else printf "-\n"
    }
}' "$1"
}

# bench_targets TARGET FILE: FILE has one line per variant and side:
# variant, side ("torch" or a trainer layout), median samples/s, ...
# (tab-separated, "-" for a missing figure). Prints, per trainer layout,
# whether it reaches TARGET x torch's samples/s for every variant (the
# unrounded ratio of the medians) and its lowest ratio, to 3 decimals (a
# 1.498 is not a 1.50).
bench_targets() {
    awk -F '\t' -v target="$1" '
{ n++; var[n] = $1; name[n] = $2; sps[n] = $3; if ($2 == "torch") tsps[$1] = $3 }
END {
    for (i = 1; i <= n; i++) {
        l = name[i]; v = var[i]
        if (l == "torch") continue
        if (!(l in seen)) { seen[l] = 1; order[++nl] = l; ok[l] = 1 }
        if (sps[i] == "-" || tsps[v] == "" || tsps[v] == "-" || tsps[v] <= 0) { ok[l] = 0; missing[l] = 1; continue }
        r = sps[i] / tsps[v]
        if (r < target + 0) ok[l] = 0
        if (!(l in lo) || r < lo[l]) { lo[l] = r; lov[l] = v }
    }
    for (k = 1; k <= nl; k++) {
        l = order[k]
        printf "target >= %.2fx torch for every variant: trainer %s %s", target, l, ok[l] ? "met" : "NOT met"
        if (l in lo) printf " (lowest %.3fx, %s)", lo[l], lov[l]
        if (missing[l]) printf " (some figures missing)"
        printf "\n"
    }
}' "$2"
}
