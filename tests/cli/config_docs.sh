#!/usr/bin/env bash
# tests/cli/config_docs.sh CONFIG_KEYS PLUGIN_DIR [PLUGIN.so ...] - every key
# has a row in docs/config.md (run from the repository root): each key of the
# core's schema and each key written in configs/*.yaml and examples/*/*.yaml
# in its section's table (`### \`data\``), and each option of each plugin
# (every plugins/<name>/ as built in PLUGIN_DIR, and the PLUGIN.so given) in
# its plugin's table (`#### \`<name>\``); and no table documents a key that
# does not exist.
set -euo pipefail
keys="$1" plugdir="$2"
shift 2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
doc=docs/config.md

plugins=()
for d in plugins/*/; do
    name=$(basename "$d")
    [ -f "$plugdir/$name.so" ] || { echo "FAIL: plugin $name is not built in $plugdir"; exit 1; }
    plugins+=("$plugdir/$name.so")
done
# the schema as the program knows it: "core SECTION KEY", "plugin NAME KEY"
"$keys" "${plugins[@]}" "$@" >"$tmp/schema"

# the table rows of docs/config.md, as the same lines
awk '/^## /   { sec = ""; plug = "" }
     /^### `/ { sec = $2; gsub(/`/, "", sec); plug = "" }
     /^#### /  { plug = ""; if ($2 ~ /^`/) { plug = $2; gsub(/`/, "", plug) } }
     sec != "" && match($0, /^\| *`[A-Za-z0-9_]+` *\|/) {
         k = substr($0, 1, RLENGTH); gsub(/[| `]/, "", k)
         if (plug != "") print "plugin " plug " " k; else print "core " sec " " k }' "$doc" | sort -u >"$tmp/docs"

# the keys the shipped configs and examples write: "core|plugin ... FILE"
for f in configs/*.yaml examples/*/*.yaml; do
    awk -v file="$f" '
        BEGIN { n = 0 }
        /^[A-Za-z_]+:/ { sec = $1; sub(/:.*/, "", sec); next }
        /^[ \t]+[A-Za-z_]+:/ {
            k = $1; sub(/:.*/, "", k)
            if (sec == "model" && k == "plugin") {
                v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t]*#.*/, "", v); gsub(/["\047]/, "", v)
                sub(/.*\//, "", v); sub(/\.so$/, "", v); plugin = v
            }
            ks[n] = k; ss[n++] = sec }
        END { for (i = 0; i < n; i++)
                  if (ss[i] == "model" && ks[i] != "plugin" && ks[i] != "scorer_plugins")
                      print "plugin " plugin " " ks[i] " " file
                  else
                      print "core " ss[i] " " ks[i] " " file }' "$f"
done >"$tmp/used"

bad=0
while read -r kind owner key; do
    grep -Fxq "$kind $owner $key" "$tmp/docs" && continue
    if [ "$kind" = core ]; then echo "FAIL: $doc: no row for $owner.$key in the \`$owner\` table"
    else echo "FAIL: $doc: no row for model.$key in the table under \"#### \`$owner\`\" (an option of plugin $owner)"; fi
    bad=1
done <"$tmp/schema"
while read -r kind owner key file; do
    grep -Fxq "$kind $owner $key" "$tmp/docs" && continue
    if [ "$kind" = core ]; then echo "FAIL: $file: $owner.$key is not documented in $doc"
    else echo "FAIL: $file: model.$key (plugin $owner) is not documented in $doc"; fi
    bad=1
done <"$tmp/used"
while read -r kind owner key; do
    grep -Fxq "$kind $owner $key" "$tmp/schema" && continue
    echo "FAIL: $doc documents $([ "$kind" = core ] && echo "$owner.$key" || echo "plugin $owner's model.$key"), which does not exist"
    bad=1
done <"$tmp/docs"
[ "$bad" -eq 0 ] || exit 1
echo "ok: docs/config.md documents the $(grep -c '^core' "$tmp/schema") schema keys, the" \
     "$(grep -c '^plugin' "$tmp/schema") options of $(grep '^plugin' "$tmp/schema" | cut -d' ' -f2 | sort -u | paste -sd,)" \
     "and the $(wc -l <"$tmp/used") keys the $(ls configs/*.yaml examples/*/*.yaml | wc -l) configs write"
