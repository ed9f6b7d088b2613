#!/usr/bin/env bash
# launch/deps.sh - install the Debian packages the trainer needs, if missing.
#   launch/deps.sh run    build + run + tools (h5py, matplotlib)
#   launch/deps.sh test   build + test suite only (what CI needs)
set -euo pipefail
profile="${1:-run}"
pkgs=(cmake make gcc pkg-config libc6-dev
      libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
      libyaml-dev libopenblas-dev zlib1g-dev libpng-dev python3
      dataset-fashion-mnist
      curl ca-certificates)   # data/prepare.sh downloads what it has no local copy of
case "$profile" in
    run)  pkgs+=(python3-h5py python3-matplotlib) ;;
    # g++: the headers compile as C++; debootstrap, git: the bare-Debian set-up test;
    # iproute2: the cluster test's network-namespace hosts; slurm-wlm, munge: its one-node Slurm
    # clang, libclang-rt-14-dev (libFuzzer, sanitizers), libomp-14-dev (clang's OpenMP), llvm-14
    # (llvm-symbolizer: file:line in a fuzzer's crash report): tests/fuzz
    test) pkgs+=(libcunit1-dev python3-h5py python3-matplotlib bc g++ debootstrap git iproute2 slurm-wlm munge
                 clang libclang-rt-14-dev libomp-14-dev llvm-14) ;;
    *) echo "deps.sh: unknown profile '$profile' (run|test)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
