#!/usr/bin/env bash
# tests/sdk/install.sh BUILD_DIR - the plugin SDK as a user gets it (run from
# the repository root):
#   1. `cmake --install` the build into a temporary (non-default) prefix: the
#      CLI, libtrainer.so (SOVERSION = plugin ABI), the headers, the CMake
#      package and trainer.pc; the installed headers compile alone.
#   2. build examples/plugin_template out of tree with find_package(trainer)
#      + trainer_add_plugin(), and again with pkg-config and a plain cc line;
#   3. the installed `trainer plugins` lists it with its version, and its own
#      plugin folder (not the build tree's);
#   4. train it a few steps under mpirun -n 2 (launch/run.sh), and the
#      pkg-config build from the config's folder;
#   5. nmt_gru trains with the template's scorer (model.scorer_plugins);
#   6. the plugin installed into the trainer's prefix is found without
#      configuration; the prefix moved elsewhere still works (trainer,
#      plugin folder, pkg-config, find_package).
set -euo pipefail
build="$(cd "$1" && pwd)"
repo="$(pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# `cmd | has PATTERN`: grep -q stops reading at the first match and a writer
# still writing (ldd writes line by line) dies of SIGPIPE, which pipefail
# turns into a spurious failure; read everything first
has() { grep -q "$@" <<<"$(cat)"; }
unset TRAINER_PLUGIN_PATH
export OPENBLAS_NUM_THREADS=1

# ---- 1. install
prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
lib="$(dirname "$(find "$prefix" -name 'libtrainer.so' | head -n 1)")"
[ -d "$lib" ] || fail "no libtrainer.so installed"
libdir="${lib#"$prefix"/}"
abi="$(sed -n 's/^#define TR_ABI_VERSION \([0-9]*\)$/\1/p' "$prefix/include/trainer/plugin.h")"
[ -n "$abi" ] || fail "installed plugin.h has no TR_ABI_VERSION"
[ -x "$prefix/bin/trainer" ] || fail "no bin/trainer"
[ "$(readlink "$lib/libtrainer.so")" = "libtrainer.so.$abi" ] || fail "libtrainer.so -> libtrainer.so.$abi"
readelf -d "$lib/libtrainer.so.$abi" | has "SONAME.*\[libtrainer.so.$abi\]" || fail "SONAME libtrainer.so.$abi"
for h in trainer.h plugin.h params.h layers.h attention.h status.h export.h; do
    [ -f "$prefix/include/trainer/$h" ] || fail "header trainer/$h not installed"
done
for f in trainerConfig.cmake trainerConfigVersion.cmake trainerTargets.cmake trainerPlugin.cmake; do
    [ -f "$lib/cmake/trainer/$f" ] || fail "$libdir/cmake/trainer/$f not installed"
done
[ -f "$lib/pkgconfig/trainer.pc" ] || fail "$libdir/pkgconfig/trainer.pc not installed"
[ -f "$lib/trainer/plugins/time_attn.so" ] || fail "shipped plugins not installed into $libdir/trainer/plugins"
! grep -Eq 'BLAS|MPI|HDF5|OpenMP' "$lib/cmake/trainer/"trainerTargets*.cmake || fail "the package exports private dependencies"
used="$(ldd "$prefix/bin/trainer" | awk '$1 == "libtrainer.so.'"$abi"'" { print $3 }')"
[ -n "$used" ] && [ "$(readlink -f "$used")" = "$(readlink -f "$lib/libtrainer.so.$abi")" ] \
    || fail "bin/trainer does not use the installed libtrainer ($used)"
"$repo/tests/sdk/headers.sh" "$prefix/include"
echo "ok: installed into $prefix ($libdir)"

# ---- 2. out-of-tree builds of the template
cp -r "$repo/examples/plugin_template" "$tmp/src"   # outside the repository
rm -rf "$tmp/src/build"
# a sanitized libtrainer needs its runtime first in an executable: the
# template's test is built with the same flags then
cflags="-Werror"
ldd "$lib/libtrainer.so" | has libasan && cflags="$cflags -fsanitize=address,undefined"
cmake -S "$tmp/src" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$cflags" \
    -DTRAINER_DATA_DIR="$repo/data/time" >"$tmp/cm.log" || { cat "$tmp/cm.log"; fail "find_package(trainer): configure"; }
cmake --build "$tmp/cm" >>"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; fail "find_package(trainer): build"; }
# the template's own unit tests (gradient check, a registry of its own), installed headers and library only
ctest --test-dir "$tmp/cm" --output-on-failure >"$tmp/ctest.log" 2>&1 || { cat "$tmp/ctest.log"; fail "the template's ctest"; }
grep -q "1 tests passed\|100% tests passed" "$tmp/ctest.log" && ! grep -q "Not Run\|Skipped" "$tmp/ctest.log" \
    || { cat "$tmp/ctest.log"; fail "the template's ctest did not run its test"; }
ldd "$tmp/cm/test_luong_attn" | has "$lib/libtrainer.so" || fail "the template's test does not use the installed libtrainer"
echo "ok: the template's unit tests, against the installed SDK"
TRAINER_PLUGIN_PATH="$tmp/cm" "$prefix/bin/trainer" gradcheck "$tmp/src/luong_attn.yaml" model.hidden_units=8 \
    model.attentional_units=8 data.src_len=12 --samples 2 >"$tmp/gc.log" || { cat "$tmp/gc.log"; fail "installed trainer gradcheck"; }
grep -q "^gradcheck $tmp/src/luong_attn.yaml: plugin luong_attn," "$tmp/gc.log" && grep -q "^gradcheck: all 13 tensors ok" "$tmp/gc.log" \
    || { cat "$tmp/gc.log"; fail "installed trainer gradcheck output"; }
echo "ok: the installed trainer gradcheck on the out-of-tree plugin (TRAINER_PLUGIN_PATH)"
# the second example, the seed's plain seq2seq, built out of tree the same way
cp -r "$repo/examples/plain_seq2seq" "$tmp/s2s_src"
cmake -S "$tmp/s2s_src" -B "$tmp/s2s" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="-Werror" >"$tmp/s2s.log" \
    && cmake --build "$tmp/s2s" >>"$tmp/s2s.log" 2>&1 || { cat "$tmp/s2s.log"; fail "examples/plain_seq2seq: build"; }
TRAINER_PLUGIN_PATH="$tmp/s2s" "$prefix/bin/trainer" gradcheck examples/plain_seq2seq/seq2seq.yaml --samples 6 \
    >"$tmp/s2s.gc" || { cat "$tmp/s2s.gc"; fail "examples/plain_seq2seq: gradcheck"; }
echo "ok: examples/plain_seq2seq built out of tree; $(tail -n 1 "$tmp/s2s.gc")"
[ -f "$tmp/cm/luong_attn.so" ] || fail "find_package build made no luong_attn.so"
nm -D --defined-only "$tmp/cm/luong_attn.so" | awk '{print $3}' | sort | tr '\n' ' ' | has -x 'tr_plugin_entry tr_scorers_entry ' \
    || fail "the plugin exports more than its entry points: $(nm -D --defined-only "$tmp/cm/luong_attn.so")"
echo "ok: find_package(trainer) build"

export PKG_CONFIG_PATH="$lib/pkgconfig"
[ "$(pkg-config --modversion trainer)" = "$(sed -n 's/^project(trainer VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")" ] \
    || fail "pkg-config --modversion"
[ "$(pkg-config --variable=abi_version trainer)" = "$abi" ] || fail "pkg-config abi_version"
[ "$(cd "$(pkg-config --variable=plugindir trainer)" && pwd -P)" = "$(cd "$lib/trainer/plugins" && pwd -P)" ] \
    || fail "pkg-config plugindir"
mkdir "$tmp/pc"
cc -std=c11 -O2 -Wall -Wextra -pedantic -Werror -fPIC -shared -fvisibility=hidden \
    "$tmp/src/luong_attn.c" $(pkg-config --cflags --libs trainer) -lm -Wl,--no-undefined -o "$tmp/pc/luong_attn.so" \
    || fail "pkg-config build"
echo "ok: pkg-config build: cc ... \$(pkg-config --cflags --libs trainer) = $(pkg-config --cflags --libs trainer)"
unset PKG_CONFIG_PATH

# ---- 3. listed by the installed trainer
TRAINER_PLUGIN_PATH="$tmp/cm" "$prefix/bin/trainer" plugins >"$tmp/list"
cat "$tmp/list"
grep -Eq "^luong_attn +1\.1\.0 +ABI $abi +$tmp/cm/luong_attn\.so$" "$tmp/list" || fail "trainer plugins: luong_attn with its version"
grep -Eq "^ +attention scorers: cosine$" "$tmp/list" || fail "trainer plugins: the scorer it exports"
grep -Eq "^time_attn +[0-9.]+ +ABI $abi +$lib/trainer/plugins/time_attn\.so$" "$tmp/list" \
    || fail "trainer plugins: the installed trainer must find its own plugin folder"
! grep -q "$build" "$tmp/list" || fail "the installed trainer searches the build tree"

# ---- 4. training under mpirun -n 2, and the pkg-config build
args=(data.train=400 data.test=50 train.epochs=1 train.batch=100 train.micro_batch=25 train.log_every=1
      model.hidden_units=32 model.attentional_units=32)
TRAINER="$prefix/bin/trainer" TRAINER_PLUGIN_PATH="$tmp/cm" launch/run.sh -n 2 -t 1 \
    examples/plugin_template/luong_attn.yaml "${args[@]}" run.out="$tmp/run" >"$tmp/run.log" 2>&1 \
    || { cat "$tmp/run.log"; fail "training under mpirun -n 2"; }
cat "$tmp/run.log"
grep -q "^model: luong_attn 1.1.0 ($tmp/cm/luong_attn.so)" "$tmp/run.log" || fail "model line"
grep -q "^layout: 2 ranks x 1 thread;" "$tmp/run.log" || fail "not 2 ranks"
[ "$(grep -c '^step ' "$tmp/run.log")" -eq 4 ] || fail "wanted 4 steps"
grep -Eq '^eval: exact-match [0-9.]+  token-accuracy [0-9.]+ .*on 50 held-out' "$tmp/run.log" || fail "eval line"
"$prefix/bin/trainer" inspect "$tmp/run/checkpoint.h5" >"$tmp/inspect"
grep -q "^plugin luong_attn 1.1.0, plugin ABI $abi" "$tmp/inspect" || fail "checkpoint: plugin"
grep -Eq "^  attention.scale +\[1\] +1$" "$tmp/inspect" || fail "checkpoint: the scorer's own parameter"
out="$(TRAINER_PLUGIN_PATH="$tmp/cm" "$prefix/bin/trainer" predict examples/plugin_template/luong_attn.yaml \
        "${args[@]}" run.out="$tmp/run" "ten past six pm")"
echo "$out" | grep -Eq '^.{5}$' || fail "predict: '$out'"
echo "ok: trained under mpirun -n 2; predict -> '$out'"

mkdir "$tmp/pcrun"
cp examples/plugin_template/luong_attn.yaml "$tmp/pc/luong_attn.so" "$tmp/pcrun/"
"$prefix/bin/trainer" "$tmp/pcrun/luong_attn.yaml" "${args[@]}" train.epochs=0 data.test=10 run.out="$tmp/pcrun/out" \
    >"$tmp/pcrun.log" 2>&1 || { cat "$tmp/pcrun.log"; fail "the pkg-config build from the config's folder"; }
grep -q "^model: luong_attn 1.1.0 ($tmp/pcrun/luong_attn.so)" "$tmp/pcrun.log" || { cat "$tmp/pcrun.log"; fail "pkg-config build: model line"; }
echo "ok: the pkg-config build loads from the config's folder"

# ---- 5. another seq2seq plugin names the template's scorer
"$prefix/bin/trainer" configs/nmt.yaml model.scorer_plugins="$tmp/cm/luong_attn.so" model.attention=cosine \
    model.hidden_units=16 data.train=200 data.test=20 train.epochs=1 train.batch=50 train.micro_batch=25 \
    train.bleu_samples=10 train.attention_samples=2 run.out="$tmp/nmt" >"$tmp/nmt.log" 2>&1 \
    || { cat "$tmp/nmt.log"; fail "nmt_gru with the cosine scorer"; }
grep -q "^model: nmt_gru " "$tmp/nmt.log" && grep -q "^eval: " "$tmp/nmt.log" || { cat "$tmp/nmt.log"; fail "nmt_gru + cosine"; }
"$prefix/bin/trainer" inspect "$tmp/nmt/checkpoint.h5" | grep -Eq "^  attention.scale +\[1\] +1$" \
    || fail "nmt_gru's checkpoint lacks the scorer's parameter"
echo "ok: nmt_gru trained with attention: cosine from luong_attn.so"

# ---- 6. the main job as users type it: `mpirun -n 4 trainer configs/nmt.yaml`
# with the installed trainer on PATH, and the installed launcher trainer-run.
nmt=(model.hidden_units=16 data.train=256 data.test=20 train.epochs=1 train.batch=64 train.micro_batch=16
     train.log_every=2 train.bleu_samples=10 train.attention_samples=2)
[ -x "$prefix/bin/trainer-run" ] || fail "no bin/trainer-run installed"
asroot=()
[ "$(id -u)" -eq 0 ] && asroot=(--allow-run-as-root)
if [ "$(nproc)" -lt 4 ]; then  # what the README tells users to add, and why
    rc=0
    env -u OMPI_MCA_rmaps_base_oversubscribe PATH="$prefix/bin:$PATH" mpirun "${asroot[@]}" -n 4 trainer configs/nmt.yaml \
        "${nmt[@]}" run.out="$tmp/mpirun0" >"$tmp/mpirun0.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] && grep -q "not enough slots" "$tmp/mpirun0.log" \
        || { cat "$tmp/mpirun0.log"; fail "mpirun -n 4 on $(nproc) cores without --oversubscribe: expected Open MPI's refusal"; }
    echo "ok: mpirun -n 4 on $(nproc) cores without --oversubscribe: Open MPI's 'not enough slots' (the README says what to add)"
fi
(cd "$tmp" && PATH="$prefix/bin:$PATH" command -v trainer) | has -x "$prefix/bin/trainer" || fail "trainer on PATH"
PATH="$prefix/bin:$PATH" mpirun "${asroot[@]}" --oversubscribe -n 4 -x OMP_NUM_THREADS=1 trainer configs/nmt.yaml \
    "${nmt[@]}" run.out="$tmp/mpirun" >"$tmp/mpirun.log" 2>&1 || { cat "$tmp/mpirun.log"; fail "mpirun --oversubscribe -n 4 trainer"; }
grep -q "^model: nmt_gru .*($lib/trainer/plugins/nmt_gru.so)" "$tmp/mpirun.log" || { cat "$tmp/mpirun.log"; fail "mpirun: not the installed plugin"; }
grep -q "^layout: 4 ranks x 1 thread;" "$tmp/mpirun.log" || fail "mpirun: not 4 ranks x 1 thread"
grep -Eq "^eval: .*bleu-4 [0-9.]+" "$tmp/mpirun.log" || fail "mpirun: no BLEU"
echo "ok: mpirun --oversubscribe -n 4 -x OMP_NUM_THREADS=1 trainer configs/nmt.yaml (installed, on PATH)"
# trainer-run from another folder on PATH, with no checkout's build/ beside it.
PATH="$prefix/bin:$PATH" env -u TRAINER trainer-run -n 4 configs/nmt.yaml "${nmt[@]}" run.out="$tmp/run4" \
    >"$tmp/run4.log" 2>&1 || { cat "$tmp/run4.log"; fail "trainer-run -n 4"; }
grep -q "^model: nmt_gru .*($lib/trainer/plugins/nmt_gru.so)" "$tmp/run4.log" || { cat "$tmp/run4.log"; fail "trainer-run: not the installed trainer"; }
grep -q "^layout: 4 ranks x 1 thread;" "$tmp/run4.log" || fail "trainer-run: not 4 ranks x 1 thread"
h5diff -q "$tmp/mpirun/checkpoint.h5" "$tmp/run4/checkpoint.h5" /params /params \
    || fail "trainer-run and plain mpirun trained different parameters"
PATH="$prefix/bin:$PATH" trainer-run --help | has "^Installed with the trainer as \`trainer-run\`" || fail "trainer-run --help"
echo "ok: trainer-run -n 4 configs/nmt.yaml finds the installed trainer"

# ---- 7. installed into the trainer's prefix; the prefix moved
cmake --install "$tmp/cm" --prefix "$prefix" >/dev/null
"$prefix/bin/trainer" plugins | grep -Eq "^luong_attn +1\.1\.0 +ABI $abi +$lib/trainer/plugins/luong_attn\.so$" \
    || fail "a plugin installed into the trainer's prefix is not found"
mv "$prefix" "$tmp/moved"
mlib="$tmp/moved/$libdir"
"$tmp/moved/bin/trainer" plugins >"$tmp/list2"
grep -Eq "^luong_attn +1\.1\.0 +ABI $abi +$mlib/trainer/plugins/luong_attn\.so$" "$tmp/list2" \
    || { cat "$tmp/list2"; fail "moved prefix: plugin folder"; }
PKG_CONFIG_PATH="$mlib/pkgconfig" pkg-config --cflags trainer | has -- "-I$tmp/moved/" || fail "moved prefix: pkg-config"
cmake -S "$tmp/src" -B "$tmp/cm2" -DCMAKE_PREFIX_PATH="$tmp/moved" >"$tmp/cm2.log" && cmake --build "$tmp/cm2" >>"$tmp/cm2.log" 2>&1 \
    || { cat "$tmp/cm2.log"; fail "moved prefix: find_package"; }
grep -q "$tmp/moved/$libdir/libtrainer.so" "$tmp/cm2/CMakeCache.txt" "$tmp/cm2/CMakeFiles/luong_attn.dir/link.txt" 2>/dev/null \
    || fail "moved prefix: find_package found another trainer"
echo "ok: relocatable prefix"
echo "ok: sdk install"
