#!/usr/bin/env bash
# tests/setup/bare_debian.sh [--suite] [--keep] - the README's commands on a
# bare Debian 12, as a new user meets them (run from the repository root).
#
#   1. debootstrap --variant=minbase bookworm into a temp folder, from the
#      mirror this machine's own apt sources name;
#   2. a fresh `git clone` of this checkout's HEAD into it, and the reference
#      data beside it where data/prepare.sh looks (../shared/data);
#   3. inside it (chroot, in private mount and PID namespaces so that every
#      mount and process ends with the test; /proc, /sys read-only, a devpts
#      and a /dev/shm as a booted machine has them), exactly the README's
#      first command, then `trainer predict` of the model it trained.
#   --suite: then the README's second command too (the whole test suite; long).
#   --keep: leave the root in place (its path is printed) for a look inside.
#
# Needs root (debootstrap, chroot, namespaces): otherwise it says
# "skipped: needs root" and exits 77, which ctest counts as skipped.
set -euo pipefail
repo="$(pwd)"
suite=0 keep=0
for a in "$@"; do
    case "$a" in
        --suite) suite=1 ;;
        --keep) keep=1 ;;
        *) echo "bare_debian.sh: unknown argument '$a' (--suite, --keep)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root"; exit 77; fi
if [ -n "${TR_BARE_ROOT:-}" ]; then echo "skipped: already inside a bare-Debian test root"; exit 77; fi
fail() { echo "FAIL: $*"; exit 1; }
for c in debootstrap unshare chroot git; do
    command -v "$c" >/dev/null || fail "$c not found (launch/deps.sh test installs it)"
done
# Root without the right to make namespaces (some containers): as good as no root.
if ! why="$(unshare --mount --propagation private --pid --fork true 2>&1)"; then
    echo "skipped: needs root that may create mount and PID namespaces (unshare: $why)"
    exit 77
fi

# The first Debian mirror this machine's apt sources name for bookworm
# (deb822 .sources paragraphs, or one-line sources.list entries).
mirror="$(
    for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && { cat "$f"; echo; }; done |
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uri = ""; ok = 0
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
                   if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
               }
               if (ok && uri != "") { print uri; exit } }'
)"
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)"
fi
[ -n "$mirror" ] || fail "no bookworm mirror in /etc/apt/sources.list{,.d/*.sources}"

# The README's two commands: the first two lines of its first sh block.
cmds="$(awk '/^```sh$/ { on = 1; next } on && /^```/ { exit } on' README.md | sed 's/[[:space:]]*#.*$//')"
first="$(sed -n 1p <<<"$cmds")" second="$(sed -n 2p <<<"$cmds")"
[ -n "$first" ] && [ -n "$second" ] || fail "README.md: no two commands in its first sh block"

data="${TRAINER_DATA_DIR:-$repo/../shared/data}"
root="$(mktemp -d "${TMPDIR:-/tmp}/trainer-bare.XXXXXX")"
cleanup() {
    # The namespaces took every mount and process with them; --one-file-system
    # would stop at one that had not gone.
    if [ "$keep" -eq 1 ]; then echo "kept: $root"; else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
elapsed() { echo $(( $(date +%s) - $1 )); }

t0=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -n 20 "$root.debootstrap.log"; rm -f "$root.debootstrap.log"; fail "debootstrap from $mirror"; }
rm -f "$root.debootstrap.log"
echo "ok: debootstrap --variant=minbase bookworm from $mirror in $(elapsed "$t0") s ($(du -sm "$root" | cut -f1) MB)"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/src"
git clone -q "$repo" "$root/src/trainer" || fail "git clone $repo"
if [ -d "$data" ]; then
    mkdir -p "$root/src/shared" && cp -r "$data" "$root/src/shared/data"
    echo "ok: fresh clone of $(git -C "$repo" rev-parse --short HEAD) in /src/trainer, reference data in /src/shared/data"
else
    echo "ok: fresh clone of $(git -C "$repo" rev-parse --short HEAD) in /src/trainer; no reference data here: data/prepare.sh downloads it"
fi

# inside CMD: a login-like shell in the clone, with nothing of this
# machine's environment but what a new user's root shell has.
inside() {
    unshare --mount --propagation private --pid --fork /bin/sh -c '
        set -e
        mount -t proc proc "$0/proc"
        mount -t sysfs -o ro sysfs "$0/sys"   # hwloc (Open MPI) reads the CPU topology there
        mount -t devpts -o newinstance,ptmxmode=0666 devpts "$0/dev/pts"
        mount -t tmpfs -o mode=1777 tmpfs "$0/dev/shm"   # Open MPI shared memory
        exec chroot "$0" /usr/bin/env -i HOME=/root TERM=dumb TR_BARE_ROOT=1 \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            /bin/bash -c "cd /src/trainer && $1"' "$root" "$1"
}

log="$(mktemp)"
trap 'rm -f "$log"; cleanup' EXIT
t0=$(date +%s)
echo "README first command: $first"
inside "$first" >"$log" 2>&1 || { tail -n 40 "$log"; fail "the README's first command in a bare Debian 12 root"; }
t_first=$(elapsed "$t0")
grep -m1 '^deps: installing' "$log" | cut -c1-300
grep -E '^eval: .*bleu-4 [0-9.]+' "$log" || { tail -n 40 "$log"; fail "the first command printed no held-out BLEU"; }
grep -Eq '^step .* ETA ' "$log" || fail "the first command printed no progress with ETA"
echo "ok: the README's first command in $t_first s"

sentence="new jersey is sometimes quiet during autumn ."
out="$(inside "build/trainer predict configs/nmt.yaml \"$sentence\"" 2>&1)" || { echo "$out"; fail "trainer predict"; }
echo "predict '$sentence' -> '$out'"
grep -q "jersey" <<<"$out" || fail "the prediction does not look like a translation: '$out'"
echo "ok: trainer predict of the trained model"

if [ "$suite" -eq 1 ]; then
    t0=$(date +%s)
    echo "README second command: $second"
    inside "$second" >"$log" 2>&1 || { tail -n 60 "$log"; fail "the README's second command in the bare root"; }
    grep -E '^deps: installing|tests passed|tests failed|Total Test time' "$log" | cut -c1-300
    echo "ok: the README's second command in $(elapsed "$t0") s"
fi
echo "ok: bare Debian 12"
