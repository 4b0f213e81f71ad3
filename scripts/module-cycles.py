#!/usr/bin/env python3
"""Lists the circles in a crate's module graph: module A imports B when A's files name `crate::B`
(code, not comments or doc links). Each top-level module is one node; so is each file of a
folder module, except that `mod.rs` and its children may refer to each other through `super::`.

    python3 scripts/module-cycles.py crates/sodeep/src     # prints the circles, exits 1 if any
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "crates/sodeep/src"
edges = {}
for dirpath, _, files in os.walk(root):
    for f in files:
        if not f.endswith(".rs"):
            continue
        path = os.path.join(dirpath, f)
        rel = os.path.relpath(path, root)[:-3].replace(os.sep, "::")
        node = rel.replace("::mod", "")
        if node in ("lib", "main"):
            node = "crate"
        top = node.split("::")[0]
        code = []
        for line in open(path, encoding="utf-8"):
            s = line.strip()
            if s.startswith("//"):
                continue
            code.append(line.split("//")[0])
        text = "".join(code)
        # cut the unit tests: they may use anything
        text = text.split("#[cfg(test)]")[0]
        deps = set()
        for m in re.finditer(r"crate::([a-z_]+)(?:::([a-z_]+))?", text):
            a, b = m.group(1), m.group(2)
            deps.add(a)
        deps.discard(top)
        edges.setdefault(top, set()).update(deps)

# strongly connected components (Tarjan)
index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in edges:
            continue
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in list(edges):
    if v not in index:
        visit(v)
for comp in out:
    print("circle:", " <-> ".join(comp))
    for a in comp:
        print(f"  {a} imports", ", ".join(sorted(d for d in edges[a] if d in comp)))
if not out:
    print(f"{root}: no circles among {len([e for e in edges if e != 'crate'])} modules")
sys.exit(1 if out else 0)
