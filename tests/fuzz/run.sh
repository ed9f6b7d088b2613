#!/usr/bin/env bash
# tests/fuzz/run.sh FUZZER CORPUS SECONDS - one fuzz_* test: replays every
# committed input of CORPUS (each must pass), then (SECONDS > 0) fuzzes that
# long from them, with the reader's dictionary if it has one
# (tests/fuzz/<reader>.dict). A crash, a leak (tests/fuzz/lsan.supp: HDF5's
# own), a timeout (10 s per input) or more than 2 GB fails it; the input that
# did is kept as <fuzzer's folder>/artifacts/<corpus>-crash-..., the inputs
# it found in <fuzzer's folder>/found/<corpus> (not committed).
set -euo pipefail
fuzzer="$1" corpus="$2" seconds="$3"
name="$(basename "$corpus")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(dirname "$fuzzer")"
mkdir -p "$out/artifacts" "$out/found/$name"
opts=(-timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1
      "-artifact_prefix=$out/artifacts/$name-")
[ -f "$here/${name%_raw}.dict" ] && opts+=("-dict=$here/${name%_raw}.dict")
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
echo "fuzz $name: replaying $(ls "$corpus" | wc -l) committed inputs"
"$fuzzer" "${opts[@]}" -runs=0 "$corpus" 2>&1 | tail -n 30
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "FAIL: fuzz $name: a committed input fails"; exit 1; }
[ "$seconds" -gt 0 ] || { echo "fuzz $name: passed (replay only)"; exit 0; }
echo "fuzz $name: fuzzing for $seconds s"
rc=0
"$fuzzer" "${opts[@]}" -max_total_time="$seconds" "$out/found/$name" "$corpus" >"$out/$name.log" 2>&1 || rc=$?
grep -E "^(stat::|#[0-9]+ *DONE|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" "$out/$name.log" | tail -n 20
[ "$rc" -eq 0 ] || { tail -n 60 "$out/$name.log"; echo "FAIL: fuzz $name: exit $rc (log: $out/$name.log)"; exit 1; }
echo "fuzz $name: passed"
