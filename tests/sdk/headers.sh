#!/usr/bin/env bash
# tests/sdk/headers.sh INCLUDE_DIR - every public header (INCLUDE_DIR/trainer/*.h)
# compiles on its own as C11 and as C++ (11 and 17) with -Wall -Wextra
# -pedantic -Werror, and a C++ file can define a plugin and export scorers
# with TR_PLUGIN_DEFINE / TR_SCORERS_DEFINE (C linkage, visible symbols).
set -euo pipefail
inc="$1"
cc="${CC:-cc}" cxx="${CXX:-c++}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v "$cxx" >/dev/null || fail "no C++ compiler ($cxx)"
warn=(-Wall -Wextra -pedantic -Werror)
n=0
for h in "$inc"/trainer/*.h; do
    name="trainer/$(basename "$h")"
    # twice: the include guards; a declaration: ISO C forbids an empty file (export.h has only macros)
    printf '#include "%s"\n#include "%s"\ntypedef int header_check;\n' "$name" "$name" >"$tmp/one.c"
    "$cc" -std=c11 "${warn[@]}" -I"$inc" -fsyntax-only "$tmp/one.c" || fail "$name as C11"
    cp "$tmp/one.c" "$tmp/one.cpp"
    for std in c++11 c++17; do
        "$cxx" -std=$std "${warn[@]}" -I"$inc" -fsyntax-only "$tmp/one.cpp" || fail "$name as $std"
    done
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no headers in $inc/trainer"

# A plugin and a scorer defined in C++: the entry symbols must have C
# linkage and stay visible under -fvisibility=hidden.
cat >"$tmp/plugin.cpp" <<'CPP'
#include "trainer/trainer.h"

static tr_status create(tr_model **, tr_registry *, const tr_model_info *, tr_error *err)
{
    return tr_error_set(err, TR_ERR_MODEL, "not a real model");
}
static void destroy(tr_model *) {}
static size_t scratch_bytes(const tr_model *, int) { return 0; }
static tr_status train(const tr_model *, const float *, float *, void *, const tr_batch *, double *, tr_error *)
{
    return TR_OK;
}
static tr_status predict(const tr_model *, const float *, void *, const tr_batch *, tr_prediction *, tr_error *)
{
    return TR_OK;
}
static tr_plugin make()
{
    tr_plugin d = tr_plugin();
    d.size = sizeof(tr_plugin);
    d.abi_version = TR_ABI_VERSION;
    d.name = "cxx_plugin";
    d.version = "1.0.0";
    d.create = create;
    d.destroy = destroy;
    d.scratch_bytes = scratch_bytes;
    d.train = train;
    d.predict = predict;
    return d;
}
static const tr_plugin descriptor = make();
TR_PLUGIN_DEFINE(descriptor)

static const tr_scorer scorer = tr_scorer();
TR_SCORERS_DEFINE(&scorer)
CPP
"$cxx" -std=c++11 "${warn[@]}" -I"$inc" -fPIC -fvisibility=hidden -c "$tmp/plugin.cpp" -o "$tmp/plugin.o" \
    || fail "a plugin written in C++"
syms="$(nm -g --defined-only "$tmp/plugin.o")"
echo "$syms" | grep -Eq ' T tr_plugin_entry$' || fail "tr_plugin_entry has no C linkage: $syms"
echo "$syms" | grep -Eq ' T tr_scorers_entry$' || fail "tr_scorers_entry has no C linkage: $syms"
[ "$(nm -g --defined-only "$tmp/plugin.o" | grep -c ' T ')" -eq 2 ] || fail "other symbols are visible: $syms"
readelf -s --wide "$tmp/plugin.o" | awk '$8 ~ /^tr_(plugin|scorers)_entry$/ && $6 != "DEFAULT" { bad = 1 } END { exit bad }' \
    || fail "an entry symbol is hidden"
echo "ok: $n headers compile alone as C11, C++11 and C++17 (-Wall -Wextra -pedantic -Werror); a C++ plugin exports its entries"
