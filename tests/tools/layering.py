#!/usr/bin/python3
"""The core's folders are layers (core/README.md): check that they stay so.

usage: layering.py CORE_SOURCE_DIR OBJECT_DIR

CORE_SOURCE_DIR is core/; OBJECT_DIR holds the compiled core objects in the
same folders (<build>/core/CMakeFiles/trainer_objects.dir). A unit is a
source file with its header (runtime/session.c + runtime/session.h). Unit A
depends on unit B when A includes B's header, or A's object uses a symbol
B's object defines (nm). Fails, listing every case, when
  - a unit depends on one in a higher folder (the order in FOLDERS), or
  - units depend on each other, directly or around a cycle, or
  - a folder holds more than 20 files, or has no README.md.
"""
import os
import re
import subprocess
import sys

FOLDERS = ["base", "config", "layers", "data", "runtime", "programs"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([a-z_0-9]+)\.h"', re.M)


def units(core):
    out = {}
    for d in FOLDERS:
        for f in sorted(os.listdir(os.path.join(core, d))):
            if f.endswith((".c", ".h")):
                out.setdefault("%s/%s" % (d, f[:-2]), []).append(os.path.join(core, d, f))
    return out


def symbols(obj):
    r = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in r.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRC":
            defined.add(parts[2])
    return defined, used


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n")[2])
        return 2
    core, objdir = sys.argv[1], sys.argv[2]
    u = units(core)
    deps = {k: set() for k in u}
    why = {}
    for k, files in u.items():
        for f in files:
            for d, name in INCLUDE.findall(open(f).read()):
                dep = "%s/%s" % (d, name)
                if dep in u and dep != k:
                    deps[k].add(dep)
                    why.setdefault((k, dep), "includes %s.h" % dep)
    owner, used = {}, {}
    for k in u:
        obj = os.path.join(objdir, k + ".c.o")
        if os.path.exists(obj):
            defined, used[k] = symbols(obj)
            for s in defined:
                owner[s] = k
    for k, syms in used.items():
        for s in sorted(syms):
            dep = owner.get(s)
            if dep and dep != k:
                deps[k].add(dep)
                why.setdefault((k, dep), "calls %s" % s)
    bad = []
    rank = {d: i for i, d in enumerate(FOLDERS)}
    for k in sorted(deps):
        for dep in sorted(deps[k]):
            if rank[dep.split("/")[0]] > rank[k.split("/")[0]]:
                bad.append("%s depends on %s, a higher folder (%s)" % (k, dep, why[(k, dep)]))
    # cycles: Tarjan's strongly connected components
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    for comp in sccs:
        edges = ["%s -> %s (%s)" % (a, b, why[(a, b)]) for a in comp for b in sorted(deps[a]) if b in comp]
        bad.append("units depend on each other: %s" % "; ".join(edges))
    for d in FOLDERS:
        files = [f for f in os.listdir(os.path.join(core, d)) if f.endswith((".c", ".h"))]
        if len(files) > 20:
            bad.append("core/%s holds %d files (at most 20)" % (d, len(files)))
        if not os.path.exists(os.path.join(core, d, "README.md")):
            bad.append("core/%s has no README.md" % d)
    for b in bad:
        print("FAIL: " + b)
    if not bad:
        print("ok: %d units in %s: every dependency points to the same or a lower folder, none is mutual"
              % (len(u), ", ".join(FOLDERS)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
