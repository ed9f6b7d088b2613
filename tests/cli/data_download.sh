#!/usr/bin/env bash
# tests/cli/data_download.sh - data/prepare.sh without the internet: a copy of
# the script in a fresh repo folder (no ../shared/data beside it) downloads
# every dataset from a local mirror (TRAINER_DATA_URL=http://127.0.0.1:PORT,
# python3 -m http.server), checks it against the sha256 in PROVENANCE.md,
# refuses a corrupted file, fails in one line when offline or interrupted, and
# still prefers $TRAINER_DATA_DIR and <repo>/../shared/data when they exist.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$(cd "$root/../shared/data" 2>/dev/null && pwd)" || { echo "FAIL: no $root/../shared/data to build the mirror from"; exit 1; }
provenance="$shared/PROVENANCE.md"
python=/usr/bin/python3
[ -x "$python" ] || python=python3

tmp="$(mktemp -d)"
server_pid="" hang_pid=""
cleanup() {
    for p in $server_pid $hang_pid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    chmod -R u+w "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
# `cmd | has PATTERN`: grep -q stops reading at the first match and a writer
# still writing (ldd writes line by line) dies of SIGPIPE, which pipefail
# turns into a spurious failure; read everything first
has() { grep -q "$@" <<<"$(cat)"; }
ok() { echo "ok: $*"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# want FILE: the sha256 PROVENANCE.md gives for shared/FILE (the raw text's for nmt).
want() { grep -F "| $1 |" "$provenance" | grep -oE '[0-9a-f]{64}' | head -n 1; }

# target (under data/) -> its name in PROVENANCE.md
declare -A prov=(
    [time/time_dataset.json]=data/dates/time_dataset.json
    [time/time_vocabs.json]=data/dates/time_vocabs.json
    [nmt/en.txt]=data/nmt/small_vocab_en.txt.gz
    [nmt/fr.txt]=data/nmt/small_vocab_fr.txt.gz
    [sentiment/amazon_cells_labelled.txt]=data/sentiment/amazon_cells_labelled.txt
    [sentiment/imdb_labelled.txt]=data/sentiment/imdb_labelled.txt
    [sentiment/yelp_labelled.txt]=data/sentiment/yelp_labelled.txt
    [sentiment/readme.txt]=data/sentiment/readme.txt
)
declare -A sum
for t in "${!prov[@]}"; do
    sum[$t]="$(want "${prov[$t]}")"
    [ -n "${sum[$t]}" ] || fail "no sha256 for ${prov[$t]} in $provenance"
done

# The mirror: <owner>/<repo>/<commit>/<path>, real spaces in the time names.
m="$tmp/mirror"
time_d="$m/Choco31415/Attention_Network_With_Keras/d0de440a3a996ee0520c8852037942b0c4f5996e/data"
nmt_d="$m/udacity/aind2-nlp-capstone/194b4046a8a910addb149fb10db33fab3cfb7862/data"
sent_d="$m/s-hironobu/guide2dl/ecb8a76ab7cea2c86a91798e4b4d008201665f8b/DataSets/sentiment_labelled_sentences"
mkdir -p "$time_d" "$nmt_d" "$sent_d"
cp "$shared/dates/time_dataset.json" "$time_d/Time Dataset.json"
cp "$shared/dates/time_vocabs.json" "$time_d/Time Vocabs.json"
gzip -dc "$shared/nmt/small_vocab_en.txt.gz" >"$nmt_d/small_vocab_en"
gzip -dc "$shared/nmt/small_vocab_fr.txt.gz" >"$nmt_d/small_vocab_fr"
for f in amazon_cells_labelled.txt imdb_labelled.txt yelp_labelled.txt readme.txt; do
    cp "$shared/sentiment/$f" "$sent_d/$f"
done
chmod -R u+w "$m"

# The repo copy: data/prepare.sh and data/gen_dates.py only.
r="$tmp/repo"
mkdir -p "$r/data"
cp "$root/data/prepare.sh" "$root/data/gen_dates.py" "$r/data/"
[ ! -e "$r/../shared/data" ] || fail "$r/../shared/data exists"

# The mirror's server, on a free port it picks itself.
"$python" -u -m http.server --bind 127.0.0.1 --directory "$m" 0 >"$tmp/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 100); do
    port="$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$tmp/server.log")"
    if [ -n "$port" ] && curl -fs -o /dev/null "http://127.0.0.1:$port/"; then break; fi
    port=""
    sleep 0.05
done
[ -n "$port" ] || fail "the mirror's http.server did not start: $(tail -n 3 "$tmp/server.log")"
url="http://127.0.0.1:$port"
gets() { grep -c '"GET ' "$tmp/server.log"; }

# run ARGS...: the repo copy's prepare.sh, TRAINER_DATA_DIR unset, the mirror
# as TRAINER_DATA_URL (or $data_url); sets rc, out, err.
data_url="$url"
run() {
    (cd "$tmp" && env -u TRAINER_DATA_DIR TRAINER_DATA_URL="$data_url" ${data_dir:+TRAINER_DATA_DIR="$data_dir"} \
        "$r/data/prepare.sh" "$@" >"$tmp/out" 2>"$tmp/err")
    rc=$?
    out="$(cat "$tmp/out")"
    err="$(cat "$tmp/err")"
}
data_dir=""
show() { printf '    exit %s\n    stdout: %s\n    stderr: %s\n' "$rc" "$out" "$err"; }
check_sums() {  # TARGET...: each data/TARGET has its PROVENANCE.md sha256
    local t
    for t in "$@"; do
        [ -f "$r/data/$t" ] || fail "$1: data/$t missing"
        [ "$(sha "$r/data/$t")" = "${sum[$t]}" ] || fail "data/$t: sha256 $(sha "$r/data/$t"), PROVENANCE.md says ${sum[$t]}"
    done
}
no_tmp() {
    local left
    left="$(find "$r/data" -name '*.tmp*')"
    [ -z "$left" ] || fail "$1: left behind: $left"
}
one_line() {  # WHAT REGEX: exit 2 and exactly one stderr line matching REGEX
    [ "$rc" -eq 2 ] || { show; fail "$1: exit $rc, wanted 2"; }
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { show; fail "$1: wanted one stderr line"; }
    printf '%s\n' "$err" | grep -Eq -- "$2" || { show; fail "$1: stderr does not match /$2/"; }
}
all=("${!prov[@]}")

# 1. Nothing local: every dataset is downloaded and checked.
g0="$(gets)"
run
[ "$rc" -eq 0 ] && [ -z "$err" ] || { show; fail "download run"; }
[ "$(printf '%s\n' "$out" | wc -l)" -eq 4 ] || { show; fail "download run: wanted one line per dataset"; }
for d in time nmt sentiment; do
    printf '%s\n' "$out" | has "^$d: downloaded data/$d/.* from $url/" || { show; fail "download run: no '$d: downloaded ... from $url/'"; }
done
check_sums "${all[@]}"
no_tmp "download run"
[ -f "$r/data/date/date_dataset.json" ] || fail "download run: the date data was not generated"
[ $(($(gets) - g0)) -eq 8 ] || fail "download run: $(($(gets) - g0)) GETs, wanted 8"
ok "download: 8 files from $url, sha256 as in PROVENANCE.md ($(printf '%s\n' "$out" | grep -c downloaded) datasets 'downloaded')"

# 2. A second run downloads nothing.
g0="$(gets)"
run
[ "$rc" -eq 0 ] && [ -z "$err" ] || { show; fail "second run"; }
[ "$(printf '%s\n' "$out" | grep -c 'up to date (sha256 ok)$')" -eq 3 ] || { show; fail "second run: wanted 3 'up to date'"; }
[ "$(gets)" -eq "$g0" ] || fail "second run: $(($(gets) - g0)) new GETs"
ok "second run: up to date, no GET"

# 3. A corrupted file on the mirror is refused; nothing is written or touched.
flip() { "$python" -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[100] ^= 1; open(p, "wb").write(b)' "$1"; }
rm "$r/data/sentiment/yelp_labelled.txt"
cp -p "$r/data/sentiment/amazon_cells_labelled.txt" "$tmp/amazon.before"
amazon_stat="$(stat -c '%i %y' "$r/data/sentiment/amazon_cells_labelled.txt")"
cp -p "$sent_d/yelp_labelled.txt" "$tmp/yelp.good"
flip "$sent_d/yelp_labelled.txt"
flip "$sent_d/amazon_cells_labelled.txt"   # its target is good: must not be fetched
g0="$(gets)"
run --only sentiment
one_line "corrupted download" "^prepare.sh: $url/s-hironobu/.*/yelp_labelled.txt has the wrong sha256 \(want ${sum[sentiment/yelp_labelled.txt]}\)"
[ ! -e "$r/data/sentiment/yelp_labelled.txt" ] || fail "corrupted download: data/sentiment/yelp_labelled.txt was written"
no_tmp "corrupted download"
cmp -s "$tmp/amazon.before" "$r/data/sentiment/amazon_cells_labelled.txt" &&
    [ "$(stat -c '%i %y' "$r/data/sentiment/amazon_cells_labelled.txt")" = "$amazon_stat" ] ||
    fail "corrupted download: the good data/sentiment/amazon_cells_labelled.txt was touched"
[ $(($(gets) - g0)) -eq 1 ] || fail "corrupted download: $(($(gets) - g0)) GETs, wanted 1 (yelp only)"
ok "corrupted mirror file refused: $err"
cp "$tmp/yelp.good" "$sent_d/yelp_labelled.txt"
run --only sentiment
[ "$rc" -eq 0 ] && check_sums sentiment/yelp_labelled.txt sentiment/amazon_cells_labelled.txt || { show; fail "download after the mirror was repaired"; }
ok "repaired mirror: yelp downloaded again, the good amazon target kept"

# 4. Offline: the server is gone.
kill "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=""
cp "$r/data/nmt/en.txt" "$tmp/en.before"
rm "$r/data/nmt/fr.txt"
run --only nmt
one_line "offline" "^prepare.sh: could not download $url/udacity/aind2-nlp-capstone/194b4046a8a910addb149fb10db33fab3cfb7862/data/small_vocab_fr \(data/nmt/fr.txt.*TRAINER_DATA_DIR/nmt/"
[ ! -e "$r/data/nmt/fr.txt" ] || fail "offline: data/nmt/fr.txt was written"
no_tmp "offline"
cmp -s "$tmp/en.before" "$r/data/nmt/en.txt" || fail "offline: data/nmt/en.txt changed"
ok "offline: $err"

# 5. A signal in the middle of a download: the partial file is removed and
# curl is stopped (a server that sends 64 KiB of a 10 MB body, then stalls).
cat >"$tmp/hang.py" <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.recv(65536)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 65536)
c.settimeout(20)
try:
    while c.recv(65536):
        pass
    print("closed", flush=True)
except OSError:
    print("still open", flush=True)
EOF
"$python" -u "$tmp/hang.py" >"$tmp/hang.log" 2>&1 &
hang_pid=$!
for _ in $(seq 100); do [ -s "$tmp/hang.log" ] && break; sleep 0.05; done
data_url="http://127.0.0.1:$(head -n 1 "$tmp/hang.log")"
(cd "$tmp" && exec env -u TRAINER_DATA_DIR TRAINER_DATA_URL="$data_url" "$r/data/prepare.sh" --only nmt >"$tmp/out" 2>"$tmp/err") &
prep_pid=$!
for _ in $(seq 100); do [ -s "$r/data/nmt/fr.txt.tmp" ] && break; sleep 0.05; done
[ -s "$r/data/nmt/fr.txt.tmp" ] || fail "signal: the download never started"
kill -TERM "$prep_pid"
wait "$prep_pid"
rc=$?
[ "$rc" -eq 143 ] || fail "signal: exit $rc, wanted 143"
no_tmp "signal"
[ ! -e "$r/data/nmt/fr.txt" ] || fail "signal: data/nmt/fr.txt was written"
for _ in $(seq 40); do grep -q closed "$tmp/hang.log" && break; sleep 0.05; done
grep -q closed "$tmp/hang.log" || fail "signal: curl still running after prepare.sh exited"
wait "$hang_pid" 2>/dev/null; hang_pid=""
data_url="$url"
ok "SIGTERM during a download: exit 143, partial data/nmt/fr.txt.tmp removed, curl stopped"

# 6. Local folders win over the download (the mirror is still offline):
# <repo>/../shared/data when it exists, $TRAINER_DATA_DIR over both.
fill() {  # DIR: the TRAINER_DATA_DIR layout, from shared/data
    mkdir -p "$1/dates" "$1/nmt" "$1/sentiment"
    cp "$shared"/dates/time_*.json "$1/dates/"
    cp "$shared"/nmt/small_vocab_*.txt.gz "$1/nmt/"
    cp "$shared"/sentiment/*.txt "$1/sentiment/"
}
fill "$tmp/shared/data"
rm -rf "$r/data/time" "$r/data/nmt" "$r/data/sentiment"
run
[ "$rc" -eq 0 ] && [ -z "$err" ] || { show; fail "<repo>/../shared/data"; }
for l in "time: copied data/time/.* from $tmp/shared/data/dates " "nmt: unpacked data/nmt/.* from $tmp/shared/data/nmt " \
         "sentiment: copied data/sentiment/.* from $tmp/shared/data/sentiment "; do
    printf '%s\n' "$out" | has "^$l" || { show; fail "<repo>/../shared/data: no '$l'"; }
done
check_sums "${all[@]}"
ok "<repo>/../shared/data used when present"

fill "$tmp/local"
rm -rf "$r/data/time" "$r/data/nmt" "$r/data/sentiment"
data_dir="$tmp/local"
run
[ "$rc" -eq 0 ] && [ -z "$err" ] || { show; fail "TRAINER_DATA_DIR"; }
[ "$(printf '%s\n' "$out" | grep -c " from $tmp/local/")" -eq 3 ] || { show; fail "TRAINER_DATA_DIR: wanted 3 lines 'from $tmp/local/'"; }
check_sums "${all[@]}"
ok "TRAINER_DATA_DIR wins over <repo>/../shared/data"

chmod u+w "$tmp/local/sentiment/readme.txt"
flip "$tmp/local/sentiment/readme.txt"
rm "$r/data/sentiment/readme.txt"
run --only sentiment
one_line "bad local copy" "^prepare.sh: $tmp/local/sentiment/readme.txt has the wrong sha256 \(want ${sum[sentiment/readme.txt]}\)"
[ ! -e "$r/data/sentiment/readme.txt" ] || fail "bad local copy: data/sentiment/readme.txt was written"
no_tmp "bad local copy"
ok "bad local copy refused: $err"
