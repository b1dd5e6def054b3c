#!/usr/bin/env python3
"""The module graph of src/: which module includes which module's header.

A module is a name: src/NAME.c and src/NAME.h. Module A depends on module B
when src/A.c or src/A.h has `#include "B.h"` (eve.h, the public API, is left
out). Prints each module with what it depends on, lowest first, then the
strongly connected components of more than one module (the include cycles).

    python3 tools/modgraph.py [SRC_DIR]
    python3 tools/modgraph.py --symbols OBJ_DIR

With --symbols, the edges are calls and data references instead: module A
depends on B when A's object file (OBJ_DIR/A.c.o, e.g.
build/CMakeFiles/eve_objs.dir/src) uses a symbol B's defines (`nm`).  That
also shows what the headers hide: calls through eve.h, and functions a
lower header declares for a higher module to define.
"""
import os
import re
import sys

def include_graph(src):
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)\.h"', re.M)
    mods = sorted({os.path.splitext(f)[0] for f in os.listdir(src) if f.endswith((".c", ".h"))})
    deps = {m: set() for m in mods}
    for m in mods:
        for ext in (".c", ".h"):
            p = os.path.join(src, m + ext)
            if os.path.exists(p):
                with open(p, encoding="utf-8") as f:
                    for d in inc.findall(f.read()):
                        if d != m and d in deps:
                            deps[m].add(d)
    return mods, deps


def symbol_graph(objdir):
    import subprocess
    defined, used = {}, {}
    for f in sorted(os.listdir(objdir)):
        if not f.endswith(".c.o"):
            continue
        m = f[:-4]
        used[m] = set()
        out = subprocess.run(["nm", os.path.join(objdir, f)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBR":
                defined[p[2]] = m
            elif len(p) == 2 and p[0] == "U":
                used[m].add(p[1])
    mods = sorted(used)
    deps = {m: {defined[u] for u in used[m] if u in defined and defined[u] != m} for m in mods}
    return mods, deps


if len(sys.argv) > 2 and sys.argv[1] == "--symbols":
    mods, deps = symbol_graph(sys.argv[2])
else:
    mods, deps = include_graph(sys.argv[1] if len(sys.argv) > 1
                               else os.path.join(os.path.dirname(__file__), "..", "src"))

# Tarjan's strongly connected components, iteratively.
index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]
for root in mods:
    if root in index:
        continue
    work = [(root, iter(sorted(deps[root])))]
    index[root] = low[root] = n[0]; n[0] += 1; stack.append(root); on.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is None:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                c = []
                while True:
                    x = stack.pop(); on.discard(x); c.append(x)
                    if x == v:
                        break
                comps.append(sorted(c))
        elif w not in index:
            index[w] = low[w] = n[0]; n[0] += 1; stack.append(w); on.add(w)
            work.append((w, iter(sorted(deps[w]))))
        elif w in on:
            low[v] = min(low[v], index[w])

# Tarjan emits components dependencies first: that is lowest to highest.
for c in comps:
    for m in c:
        print(f"{m:8} -> {', '.join(sorted(deps[m])) or '(nothing)'}")
cycles = [c for c in comps if len(c) > 1]
print()
print(f"{len(mods)} modules; largest cycle: {max((len(c) for c in cycles), default=1)} module(s)")
for c in cycles:
    print("cycle:", " ".join(c))
