#!/usr/bin/env bash
# launch/setup.sh - from a fresh clone: install what is missing, build into
# build/, prepare the datasets. Then: build/trainer configs/time.yaml
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
launch/deps.sh run
# The tests (and CUnit) are launch/test.sh's business, not a user's first run.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j "$(nproc)"
data/prepare.sh
echo "setup done: try  build/trainer configs/time.yaml"
