#!/usr/bin/env python3
"""The module graph of src/: which module includes which module's header.

A module is a name: src/NAME.c and src/NAME.h. Module A depends on module B
when src/A.c or src/A.h has `#include "B.h"` (eve.h, the public API, is left
out). Prints each module with what it depends on, lowest first, then the
strongly connected components of more than one module (the include cycles).

    python3 tools/modgraph.py [SRC_DIR]
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
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
