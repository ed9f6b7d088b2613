#!/usr/bin/env bash
# tests/sdk/broken.sh TRAINER TEST_PLUGIN_DIR - broken plugins through the
# CLI (run from the repository root): a plugin built for another ABI, one
# missing a required function, one that is not a plugin, one whose create()
# fails, one whose loss is NaN (also on 2 ranks). Each must end with exactly
# one line on stderr that names the problem, and a non-zero exit status
# (2 when the plugin is refused at load, 1 when it fails while running),
# never a crash; `trainer plugins` lists them without loading them for use.
set -euo pipefail
trainer="$1" plugins="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

config() { # config NAME -> $tmp/NAME/run.yaml, naming plugin NAME
    mkdir -p "$tmp/$1"
    cat >"$tmp/$1/run.yaml" <<YAML
model:
  plugin: $2
data:
  pairs: data/time/time_dataset.json
  vocabs: data/time/time_vocabs.json
  train: 200
  test: 20
  src_len: 41
  tgt_len: 5
train:
  batch: 50
  micro_batch: 25
YAML
}

# expect NAME STATUS PATTERN [ranks]: one line on stderr matching PATTERN
expect() {
    local name="$1" want="$2" pattern="$3" ranks="${4:-1}" rc=0
    if [ "$ranks" -eq 1 ]; then
        "$trainer" "$tmp/$name/run.yaml" run.out="$tmp/$name/out" >"$tmp/$name/stdout" 2>"$tmp/$name/stderr" || rc=$?
    else
        TRAINER="$trainer" launch/run.sh -n "$ranks" -t 1 "$tmp/$name/run.yaml" run.out="$tmp/$name/out" \
            >"$tmp/$name/stdout" 2>"$tmp/$name/stderr" || rc=$?
    fi
    cat "$tmp/$name/stderr"
    [ "$rc" -eq "$want" ] || { cat "$tmp/$name/stdout"; fail "$name: exit status $rc, wanted $want"; }
    [ "$(wc -l <"$tmp/$name/stderr")" -eq 1 ] || fail "$name: wanted exactly one line on stderr"
    grep -Eq "$pattern" "$tmp/$name/stderr" || fail "$name: the line must match: $pattern"
    [ ! -e "$tmp/$name/out/checkpoint.h5" ] || fail "$name: a failed run wrote a checkpoint"
    echo "ok: $name (exit $rc)"
}

# Found in the config's folder.
config abi_future abi_future
cp "$plugins/abi_future.so" "$tmp/abi_future/"
expect abi_future 2 "^trainer: $tmp/abi_future/run.yaml:2:11: $tmp/abi_future/abi_future.so: plugin built for plugin ABI 99, this trainer speaks ABI 1 "

# Found through TRAINER_PLUGIN_PATH.
export TRAINER_PLUGIN_PATH="$plugins"
config missing_train missing_train
expect missing_train 2 "^trainer: .*run.yaml:2:11: $plugins/missing_train.so: plugin descriptor lacks train\(\)$"

config not_a_plugin not_a_plugin
expect not_a_plugin 2 "^trainer: .*: $plugins/not_a_plugin.so: not a trainer plugin \(no symbol 'tr_plugin_entry'"

config create_fails create_fails
expect create_fails 1 "^trainer: plugin 'create_fails' \($plugins/create_fails.so\): create failed: cannot build the model: the flux capacitor is missing$"

config nan_loss nan_loss
expect nan_loss 1 "^trainer: plugin 'nan_loss' returned a non-finite loss \(nan\) at step 1 "
expect nan_loss 1 "^trainer: (rank 0: )?plugin 'nan_loss' returned a non-finite loss \(nan\) at step 1 " 2

# Named by path (the value contains '/').
config by_path "$plugins/missing_train.so"
unset TRAINER_PLUGIN_PATH
expect by_path 2 "lacks train\(\)$"

# Listing shows what loads and, in one line each, what does not.
rc=0
TRAINER_PLUGIN_PATH="$plugins" "$trainer" plugins >"$tmp/list" 2>&1 || rc=$?
cat "$tmp/list"
[ "$rc" -eq 0 ] || fail "trainer plugins: exit $rc"
grep -Eq "^nan_loss +0\.0\.1 +ABI 1 +$plugins/nan_loss\.so$" "$tmp/list" || fail "plugins: nan_loss listed with its version"
grep -Eq "^\(not loadable\) +$plugins/abi_future\.so: plugin built for plugin ABI 99, this trainer speaks ABI 1 " "$tmp/list" \
    || fail "plugins: abi_future refused, naming both versions"
grep -Eq "^\(not loadable\) +$plugins/missing_train\.so: plugin descriptor lacks train\(\)$" "$tmp/list" \
    || fail "plugins: missing_train refused"
grep -Eq "^\(scorers\) +- +ABI 1 +$plugins/uniform_scorer\.so$" "$tmp/list" || fail "plugins: a scorer-only library"
echo "ok: broken plugins"
