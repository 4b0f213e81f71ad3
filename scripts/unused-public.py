#!/usr/bin/env python3
"""Lists the library's public functions and methods whose name nothing else in the workspace
mentions: not another source file, test, example, doc page, the Python package, or a doctest
outside the item's own definition. Such a function is dead API: delete it, or use it.

    python3 scripts/unused-public.py        # exit status 1 when one is found

The check is by name, so it is loose (a name used anywhere counts as used), but it never
misses a `pub fn` whose name appears only where it is defined.
"""
import os, re, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
lib = os.path.join(root, 'crates', 'sodeep', 'src')
texts = {}
for base in ['crates', 'docs', 'README.md', 'bench', 'scripts']:
    top = os.path.join(root, base)
    walk = [(os.path.dirname(top), [], [os.path.basename(top)])] if os.path.isfile(top) else os.walk(top)
    for dp, dn, fs in walk:
        dn[:] = [d for d in dn if d not in ('target', '.venv', '__pycache__')]
        for f in fs:
            if f.endswith(('.rs', '.py', '.md', '.sh', '.txt')):
                p = os.path.join(dp, f)
                texts[p] = open(p, encoding='utf-8', errors='replace').read()

unused = []
for p, text in texts.items():
    if not p.startswith(lib):
        continue
    code = text.split('#[cfg(test)]')[0]
    for m in re.finditer(r'^\s*pub fn ([a-z_][a-z0-9_]*)', code, re.M):
        name = m.group(1)
        word = re.compile(r'\b' + name + r'\b')
        here = len(word.findall(text))
        elsewhere = sum(len(word.findall(t)) for q, t in texts.items() if q != p)
        if here <= 1 and elsewhere == 0:
            line = text[:m.start(1)].count('\n') + 1
            unused.append(f'{os.path.relpath(p, root)}:{line}: pub fn {name}')
for u in unused:
    print('unused public function:', u)
if not unused:
    print('every public function of the library is used')
sys.exit(1 if unused else 0)
