#!/usr/bin/env bash
# launch/test.sh - build and run the whole test suite, as CI does:
# a warnings-as-errors Release build with every test, and an
# AddressSanitizer/UBSan build running the unit, CLI, MPI and plugin-SDK tests
# (not the long accuracy runs), and the fuzzers (tests/fuzz).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
launch/deps.sh test
jobs="$(nproc)"
data/prepare.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTR_WERROR=ON -DBUILD_TESTING=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTR_WERROR=ON -DTR_SANITIZE=ON -DBUILD_TESTING=ON >/dev/null
cmake --build build-asan -j "$jobs"
# Open MPI's own allocations outlive MPI_Finalize: suppressed by library
# and libgomp's thread pool (tests/lsan.supp); a leak in our code is still
# reported. use_tls=0: LSan
# (GCC 12) crashes walking the dynamic TLS of Open MPI's dlopen'ed components.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 \
    LSAN_OPTIONS="suppressions=$repo/tests/lsan.supp:print_suppressions=0:use_tls=0" \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -j "$jobs" -L 'unit|cli|mpi|sdk')
# The libFuzzer harnesses (tests/fuzz/README.md), clang with ASan/UBSan/LSan:
# every committed input replayed, then each reader fuzzed TR_FUZZ_SECONDS.
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTR_WERROR=ON -DTR_FUZZ=ON \
    -DBUILD_TESTING=OFF -DTR_FUZZ_SECONDS="${TR_FUZZ_SECONDS:-60}" >/dev/null
cmake --build build-fuzz -j "$jobs"
(cd build-fuzz && ctest --output-on-failure -j "$jobs" -L fuzz)
echo "all tests passed"
